import { gzipSync } from 'node:zlib';

/**
 * Builds what CloudWatch Logs puts into a Kinesis stream: gzip'd JSON subscription payloads, one
 * log stream per payload, with `extractedFields` as AWS's documented space-delimited filter pattern
 * for flow logs makes them.
 */

/** AWS's documented pattern: `[version, accountid, interfaceid, srcaddr, ... , action, logstatus]`. */
export const DEFAULT_FILTER_FIELDS = ['version', 'accountid', 'interfaceid', 'srcaddr', 'dstaddr', 'srcport', 'dstport', 'protocol', 'packets', 'bytes', 'start', 'end', 'action', 'logstatus'] as const;

export interface PayloadOptions {
  owner?: string;
  logGroup?: string;
  logStream: string;
  filterName?: string;
  /** Field names of a space-delimited filter pattern; `null` for an empty pattern (no extractedFields). */
  filterFields?: readonly string[] | null;
  /** Event timestamps, ms; default: each line's `end` field × 1000, or now. */
  timestampMs?: (line: string, i: number) => number;
}

let idCounter = 0n;

/** A CloudWatch event id: 56 decimal digits, unique and increasing within the process. */
function eventId(ts: number): string {
  idCounter++;
  return (BigInt(ts) * 10n ** 40n + idCounter).toString().padStart(56, '0').slice(-56);
}

export function subscriptionPayloadJson(lines: readonly string[], o: PayloadOptions): string {
  const fields = o.filterFields === undefined ? DEFAULT_FILTER_FIELDS : o.filterFields;
  const events = lines.map((message, i) => {
    const ts = o.timestampMs ? o.timestampMs(message, i) : defaultTimestamp(message);
    const event: Record<string, unknown> = { id: eventId(ts), timestamp: ts, message };
    if (fields !== null) {
      const tokens = message.split(' ');
      const extracted: Record<string, string> = {};
      fields.forEach((f, k) => (extracted[f] = tokens[k] ?? ''));
      event.extractedFields = extracted;
    }
    return event;
  });
  return JSON.stringify({
    messageType: 'DATA_MESSAGE',
    owner: o.owner ?? '123456789012',
    logGroup: o.logGroup ?? 'vpc-flow-logs',
    logStream: o.logStream,
    subscriptionFilters: [o.filterName ?? 'flowcut'],
    logEvents: events,
  });
}

export function subscriptionPayload(lines: readonly string[], o: PayloadOptions): Buffer {
  return gzipSync(subscriptionPayloadJson(lines, o));
}

/** The health-check payload CloudWatch Logs sends when a subscription is created. */
export function controlMessagePayload(): Buffer {
  return gzipSync(
    JSON.stringify({
      messageType: 'CONTROL_MESSAGE',
      owner: 'CloudwatchLogs',
      logGroup: '',
      logStream: '',
      subscriptionFilters: [],
      logEvents: [{ id: '', timestamp: Date.now(), message: 'CWL CONTROL MESSAGE: Checking health of destination Kinesis stream.' }],
    }),
  );
}

function defaultTimestamp(line: string): number {
  const tokens = line.split(' ');
  const end = Number(tokens[11]);
  return Number.isSafeInteger(end) && end > 0 ? end * 1000 : Date.now();
}

