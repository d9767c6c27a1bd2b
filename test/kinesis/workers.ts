/**
 * `flowcut run` worker processes (the built CLI) for end-to-end tests, and the simulated flow
 * events they are fed. Needs `npm run build` first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { LogEvent } from '../../src/pipeline/replay.js';
import { simulateTraffic } from '../../src/sim/traffic.js';
import { useLocalAws, type LocalAws } from '../support/local-aws.js';

const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const RUN_JS = new URL('../../dist/cli/commands/run.js', import.meta.url).pathname;

/**
 * Local Kinesis and DynamoDB for a file of `flowcut run` process tests (the built CLI, which
 * must exist); `start` starts a worker, and every worker started is killed before the servers stop.
 */
export function useRunWorkers(): { aws: LocalAws; start: (o: WorkerOptions) => Worker } {
  const workers: Worker[] = [];
  const aws = useLocalAws({
    beforeStart: () => {
      if (!existsSync(RUN_JS)) throw new Error('dist/ has no run command: `npm run build` first');
    },
    beforeStop: async () => {
      for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
      await Promise.all(workers.map((w) => w.exited));
    },
  });
  const start = (o: WorkerOptions): Worker => {
    const w = startRunWorker(o);
    workers.push(w);
    return w;
  };
  return { aws, start };
}

export interface Worker {
  readonly id: string;
  readonly child: ChildProcess;
  /** shard/sequence/eventIndex → the record's line fields, as printed. */
  readonly records: Array<{ key: string; shard: string; seq: string; line: string }>;
  stderr(): string;
  exited: Promise<void>;
}

export interface WorkerOptions {
  readonly id: string;
  readonly stream: string;
  /** The lease table. */
  readonly app: string;
  /** Endpoints of the local Kinesis and DynamoDB servers. */
  readonly kinesis: string;
  readonly dynamo: string;
  readonly failoverMs: number;
  readonly checkpointMs?: number;
  /** More arguments; by default `--output jsonl`, whose records are collected. */
  readonly extra?: readonly string[];
}

function startRunWorker(o: WorkerOptions): Worker {
  const child = spawn(
    process.execPath,
    [CLI, 'run', '--stream', o.stream, '--app', o.app, '--worker-id', o.id, '--from', 'trim-horizon', '--failover-ms', String(o.failoverMs), '--checkpoint-interval-ms', String(o.checkpointMs ?? 1000), '-v', ...(o.extra ?? ['--output', 'jsonl'])],
    {
      env: {
        ...process.env,
        AWS_ENDPOINT_URL_KINESIS: o.kinesis,
        AWS_ENDPOINT_URL_DYNAMODB: o.dynamo,
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        AWS_REGION: 'us-east-1',
        FLOWCUT_IDLE_POLL_MS: '100',
        FLOWCUT_SHARD_SYNC_INTERVAL_MS: '2000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const records: Worker['records'] = [];
  let partial = '';
  child.stdout!.on('data', (b: Buffer) => {
    const lines = (partial + b.toString('utf8')).split('\n');
    partial = lines.pop()!;
    for (const l of lines) {
      const r = JSON.parse(l) as Record<string, unknown>;
      const shard = String(r.kinesis_shard_id), seq = String(r.kinesis_sequence_number);
      records.push({ key: `${shard}/${seq}/${String(r.event_index)}`, shard, seq, line: `${String(r.interface_id)} ${String(r.srcaddr)}:${String(r.srcport)} ${String(r.dstaddr)}:${String(r.dstport)} ${String(r.start)} ${String(r.bytes)}` });
    }
  });
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-20_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { id: o.id, child, records, stderr: () => err, exited };
}

/** Twelve minutes of simulated VPC traffic as CloudWatch Logs events, one log stream per ENI. */
export function simEvents(): LogEvent[] {
  return simulateTraffic({ minutes: 12, seed: 11, startSec: 1_767_600_000 })
    .map((l) => ({ message: l.line, timestampMs: l.endSec * 1000, logStream: `${l.interfaceId}-all`, logGroup: 'vpc-flow-logs', owner: '123456789012' }))
    .sort((a, b) => a.timestampMs - b.timestampMs);
}

/** The same text a worker's JSON gives (Worker.records[].line), from the original line. */
export function lineKey(message: string): string {
  const t = message.split(' ').map((x) => (x === '-' ? 'null' : x));
  return `${t[2]} ${t[3]}:${t[5]} ${t[4]}:${t[6]} ${t[10]} ${t[9]}`;
}
