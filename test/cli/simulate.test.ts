import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const run = promisify(execFile);

describe('flowcut simulate', () => {
  it('writes an S3 object in AWS key layout and get-records JSON that cat reads back, with ground truth', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flowcut-sim-'));
    await run(process.execPath, [CLI, 'simulate', '--minutes', '30', '--as', 's3', '--out', dir, '--labels', join(dir, 'labels.csv')]);
    await run(process.execPath, [CLI, 'simulate', '--minutes', '30', '--as', 'get-records', '--out', join(dir, 'gr.json')]);
    const labels = readFileSync(join(dir, 'labels.csv'), 'utf8').trim().split('\n').slice(1);
    const s3 = await run(process.execPath, [CLI, 'cat', join(dir, 'AWSLogs'), '-o', 'count']);
    const gr = await run(process.execPath, [CLI, 'cat', join(dir, 'gr.json'), '-o', 'count']);
    expect(Number(s3.stdout)).toBe(labels.length);
    expect(Number(gr.stdout)).toBe(labels.length);
    expect(s3.stderr).toMatch(/1 header line/);
    const attacks = new Set(labels.map((l) => l.split(',')[1]).filter((l) => l !== ''));
    expect(attacks).toEqual(new Set(['port-scan', 'ssh-brute-force', 'exfiltration']));
    const rejected = await run(process.execPath, [CLI, 'cat', join(dir, 'gr.json'), '-o', 'count', '--where', 'action=REJECT', '--where', 'srcaddr=192.0.2.66']);
    expect(Number(rejected.stdout)).toBe(labels.filter((l) => l.includes('port-scan')).length - 1);
  });

  it('is deterministic for a seed and differs across seeds', async () => {
    const a = await run(process.execPath, [CLI, 'simulate', '--minutes', '5', '--seed', '7']);
    const b = await run(process.execPath, [CLI, 'simulate', '--minutes', '5', '--seed', '7']);
    const c = await run(process.execPath, [CLI, 'simulate', '--minutes', '5', '--seed', '8']);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout).not.toBe(c.stdout);
  });
});
