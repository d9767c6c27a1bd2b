import { parquetMetadata } from 'hyparquet';
import { loadZstd, zstdCompress } from './zstd.js';
import { mkdtempSync, readFileSync, writeFileSync, copyFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { describe, expect, it } from 'vitest';
import { CollectingSink, SHARED } from '../../test/support/collect.js';
import { craftParquet, dictionaryPage, int32Page, PHYSICAL, runLengthPage } from '../../test/support/crafted-parquet.js';
import { FlowFormat } from '../flowlog/format.js';
import { controlMessagePayload, subscriptionPayload, subscriptionPayloadJson } from '../sim/cloudwatch.js';
import { MAX_LISTED_REJECTS } from '../flowlog/parser.js';
import { listLocalObjects } from '../sources/files.js';
import type { KinesisRecordIn, ObjectIn } from '../sources/types.js';
import { FlowDecoder, type DecoderOptions } from './decoder.js';

const LINES = [
  '2 123456789012 eni-0a1 10.0.1.10 203.0.113.9 443 50123 6 12 9000 1767225600 1767225660 ACCEPT OK',
  '2 123456789012 eni-0a1 203.0.113.9 10.0.1.10 50123 443 6 10 1200 1767225600 1767225660 REJECT OK',
  '2 123456789012 eni-0a1 - - - - - - - 1767225600 1767225660 - NODATA',
];

function kinesisRecord(data: Buffer, seq = '49590338271490256608559692538361571095921575989136588898'): KinesisRecordIn {
  return { streamName: 'flows', shardId: 'shardId-000000000001', sequenceNumber: seq, partitionKey: 'pk', arrivalMs: 1767225700000, data };
}

function decoder(options: DecoderOptions = {}) {
  const sink = new CollectingSink();
  return { sink, dec: new FlowDecoder(sink, options) };
}

async function decodeFile(path: string, options: DecoderOptions = {}) {
  const { sink, dec } = decoder(options);
  for await (const obj of listLocalObjects(path)) await dec.decodeObject(obj);
  dec.flush();
  return { sink, dec };
}

function memoryObject(location: string, chunks: Buffer[]): ObjectIn {
  return { location, key: location, open: async function* () { yield* chunks; } };
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'flowcut-test-'));
}

describe('Kinesis records holding CloudWatch Logs subscription payloads', () => {
  it('decodes DATA_MESSAGE events with extractedFields, keeping log group, stream and event time', () => {
    const { sink, dec } = decoder();
    dec.decodeKinesisRecord(kinesisRecord(subscriptionPayload(LINES, { logGroup: '/vpc/flows', logStream: 'eni-0a1-all', timestampMs: (_l, i) => 1767225660000 + i })));
    dec.flush();
    expect(sink.rejects).toEqual([]);
    expect(sink.records).toEqual([
      expect.objectContaining({ srcaddr: '10.0.1.10', dstport: 50123, bytes: 9000, action: 'ACCEPT', log_group: '/vpc/flows', log_stream: 'eni-0a1-all' }),
      expect.objectContaining({ action: 'REJECT', log_group: '/vpc/flows' }),
      expect.objectContaining({ srcaddr: null, log_status: 'NODATA' }),
    ]);
    const batch = sink.batches[0]!;
    expect(Array.from(batch.eventTimeMs.subarray(0, 3))).toEqual([1767225660000, 1767225660001, 1767225660002]);
    expect(batch.origins[0]).toMatchObject({ kind: 'kinesis', shardId: 'shardId-000000000001', owner: '123456789012' });
    expect(Array.from(batch.subIndex.subarray(0, 3))).toEqual([1, 2, 3]);
  });

  it('decodes payloads of an empty filter pattern (no extractedFields)', () => {
    const { sink, dec } = decoder();
    dec.decodeKinesisRecord(kinesisRecord(subscriptionPayload(LINES, { logStream: 's', filterFields: null })));
    dec.flush();
    expect(sink.count).toBe(3);
    expect(sink.rejects).toEqual([]);
  });

  it('skips and counts CONTROL_MESSAGE payloads', () => {
    const { sink, dec } = decoder();
    dec.decodeKinesisRecord(kinesisRecord(controlMessagePayload()));
    dec.flush();
    expect(sink.count).toBe(0);
    expect(sink.rejects).toEqual([]);
    expect(dec.stats.controlMessages).toBe(1);
  });

  it('rejects a bad event with its index, keeps the good ones, and keeps the whole record with the first reject', () => {
    const { sink, dec } = decoder();
    const data = subscriptionPayload([LINES[0]!, 'not a flow record', LINES[1]!, 'nor this'], { logStream: 's' });
    dec.decodeKinesisRecord(kinesisRecord(data, '42'));
    dec.flush();
    expect(sink.count).toBe(2);
    expect(sink.rejects).toEqual([
      { location: 'kinesis://flows/shardId-000000000001/42', line: 2, reason: expect.any(String), text: 'not a flow record', data: data.toString('base64') },
      { location: 'kinesis://flows/shardId-000000000001/42', line: 4, reason: expect.any(String), text: 'nor this' },
    ]);
  });

  it('keeps a payload once when a bad line inside it comes before the error that ends it', () => {
    const { sink, dec } = decoder();
    const data = gzipSync(subscriptionPayloadJson([LINES[0]!, 'not a flow record'], { logStream: 's' }).slice(0, -10));
    dec.decodeKinesisRecord(kinesisRecord(data, '46'));
    dec.flush();
    expect(sink.rejects.map((r) => [r.line, r.data === undefined ? 'no data' : Buffer.from(r.data, 'base64').equals(data)])).toEqual([[2, true], [undefined, 'no data']]);
    expect(sink.rejects[1]!.reason).toMatch(/\(the payload is kept with an earlier reject of kinesis:\/\/flows\/shardId-000000000001\/46\)$/);
  });

  it('rejects a DATA_MESSAGE without logEvents instead of reading it as empty', () => {
    const { sink, dec } = decoder();
    const data = gzipSync(JSON.stringify({ messageType: 'DATA_MESSAGE', owner: '1', logGroup: 'g', logStream: 's' }));
    dec.decodeKinesisRecord(kinesisRecord(data, '45'));
    dec.flush();
    expect(sink.rejects).toEqual([expect.objectContaining({ reason: 'a DATA_MESSAGE subscription payload without logEvents', data: data.toString('base64') })]);
  });

  it('keeps a record of plain text that is not flow logs whole, once, beside its line rejects', () => {
    const { sink, dec } = decoder();
    const data = Buffer.from('hello\nworld\n');
    dec.decodeKinesisRecord(kinesisRecord(data, '43'));
    dec.flush();
    expect(sink.rejects.map((r) => [r.line, r.data])).toEqual([[1, data.toString('base64')], [2, undefined]]);
  });

  it('rejects only the broken one of concatenated payloads, with its index, and not the records before it', () => {
    const { sink, dec } = decoder();
    const good = subscriptionPayloadJson(LINES.slice(0, 2), { logStream: 's' });
    const broken = '{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","subscriptionFilters":["f"],"logEvents":[{"id":"1","timestamp":1,"message":"';
    dec.decodeKinesisRecord(kinesisRecord(gzipSync(good + good + broken), '44'));
    dec.flush();
    expect(sink.count).toBe(4);
    expect(sink.rejects).toHaveLength(1);
    expect(sink.rejects[0]).toMatchObject({ location: 'kinesis://flows/shardId-000000000001/44#2', reason: expect.stringMatching(/payload 2, .*the 2 before it were decoded/) });
    expect(Buffer.from(sink.rejects[0]!.data!, 'base64').toString()).toBe(broken);
  });

  it('keeps a record once when a bad line has already taken it whole and a later concatenated payload breaks', () => {
    const { sink, dec } = decoder();
    const withBadLine = subscriptionPayloadJson([LINES[0]!, 'not a flow line'], { logStream: 's' });
    const broken = '{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s"}';
    const data = gzipSync(withBadLine + broken);
    dec.decodeKinesisRecord(kinesisRecord(data, '47'));
    dec.flush();
    expect(sink.count).toBe(1);
    expect(sink.rejects.map((r) => [r.location, r.data])).toEqual([
      ['kinesis://flows/shardId-000000000001/47', data.toString('base64')],
      ['kinesis://flows/shardId-000000000001/47#1', undefined],
    ]);
    expect(sink.rejects[1]!.reason).toMatch(/the whole record is kept with an earlier reject of kinesis:\/\/flows\/shardId-000000000001\/47\)$/);
  });

  it('lists the first rejects of a payload and counts the rest in one, with the payload kept once', () => {
    const { sink, dec } = decoder();
    const lines = Array.from({ length: 1000 }, (_, i) => (i === 500 ? LINES[0]! : `bad line ${i}`));
    const data = gzipSync(subscriptionPayloadJson(lines, { logStream: 's' }));
    dec.decodeKinesisRecord(kinesisRecord(data, '48'));
    dec.flush();
    expect(sink.count).toBe(1);
    expect(dec.stats.rejected).toBe(999);
    expect(sink.rejects).toHaveLength(MAX_LISTED_REJECTS + 1);
    expect(sink.rejects[0]!.data).toBe(data.toString('base64'));
    expect(sink.rejects.slice(1).every((r) => r.data === undefined)).toBe(true);
    expect(sink.rejects.slice(0, MAX_LISTED_REJECTS).map((r) => r.line)).toEqual(Array.from({ length: MAX_LISTED_REJECTS }, (_, i) => i + 1));
    expect(sink.rejects.at(-1)).toEqual({
      location: 'kinesis://flows/shardId-000000000001/48',
      reason: `899 more rejects in this input, counted but not listed one by one (the first ${MAX_LISTED_REJECTS} are); the first of them at kinesis://flows/shardId-000000000001/48:${MAX_LISTED_REJECTS + 1}`,
      text: '',
    });
    // The next record starts its own list.
    dec.decodeKinesisRecord(kinesisRecord(gzipSync(subscriptionPayloadJson(['bad'], { logStream: 's' })), '49'));
    expect(sink.rejects.at(-1)).toMatchObject({ location: 'kinesis://flows/shardId-000000000001/49', line: 1, reason: "version: 'bad' is not a number" });
  });

  it('checks log events one at a time: a tiny payload of a million empty or non-object events is counted, not a huge error', () => {
    for (const event of ['{}', '0']) {
      const { sink, dec } = decoder();
      // Keys out of the usual order, so the slow path (JSON.parse) reads it.
      const json = `{"logEvents":[${Array.from({ length: 1_000_000 }, () => event).join(',')}],"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s"}`;
      const data = gzipSync(json);
      expect(data.length).toBeLessThan(20_000);
      dec.decodeKinesisRecord(kinesisRecord(data, '50'));
      dec.flush();
      expect(dec.stats.rejected).toBe(1_000_000);
      expect(sink.rejects).toHaveLength(MAX_LISTED_REJECTS + 1);
      expect(sink.rejects[0]).toMatchObject({ line: 1, reason: event === '{}' ? 'log event without a message' : 'log event is not a JSON object', data: data.toString('base64') });
      expect(sink.rejects.at(-1)!.reason).toMatch(/^999900 more rejects in this input/);
    }
  });

  it('lists at most the first rejects of a whole record, however many concatenated payloads it holds', () => {
    const { sink, dec } = decoder();
    const one = subscriptionPayloadJson(Array.from({ length: 60 }, (_, i) => `bad ${i}`), { logStream: 's' });
    const data = gzipSync(one.repeat(500));
    dec.decodeKinesisRecord(kinesisRecord(data, '51'));
    dec.flush();
    expect(dec.stats.rejected).toBe(30_000);
    expect(sink.rejects).toHaveLength(MAX_LISTED_REJECTS + 1);
    expect(sink.rejects.at(-1)).toMatchObject({
      location: 'kinesis://flows/shardId-000000000001/51',
      reason: `29900 more rejects in this input, counted but not listed one by one (the first ${MAX_LISTED_REJECTS} are); the first of them at kinesis://flows/shardId-000000000001/51#1:41`,
    });
  });

  it('sums up the unlisted rejects of an object also when its reading stops early', async () => {
    const sink = new CollectingSink();
    let batches = 0;
    const dec = new FlowDecoder({ batch: () => void batches++, reject: (r) => sink.reject(r) }, {
      batchSize: 16,
      drain: async () => {
        if (batches > 0) throw new Error('stop');
      },
    });
    const text = `${Array.from({ length: 300 }, (_, i) => `bad ${i}`).join('\n')}\n${Array.from({ length: 100 }, () => LINES[0]).join('\n')}\n`;
    await expect(dec.decodeObject(memoryObject('early.log', [Buffer.from(text)]))).rejects.toThrow('stop');
    expect(dec.stats.rejected).toBe(300);
    expect(sink.rejects).toHaveLength(MAX_LISTED_REJECTS + 1);
    expect(sink.rejects.at(-1)!.reason).toMatch(/^200 more rejects in this input/);
  });

  it('does not copy the rest of a file into the reject of its broken payload: the file stays where it is', async () => {
    const good = subscriptionPayloadJson(LINES.slice(0, 2), { logStream: 's' });
    const { sink, dec } = decoder();
    await dec.decodeObject(memoryObject('firehose.json', [Buffer.from(good + '{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s"}')]));
    dec.flush();
    expect(sink.count).toBe(2);
    expect(sink.rejects).toEqual([{ location: 'firehose.json#1', reason: expect.stringMatching(/without logEvents \(payload 1, /), text: expect.any(String) }]);
  });

  it('reads the same records from any JSON layout, escapes and key order included', () => {
    const reordered = JSON.stringify({
      logEvents: LINES.map((message, i) => ({ extractedFields: { id: 'x', message: 'y' }, message, timestamp: 5 + i, id: String(i) })),
      logStream: 'with "quotes"',
      logGroup: 'g',
      messageType: 'DATA_MESSAGE',
    });
    const pretty = JSON.stringify(JSON.parse(subscriptionPayloadJson(LINES, { logStream: 's' })), null, 2);
    const escaped = subscriptionPayloadJson(LINES, { logStream: 's' }).replaceAll('ACCEPT', '\\u0041CCEPT');
    for (const json of [reordered, pretty, escaped]) {
      const { sink, dec } = decoder();
      dec.decodeKinesisRecord(kinesisRecord(gzipSync(json)));
      dec.flush();
      expect(sink.rejects).toEqual([]);
      expect(sink.records.map((r) => [r.srcaddr, r.action, r.bytes])).toEqual([
        ['10.0.1.10', 'ACCEPT', 9000],
        ['203.0.113.9', 'REJECT', 1200],
        [null, null, null],
      ]);
    }
  });

  it('switches to JSON.parse mid-payload on a layout surprise, without losing or repeating events', () => {
    const lines = Array.from({ length: 6 }, (_, i) => LINES[0]!.replace('9000', String(1000 + i)));
    const payload = JSON.parse(subscriptionPayloadJson(lines, { logStream: 's' })) as { logEvents: Record<string, unknown>[] };
    // The fourth event lists its keys in another order: valid JSON the single pass does not expect.
    const e = payload.logEvents[3]!;
    payload.logEvents[3] = { message: e.message, id: e.id, timestamp: e.timestamp };
    const { sink, dec } = decoder();
    dec.decodeKinesisRecord(kinesisRecord(gzipSync(JSON.stringify(payload))));
    dec.flush();
    expect(sink.rejects).toEqual([]);
    expect(sink.records.map((r) => r.bytes)).toEqual([1000, 1001, 1002, 1003, 1004, 1005]);
    expect(Array.from(sink.batches[0]!.subIndex.subarray(0, 6))).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('says how many events were decoded when a payload breaks off after them', () => {
    const json = subscriptionPayloadJson(LINES, { logStream: 's' });
    const cut = json.indexOf('{"id"', json.indexOf('{"id"', json.indexOf('{"id"') + 1) + 1) + 30;
    const { sink, dec } = decoder();
    dec.decodeKinesisRecord(kinesisRecord(gzipSync(json.slice(0, cut))));
    dec.flush();
    expect(sink.count).toBe(2);
    expect(sink.rejects).toHaveLength(1);
    expect(sink.rejects[0]!.reason).toMatch(/truncated JSON.*its first 2 events were decoded before the problem was found/);
  });

  it('is not fooled by extractedFields keys named like event keys', () => {
    const json = subscriptionPayloadJson(LINES, { logStream: 's', filterFields: ['id', 'timestamp', 'message'] });
    const { sink, dec } = decoder();
    dec.decodeKinesisRecord(kinesisRecord(gzipSync(json)));
    dec.flush();
    expect(sink.rejects).toEqual([]);
    expect(sink.records.map((r) => r.srcaddr)).toEqual(['10.0.1.10', '203.0.113.9', null]);
  });

  it('property: the fast path agrees with JSON.parse on random payloads', () => {
    const token = fc.stringMatching(/^[A-Za-z0-9.:-]{1,12}$/);
    const line = fc.array(token, { minLength: 14, maxLength: 14 }).map((t) => t.join(' '));
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 20 }), fc.boolean(), (lines, extracted) => {
        const json = subscriptionPayloadJson(lines, { logStream: 's', ...(extracted ? {} : { filterFields: null }) });
        const fast = decoder();
        fast.dec.decodeKinesisRecord(kinesisRecord(gzipSync(json)));
        fast.dec.flush();
        const slow = decoder();
        slow.dec.decodeKinesisRecord(kinesisRecord(gzipSync(JSON.stringify(JSON.parse(json), null, 1))));
        slow.dec.flush();
        expect(fast.sink.records).toEqual(slow.sink.records);
        expect(fast.sink.rejects.map((r) => [r.line, r.reason])).toEqual(slow.sink.rejects.map((r) => [r.line, r.reason]));
        expect(fast.sink.count + fast.sink.rejects.length).toBe(lines.length);
      }),
      { numRuns: 200 },
    );
  });

  it("reads every event when an extracted value holds '}}]}' (the end of a payload's last event, inside a string)", () => {
    // Found by the property below (seed 1807165276): the jump over the extracted fields took the
    // '}}]}' inside a value for the end of the events, and the rest of the record was rejected.
    const line = (i: number) => `2 123456789012 eni-0a${i} 10.0.0.${i} 10.0.0.9 443 5000${i} 6 1 40 1767225600 1767225660 ACCEPT OK`;
    const events = [
      { id: '1', timestamp: 1000, message: line(1), extractedFields: { a: '}}]}x', b: '}}]}' } },
      { message: line(2), timestamp: 1001, id: '2' },
      { id: '3', timestamp: 1002, message: line(3), extractedFields: { a: '}}]}' } },
    ];
    const json = [0, 1].map((k) => JSON.stringify({ messageType: 'DATA_MESSAGE', owner: '1', logGroup: 'g', logStream: `s${k}`, subscriptionFilters: ['f'], logEvents: k === 0 ? events : events.slice(2) })).join('\n');
    const { sink, dec } = decoder();
    dec.decodeKinesisRecord(kinesisRecord(gzipSync(json)));
    dec.flush();
    expect(sink.rejects).toEqual([]);
    expect(sink.batches.flatMap((b) => Array.from({ length: b.length }, (_, r) => `${b.origins[r]!.logStream}:${b.subIndex[r]}`))).toEqual(['s0:1', 's0:2', 's0:3', 's1:1']);
  });

  const coverage = { records: 0 };
  it('property: any valid payload layout gives exactly the records JSON.parse finds, once each', () => {
    const token = fc.stringMatching(/^[A-Za-z0-9.:{}\[\],_-]{1,10}$/);
    const number = fc.oneof(fc.stringMatching(/^[0-9]{1,9}$/), fc.constant('-'));
    const numeric = new Set([0, 5, 6, 7, 8, 9, 10, 11]);
    const address = fc.oneof(fc.ipV4(), fc.ipV6(), fc.constant('-'));
    // Mostly valid v2 records (numbers and addresses where the format has them), sometimes not.
    const line = fc
      .tuple(...Array.from({ length: 14 }, (_, i) => (numeric.has(i) ? fc.oneof({ weight: 9, arbitrary: number }, { weight: 1, arbitrary: token }) : i === 3 || i === 4 ? fc.oneof({ weight: 9, arbitrary: address }, { weight: 1, arbitrary: token }) : token)))
      .map((t) => t.join(' '));
    const event = fc.record({ message: line, shuffle: fc.boolean(), extracted: fc.boolean(), oddKey: fc.boolean() });
    const payload = fc.array(event, { minLength: 1, maxLength: 12 });
    fc.assert(
      fc.property(fc.array(payload, { minLength: 1, maxLength: 2 }), (payloads) => {
        const json = payloads
          .map((events, k) =>
            JSON.stringify({
              messageType: 'DATA_MESSAGE', owner: '1', logGroup: 'g', logStream: `s${k}`, subscriptionFilters: ['f'],
              logEvents: events.map((e, i) => {
                const fields: [string, unknown][] = [['id', String(10n ** 55n + BigInt(i))], ['timestamp', 1000 + i], ['message', e.message]];
                if (e.extracted) fields.push(['extractedFields', Object.fromEntries(e.message.split(' ').map((t, j) => [e.oddKey ? `id${j}` : `f${j}`, t]))]);
                if (e.shuffle) fields.reverse();
                return Object.fromEntries(fields);
              }),
            }),
          )
          .join('\n');
        const { sink, dec } = decoder();
        dec.decodeKinesisRecord(kinesisRecord(gzipSync(json)));
        dec.flush();
        const expected = payloads.flatMap((events, k) => events.map((e, i) => ({ stream: `s${k}`, event: i + 1, message: e.message })));
        const got = sink.batches.flatMap((b) => Array.from({ length: b.length }, (_, r) => ({ stream: b.origins[r]!.logStream, event: b.subIndex[r], fields: b.format.fields.map((_f, j) => b.value(r, j)) })));
        const rejected = sink.rejects.map((x) => ({ line: x.line, text: x.text }));
        // Every event is either a record or a reject, exactly once, in order.
        expect(got.length + rejected.length).toBe(expected.length);
        coverage.records += got.length;
        const seen = [...got.map((g) => `${g.stream}:${g.event}`), ...rejected.map((r, i) => `r${i}:${r.line}`)];
        expect(new Set(seen).size).toBe(seen.length);
        for (const g of got) {
          const e = expected.find((x) => x.stream === g.stream && x.event === g.event)!;
          expect(g.fields.map((v) => (v === null ? '-' : String(v)))).toEqual(e.message.split(' ').map((t, i) => (numeric.has(i) && t !== '-' ? String(Number(t)) : t)));
        }
      }),
      { numRuns: 300 },
    );
    expect(coverage.records).toBeGreaterThan(300); // the generator does produce valid records
  });

  it.each([
    ['truncated JSON', gzipSync(subscriptionPayloadJson(LINES, { logStream: 's' }).slice(0, 200)), /truncated JSON|not valid JSON/],
    ['JSON that is no payload', gzipSync('{"hello":"world"}'), /none of: CloudWatch Logs subscription payload/],
    ['an unknown messageType', gzipSync('{"messageType":"OTHER","logEvents":[]}'), /messageType "OTHER"/],
    ['truncated gzip', gzipSync(subscriptionPayloadJson(LINES, { logStream: 's' })).subarray(0, 40), /truncated gzip data|bad gzip data/],
  ])('rejects %s with the whole payload kept, and goes on', (_name, data, reason) => {
    const { sink, dec } = decoder();
    dec.decodeKinesisRecord(kinesisRecord(data, '1'));
    dec.decodeKinesisRecord(kinesisRecord(subscriptionPayload(LINES, { logStream: 's' }), '2'));
    dec.flush();
    expect(sink.count).toBe(3);
    expect(sink.rejects).toHaveLength(1);
    expect(sink.rejects[0]!.location).toBe('kinesis://flows/shardId-000000000001/1');
    expect(sink.rejects[0]!.reason).toMatch(reason);
    expect(Buffer.from(sink.rejects[0]!.data!, 'base64')).toEqual(data);
  });

  it('refuses a gzip bomb instead of inflating it', () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(100_000);
    const { sink, dec } = decoder({ limits: { maxInflatedBytes: 8 * 1024 * 1024 } });
    dec.decodeKinesisRecord(kinesisRecord(bomb));
    dec.flush();
    expect(sink.rejects).toHaveLength(1);
    expect(sink.rejects[0]!.reason).toMatch(/inflates to more than 8388608 bytes \(gzip bomb\?\)/);
  });
});

describe('JSON envelopes carrying base64 payloads', () => {
  const payload = subscriptionPayload(LINES, { logStream: 'eni-0a1-all' });

  it('reads `aws kinesis get-records` output', async () => {
    const dir = tmp();
    const file = join(dir, 'get-records.json');
    writeFileSync(file, JSON.stringify({
      Records: [
        { SequenceNumber: '111', ApproximateArrivalTimestamp: 1767225700.5, Data: payload.toString('base64'), PartitionKey: 'a' },
        { SequenceNumber: '112', ApproximateArrivalTimestamp: 1767225701, Data: controlMessagePayload().toString('base64'), PartitionKey: 'b' },
      ],
      NextShardIterator: 'AAAA',
      MillisBehindLatest: 0,
    }, null, 4));
    const { sink, dec } = await decodeFile(file);
    expect(sink.rejects).toEqual([]);
    expect(sink.count).toBe(3);
    expect(dec.stats.controlMessages).toBe(1);
    expect(sink.batches[0]!.origins[0]).toMatchObject({ location: `${file}#Records[0]`, sequenceNumber: '111', arrivalMs: 1767225700500, logStream: 'eni-0a1-all' });
  });

  it('reads a Lambda awslogs event and a Lambda Kinesis event', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'a-awslogs.json'), JSON.stringify({ awslogs: { data: payload.toString('base64') } }));
    writeFileSync(join(dir, 'b-kinesis.json'), JSON.stringify({ Records: [{ eventSourceARN: 'arn:aws:kinesis:us-east-1:1:stream/s', kinesis: { data: payload.toString('base64'), sequenceNumber: '9', approximateArrivalTimestamp: 1767225700 } }] }));
    const { sink } = await decodeFile(dir);
    expect(sink.rejects).toEqual([]);
    expect(sink.count).toBe(6);
    expect(sink.batches[0]!.origins.slice(0, sink.batches[0]!.length).map((o) => o.location)).toContain(join(dir, 'b-kinesis.json') + '#Records[0]');
  });

  it('reads Firehose HTTP endpoint requests holding plain lines or subscription payloads', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'firehose.json'), JSON.stringify({
      requestId: 'ed4acda5-034f-9f42-bba1-f29aea6d7d8f',
      timestamp: 1767225700000,
      records: [{ data: Buffer.from(LINES[0]! + '\n').toString('base64') }, { data: Buffer.from(LINES.slice(1).join('\n')).toString('base64') }, { data: payload.toString('base64') }],
    }));
    const { sink } = await decodeFile(dir);
    expect(sink.rejects).toEqual([]);
    expect(sink.count).toBe(6);
  });

  it.each([
    ['gzip', 1, 'auto'],
    ['gzip inside gzip, with a forced --input', 2, 'get-records'],
  ] as const)("hands over each item's records before inflating the next, so a small file of amplifying items stays bounded (%s)", async (_, layers, input) => {
    // Each item: 20,000 lines that gzip to a few hundred bytes. Undrained, the whole object's
    // records would sit in memory at once (a 134 KB file of such items exhausted the heap).
    const item = gzipSync(Buffer.from(`${LINES[0]}\n`.repeat(20_000))).toString('base64');
    const file = join(tmp(), 'amplifying.json.gz');
    let bytes: Buffer = Buffer.from(JSON.stringify({ Records: Array.from({ length: 10 }, (_, i) => ({ SequenceNumber: String(i), Data: item })) }));
    for (let i = 0; i < layers; i++) bytes = gzipSync(bytes);
    writeFileSync(file, bytes);
    let held = 0;
    let mostHeld = 0;
    let total = 0;
    const sink = new CollectingSink();
    const dec = new FlowDecoder({ batch: (b) => { held += b.length; total += b.length; }, reject: (r) => sink.reject(r) }, {
      input,
      drain: async () => {
        mostHeld = Math.max(mostHeld, held);
        held = 0;
      },
    });
    for await (const obj of listLocalObjects(file)) await dec.decodeObject(obj);
    dec.flush();
    expect(sink.rejects).toEqual([]);
    expect(total).toBe(200_000);
    expect(mostHeld).toBeGreaterThan(0);
    expect(mostHeld).toBeLessThanOrEqual(20_000 + 1000); // an item's records, and a batch begun before it
  });

  it('rejects an envelope with a bad shape, naming what is wrong', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ Records: [{ SequenceNumber: 5, Data: '!!' }] }));
    const { sink } = await decodeFile(dir);
    expect(sink.rejects).toHaveLength(1);
    expect(sink.rejects[0]!.reason).toMatch(/not a valid aws kinesis get-records output/);
  });
});

describe('S3 text objects and plain lines', () => {
  it('reads a genuine S3 .log.gz object with its header', async () => {
    const { sink, dec } = await decodeFile(`${SHARED}data/samples/loki-s3-object/vpcflowlog.log.gz`);
    expect(sink.rejects).toEqual([]);
    expect(dec.stats.headers).toBe(1);
    expect(sink.records.map((r) => [r.srcaddr, r.dstport])).toEqual([['10.26.1.153', 443], ['3.239.232.29', 60220], ['10.26.0.9', 57879]]);
  });

  it('reads the account, region, flow-log id and time from an AWS key layout', async () => {
    const dir = tmp();
    const hourly = join(dir, 'logs/AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=eu-west-1/year=2026/month=01/day=05/hour=13');
    mkdirSync(hourly, { recursive: true });
    copyFileSync(`${SHARED}data/samples/loki-s3-object/vpcflowlog.log.gz`, join(hourly, '123456789012_vpcflowlogs_eu-west-1_fl-0123456789abcdef0_20260105T1305Z_3f2a9c1d.log.gz'));
    const { sink } = await decodeFile(join(dir, 'logs'));
    expect(sink.count).toBe(3);
    expect(sink.batches[0]!.origins[0]!.s3).toEqual({ account: '123456789012', region: 'eu-west-1', flowLogId: 'fl-0123456789abcdef0', timeMs: Date.UTC(2026, 0, 5, 13, 5), hive: true });
  });

  it('reads the splunk samples: 5,000 CloudWatch-exported records with 140 rejected connections', async () => {
    const { sink } = await decodeFile(`${SHARED}data/samples/splunk-cloudfwd/cloudwatchlogs_vpcflowlog_lambdaprocessed.sample`);
    expect(sink.rejects).toEqual([]);
    expect(sink.count).toBe(5000);
    expect(sink.records.filter((r) => r.action === 'REJECT')).toHaveLength(140);
    for (const [file, n] of [['vpc-flow-log.sample', 10], ['examples-vpcFlowLogs.txt', 8]] as const) {
      const r = await decodeFile(`${SHARED}data/samples/splunk-cloudfwd/${file}`);
      expect(r.sink.rejects).toEqual([]);
      expect(r.sink.count).toBe(n);
    }
  });

  it('reads concatenated subscription payloads (CloudWatch Logs to Firehose to S3)', async () => {
    const body = gzipSync(subscriptionPayloadJson(LINES, { logStream: 'a' }) + subscriptionPayloadJson(LINES.slice(0, 1), { logStream: 'b' }));
    const { sink, dec } = decoder();
    await dec.decodeObject(memoryObject('s3://b/firehose/2026/01/05/x.gz', [body]));
    dec.flush();
    expect(sink.rejects).toEqual([]);
    expect(sink.records.map((r) => r.log_stream)).toEqual(['a', 'a', 'a', 'b']);
  });

  it('keeps line numbers across chunk boundaries and rejects a line that is too long', async () => {
    const text = Buffer.from([LINES[0], 'x'.repeat(5000), LINES[1], LINES[0]].join('\n'));
    const chunks = [text.subarray(0, 50), text.subarray(50, 3000), text.subarray(3000, 5100), text.subarray(5100)];
    const { sink, dec } = decoder({ limits: { maxLineBytes: 1000 } });
    await dec.decodeObject(memoryObject('f.log', chunks));
    dec.flush();
    expect(sink.records.map((r) => r.action)).toEqual(['ACCEPT', 'REJECT', 'ACCEPT']);
    expect(sink.rejects).toEqual([expect.objectContaining({ location: 'f.log', line: 2, reason: 'line is longer than 1000 bytes' })]);
    expect(Array.from(sink.batches[0]!.subIndex.subarray(0, 3))).toEqual([1, 3, 4]);
  });

  it('stops inflating a streamed gzip bomb at the limit', async () => {
    const bomb = gzipSync(Buffer.alloc(32 * 1024 * 1024, '2 1 eni-1 1.1.1.1 2.2.2.2 1 2 17 1 2 3 4 ACCEPT OK\n'));
    const { sink, dec } = decoder({ limits: { maxStreamedBytes: 4 * 1024 * 1024 } });
    await dec.decodeObject(memoryObject('bomb.log.gz', [bomb]));
    dec.flush();
    // The line the limit cut in two is kept as a reject too, after every whole line before it.
    expect(sink.rejects).toEqual([
      { location: 'bomb.log.gz', line: sink.count + 1, reason: expect.stringMatching(/^line cut off: .*gzip bomb/), text: expect.stringMatching(/^2 1 eni-1/) },
      { location: 'bomb.log.gz', reason: expect.stringMatching(new RegExp(`gzip bomb.*after line ${sink.count}\\)$`)), text: '' },
    ]);
    expect(sink.count).toBeLessThan(4 * 1024 * 1024 / 40);
  });

  it('reads the header after a byte-order mark, in files, gzip and stream payloads alike', async () => {
    // src and dst swapped in the header: read past the BOM, it decides which address is which.
    const text = '\ufeffversion account-id interface-id dstaddr srcaddr dstport srcport protocol packets bytes start end action log-status\n2 1 eni-1 10.0.0.2 10.0.0.1 443 50000 6 1 2 3 4 ACCEPT OK\n';
    const dir = tmp();
    writeFileSync(join(dir, 'a.log'), text);
    writeFileSync(join(dir, 'b.log.gz'), gzipSync(text));
    const { sink: files } = await decodeFile(dir);
    const { sink: stream, dec } = decoder();
    dec.decodeKinesisRecord(kinesisRecord(gzipSync(text)));
    dec.flush();
    for (const sink of [files, stream]) {
      expect(sink.rejects).toEqual([]);
      for (const r of sink.records) expect(r).toMatchObject({ srcaddr: '10.0.0.1', dstaddr: '10.0.0.2', srcport: 50000, dstport: 443 });
    }
    expect(files.count + stream.count).toBe(3);
  });

  it('uses a given format for lines without a header', async () => {
    const { sink, dec } = decoder({ format: FlowFormat.parse('${interface-id} ${action}') });
    await dec.decodeObject(memoryObject('f', [Buffer.from('eni-1 ACCEPT\neni-2 REJECT\n')]));
    dec.flush();
    expect(sink.records).toEqual([{ interface_id: 'eni-1', action: 'ACCEPT' }, { interface_id: 'eni-2', action: 'REJECT' }]);
  });
});

describe('S3 Parquet objects', () => {
  const columns = (n: number) => [
    { name: 'version', data: Int32Array.from({ length: n }, () => 5), type: 'INT32' as const },
    { name: 'account_id', data: Array.from({ length: n }, () => '123456789012'), type: 'STRING' as const },
    { name: 'interface_id', data: Array.from({ length: n }, (_, i) => `eni-${i % 3}`), type: 'STRING' as const },
    { name: 'srcaddr', data: Array.from({ length: n }, (_, i) => (i % 7 === 0 ? null : `10.0.0.${i % 250}`)), type: 'STRING' as const },
    { name: 'srcport', data: Array.from({ length: n }, (_, i) => (i % 7 === 0 ? null : 1000 + i)), type: 'INT32' as const, nullable: true },
    { name: 'bytes', data: BigInt64Array.from({ length: n }, (_, i) => BigInt(i) * 1000n), type: 'INT64' as const },
    { name: 'start', data: BigInt64Array.from({ length: n }, () => 1767225600n), type: 'INT64' as const },
    { name: 'flow_direction', data: Array.from({ length: n }, (_, i) => (i % 2 ? 'ingress' : 'egress')), type: 'STRING' as const },
    { name: 'traffic_path', data: Array.from({ length: n }, (_, i) => (i % 2 ? null : 8)), type: 'INT32' as const, nullable: true },
  ];

  it("reads AWS's column names and types, with GZIP pages, nulls and many rows", async () => {
    const n = 70_000;
    const buf = Buffer.from(parquetWriteBuffer({ columnData: columns(n), codec: 'GZIP', compressors: { GZIP: (b: Uint8Array) => gzipSync(b) }, rowGroupSize: 30_000 }));
    const { sink, dec } = decoder();
    await dec.decodeObject(memoryObject('s3://b/AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/01/05/123456789012_vpcflowlogs_us-east-1_fl-0a_20260105T0000Z_ab12.log.parquet', [buf]));
    dec.flush();
    expect(sink.rejects).toEqual([]);
    expect(sink.count).toBe(n);
    const records = sink.records;
    expect(records[1]).toEqual({ version: 5, account_id: '123456789012', interface_id: 'eni-1', srcaddr: '10.0.0.1', srcport: 1001, bytes: 1000, start: 1767225600, flow_direction: 'ingress', traffic_path: null });
    expect(records[7]).toMatchObject({ srcaddr: null, srcport: null, traffic_path: null });
    expect(records[n - 1]!.bytes).toBe((n - 1) * 1000);
  });

  it('reads ZSTD and SNAPPY pages too, and refuses pages that would inflate past the limit', async () => {
    await loadZstd();
    const n = 20_000;
    const zstd = Buffer.from(parquetWriteBuffer({ columnData: columns(n), codec: 'ZSTD', compressors: { ZSTD: (b: Uint8Array) => zstdCompress(b, 3) } }));
    const snappy = Buffer.from(parquetWriteBuffer({ columnData: columns(n), codec: 'SNAPPY' }));
    const { sink, dec } = decoder();
    await dec.decodeObject(memoryObject('z.parquet', [zstd]));
    await dec.decodeObject(memoryObject('s.parquet', [snappy]));
    dec.flush();
    expect(sink.rejects).toEqual([]);
    expect(sink.count).toBe(2 * n);
    expect(sink.records[n + 1]).toEqual(sink.records[1]);
    expect(sink.records[n - 1]!.bytes).toBe((n - 1) * 1000);
    // Page headers are believed only up to the object's inflation limit (a ZSTD or SNAPPY bomb).
    const limit = Math.max(zstd.length, snappy.length) + 1;
    const small = decoder({ limits: { maxInflatedBytes: limit } });
    await small.dec.decodeObject(memoryObject('z.parquet', [zstd]));
    await small.dec.decodeObject(memoryObject('s.parquet', [snappy]));
    small.dec.flush();
    expect(small.sink.rejects.map((r) => [r.location, r.reason])).toEqual([
      ['z.parquet', `Parquet pages inflate to more than ${limit} bytes; refused`],
      ['s.parquet', `Parquet pages inflate to more than ${limit} bytes; refused`],
    ]);
  });

  it('reads a Parquet file bigger than one read, with one page per column, within a limit just above its size', async () => {
    // flowcut's own archive files: row groups of up to 2^20 rows, one page per column chunk. A
    // row group within the limit is read whole, so each page is inflated once.
    await loadZstd();
    const n = 200_000;
    const { encodeParquet } = await import('../archive/parquet/writer.js');
    const specs = [
      { name: 'srcport', type: 'int32' as const },
      { name: 'bytes', type: 'int64' as const },
      { name: 'interface_id', type: 'string' as const },
    ];
    const cols = [
      { numbers: Float64Array.from({ length: n }, (_, i) => 1024 + ((i * 7919) % 60_000)) },
      { numbers: Float64Array.from({ length: n }, (_, i) => (i * 104_729) % 9_000_000) },
      { strings: Array.from({ length: n }, (_, i) => `eni-${i % 1000}`) },
    ];
    for (const codec of ['zstd', 'snappy', 'gzip'] as const) {
      const bytes = encodeParquet(specs, cols, n, { codec });
      const meta = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
      const inflated = meta.row_groups.flatMap((g) => g.columns).reduce((t, c) => t + Number(c.meta_data!.total_uncompressed_size), 0);
      const { sink, dec } = decoder({ limits: { maxInflatedBytes: Math.ceil(inflated * 1.5) } });
      await dec.decodeObject(memoryObject(`big.${codec}.parquet`, [Buffer.from(bytes)]));
      dec.flush();
      expect(sink.rejects, codec).toEqual([]);
      expect(sink.count, codec).toBe(n);
      expect(sink.records[n - 1], codec).toEqual({ srcport: 1024 + (((n - 1) * 7919) % 60_000), bytes: ((n - 1) * 104_729) % 9_000_000, interface_id: `eni-${(n - 1) % 1000}` });
    }
  });

  it('caps the inflation per row group: a file of many small groups reads under a limit below any three of them', async () => {
    const n = 100_000;
    // Repetitive columns, so that the object itself (also read under the limit) is small.
    const repetitive = [
      { name: 'srcport', data: Int32Array.from({ length: n }, (_, i) => 1024 + (i % 16)), type: 'INT32' as const },
      { name: 'bytes', data: BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 100) * 40n), type: 'INT64' as const },
      { name: 'action', data: Array.from({ length: n }, (_, i) => (i % 5 ? 'ACCEPT' : 'REJECT')), type: 'STRING' as const },
    ];
    const buf = Buffer.from(parquetWriteBuffer({ columnData: repetitive, codec: 'GZIP', compressors: { GZIP: (b: Uint8Array) => gzipSync(b) }, rowGroupSize: 10_000 }));
    const meta = parquetMetadata(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer);
    const groups = meta.row_groups.map((g) => g.columns.reduce((t, c) => t + Number(c.meta_data!.total_uncompressed_size), 0));
    expect(groups).toHaveLength(10);
    // A read of 65,536 rows spans seven of these groups; one group at a time fits.
    const limit = Math.ceil(Math.max(...groups) * 1.5);
    expect(limit).toBeLessThan(3 * Math.min(...groups));
    expect(buf.length).toBeLessThan(limit);
    const { sink, dec } = decoder({ limits: { maxInflatedBytes: limit } });
    await dec.decodeObject(memoryObject('groups.parquet', [buf]));
    dec.flush();
    expect(sink.rejects).toEqual([]);
    expect(sink.count).toBe(n);
    expect(sink.records[n - 1]).toEqual({ srcport: 1024 + ((n - 1) % 16), bytes: ((n - 1) % 100) * 40, action: 'ACCEPT' });
    expect(sink.records[65_540]).toEqual({ srcport: 1024 + (65_540 % 16), bytes: (65_540 % 100) * 40, action: 'REJECT' });
  });

  it('refuses a row group that claims more rows than its pages hold, instead of inventing empty rows', async () => {
    const { encodeParquet } = await import('../archive/parquet/writer.js');
    const n = 1000;
    const good = Buffer.from(encodeParquet([{ name: 'srcport', type: 'int32' }], [{ numbers: Float64Array.from({ length: n }, (_, i) => i) }], n, { codec: 'snappy' }));
    // In the footer (Thrift compact), 1000 rows are the zigzag varint D0 0F; A0 1F claims 2000.
    const forged = Buffer.from(good);
    const footerStart = forged.length - 8 - forged.readUInt32LE(forged.length - 8);
    let patched = 0;
    for (let i = footerStart; i < forged.length - 9; i++) {
      if (forged[i] === 0xd0 && forged[i + 1] === 0x0f) {
        forged[i] = 0xa0;
        forged[i + 1] = 0x1f;
        patched++;
      }
    }
    const meta = parquetMetadata(forged.buffer.slice(forged.byteOffset, forged.byteOffset + forged.byteLength) as ArrayBuffer);
    expect(patched).toBeGreaterThan(0);
    expect(meta.row_groups[0]!.num_rows).toBe(2000n);
    const { sink, dec } = decoder();
    await dec.decodeObject(memoryObject('forged.parquet', [forged]));
    await dec.decodeObject(memoryObject('good.parquet', [good]));
    dec.flush();
    expect(sink.count).toBe(n);
    expect(sink.rejects.map((r) => [r.location, r.reason])).toEqual([['forged.parquet', 'Parquet row group at row 0 claims 2000 rows; the pages of column srcport hold 1000']]);
  });

  it('checks page headers before decoding: run-length pages claiming millions of values, rows no object holds, a missing column', async () => {
    const action = { name: 'action', physical: PHYSICAL.BYTE_ARRAY, converted: 0 };
    const srcport = { name: 'srcport', physical: PHYSICAL.INT32 };
    const dict = dictionaryPage(['ACCEPT']);
    // The same construction, small: read, so the refusals below are about the claims alone.
    const small = craftParquet([action], [{ rows: 3, pages: { action: [dict, runLengthPage(2), runLengthPage(1)] } }, { rows: 2, pages: { action: [dict, runLengthPage(2)] } }]);
    // One byte standing for 5 million rows.
    const bigPage = craftParquet([action], [{ rows: 5_000_000, pages: { action: [dict, runLengthPage(5_000_000)] } }]);
    // 300 row groups of a million rows, in pages the archive could have written: 300 million rows.
    const manyRows = craftParquet([action], Array.from({ length: 300 }, () => ({ rows: 1 << 20, pages: { action: [dict, runLengthPage(1 << 20)] } })));
    const missing = craftParquet([srcport, action], [
      { rows: 2, pages: { srcport: [int32Page([1, 2])], action: [dict, runLengthPage(2)] } },
      { rows: 1, pages: { action: [dict, runLengthPage(1)] } },
    ]);
    const { sink, dec } = decoder();
    for (const [name, buf] of [['small', small], ['big-page', bigPage], ['many-rows', manyRows], ['missing', missing]] as const) {
      await dec.decodeObject(memoryObject(`${name}.parquet`, [buf]));
    }
    dec.flush();
    expect(bigPage.length + manyRows.length).toBeLessThan(40_000);
    expect(sink.records).toEqual(Array.from({ length: 5 }, () => ({ action: 'ACCEPT' })));
    expect(sink.rejects.map((r) => [r.location, r.reason])).toEqual([
      ['big-page.parquet', 'Parquet column action has a page of 5000000 values (at most 4194304); refused'],
      ['many-rows.parquet', 'Parquet row groups claim 314572800 rows, more than the 268435456 one object may hold; refused'],
      ['missing.parquet', 'Parquet row group at row 2 has no column srcport'],
    ]);
  });

  it("refuses columns whose type or values a flow-log field cannot hold, before reading a row of a mistyped file", async () => {
    const write = (columnData: Parameters<typeof parquetWriteBuffer>[0]['columnData']) => Buffer.from(parquetWriteBuffer({ columnData }));
    const text = write([{ name: 'srcport', data: ['abc', '443', '-5'], type: 'STRING' }, { name: 'action', data: ['ACCEPT', 'ACCEPT', 'ACCEPT'], type: 'STRING' }]);
    const doubles = write([{ name: 'dstport', data: [4.5, 1e12, -1], type: 'DOUBLE' }]);
    const negative = write([{ name: 'srcport', data: [443, -5, 80], type: 'INT32' }]);
    const huge = write([{ name: 'srcport', data: [1n, 2n ** 40n], type: 'INT64' }, { name: 'bytes', data: [1n, 2n ** 40n], type: 'INT64' }]);
    // INT64 underneath, but counting milliseconds: read plainly, start would be 1000× too big.
    const timestamps = write([{ name: 'start', data: [new Date(1_620_000_000_000)], type: 'TIMESTAMP' }]);
    const { sink, dec } = decoder();
    for (const [name, buf] of [['text', text], ['doubles', doubles], ['negative', negative], ['huge', huge], ['timestamps', timestamps]] as const) await dec.decodeObject(memoryObject(`${name}.parquet`, [buf]));
    dec.flush();
    expect(sink.rejects.map((r) => [r.location, r.reason])).toEqual([
      ['text.parquet', 'Parquet column srcport is BYTE_ARRAY; a flow-log srcport is a whole number (INT32 or INT64)'],
      ['doubles.parquet', 'Parquet column dstport is DOUBLE; a flow-log dstport is a whole number (INT32 or INT64)'],
      ['negative.parquet', 'Parquet column srcport at row 2: -5 is out of range for int32 (a flow-log number is 0 to 2147483647)'],
      ['huge.parquet', 'Parquet column srcport at row 2: 1099511627776 is out of range for int32 (a flow-log number is 0 to 2147483647)'],
      ['timestamps.parquet', 'Parquet column start is INT64 annotated TIMESTAMP_MILLIS; a flow-log start is a plain whole number'],
    ]);
    expect(sink.records.map((r) => r.srcport)).not.toContain(-5);
  });

  it('refuses an object whose address columns hold no address, or whose text columns hold what no flow log writes', async () => {
    const write = (columnData: Parameters<typeof parquetWriteBuffer>[0]['columnData']) => Buffer.from(parquetWriteBuffer({ columnData }));
    const rows = (srcaddr: string[], action: string[]) => write([{ name: 'srcaddr', data: srcaddr, type: 'STRING' }, { name: 'action', data: action, type: 'STRING' }]);
    const { sink, dec } = decoder();
    for (const [name, buf] of [
      ['good', rows(['10.0.0.1', '2001:db8::1', '10.0.0.1'], ['ACCEPT', 'REJECT', 'ACCEPT'])],
      ['address', rows(['10.0.0.1', '999.1.1.1'], ['ACCEPT', 'ACCEPT'])],
      ['nul', rows(['10.0.0.1', '10.0.0.2'], ['ACCEPT', 'ACC\u0000EPT'])],
      ['replacement', rows(['10.0.0.1'], ['ACC\uFFFD'])],
    ] as const) await dec.decodeObject(memoryObject(`${name}.parquet`, [buf]));
    dec.flush();
    expect(sink.records).toEqual([
      { srcaddr: '10.0.0.1', action: 'ACCEPT' },
      { srcaddr: '2001:db8::1', action: 'REJECT' },
      { srcaddr: '10.0.0.1', action: 'ACCEPT' },
    ]);
    expect(sink.rejects.map((r) => [r.location, r.reason])).toEqual([
      ['address.parquet', 'Parquet column srcaddr at row 2: "999.1.1.1" is not an IP address'],
      ['nul.parquet', 'Parquet column action at row 2: "ACC\\u0000EPT" is not text (a control character, or bytes that were not UTF-8)'],
      ['replacement.parquet', 'Parquet column action at row 1: "ACC\uFFFD" is not text (a control character, or bytes that were not UTF-8)'],
    ]);
  });

  it('rejects Parquet files without flow-log columns, and corrupt ones', async () => {
    const other = Buffer.from(parquetWriteBuffer({ columnData: [{ name: 'x', data: Int32Array.of(1), type: 'INT32' }] }));
    const good = Buffer.from(parquetWriteBuffer({ columnData: columns(10) }));
    const corrupt = Buffer.concat([good.subarray(0, 40), Buffer.alloc(100, 7), good.subarray(good.length - 8)]);
    const { sink, dec } = decoder();
    await dec.decodeObject(memoryObject('other.parquet', [other]));
    await dec.decodeObject(memoryObject('corrupt.parquet', [corrupt]));
    await dec.decodeObject(memoryObject('good.parquet', [good]));
    dec.flush();
    expect(sink.count).toBe(10);
    expect(sink.rejects.map((r) => r.location)).toEqual(['other.parquet', 'corrupt.parquet']);
    expect(sink.rejects[0]!.reason).toMatch(/no flow-log columns \(columns: x\)/);
    expect(sink.rejects[1]!.reason).toMatch(/Parquet/);
  });
});

describe('files that are not flow logs', () => {
  it('reports binary garbage line by line without stopping', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'a.bin'), Buffer.from([0, 1, 2, 3, 10, 200, 201, 10]));
    writeFileSync(join(dir, 'b.log'), LINES[0]!);
    const { sink } = await decodeFile(dir);
    expect(sink.count).toBe(1);
    expect(sink.rejects.map((r) => [r.location, r.line])).toEqual([[join(dir, 'a.bin'), 1], [join(dir, 'a.bin'), 2]]);
  });

  it('says so for a missing path', async () => {
    await expect(decodeFile('/nonexistent/flowcut')).rejects.toThrow('no such file or directory: /nonexistent/flowcut');
  });

  it('reads the sample the project generates (no rejects)', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'x.log'), readFileSync(`${SHARED}data/samples/splunk-cloudfwd/examples-vpcFlowLogs.txt`));
    const { sink } = await decodeFile(dir);
    expect(sink.rejects).toEqual([]);
  });
});
