import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { registerScoreSeries } from '../../src/cli/commands/score-series.js';
import { decodeSeriesRun } from '../../src/cli/commands/series-state.js';
import { CliError } from '../../src/cli/errors.js';
import { DEFAULT_SERIES_OPTIONS, SeriesDetector } from '../../src/detect/series/detector.js';
import { seriesProbation } from '../../src/detect/series/probation.js';

const dir = mkdtempSync(path.join(tmpdir(), 'flowcut-series-state-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T0 = Date.UTC(2024, 0, 1);
const STEP = 5 * 60_000;
/** Five-minute rows over a week: a daily cycle, a nightly spike at 03:00, two incidents. */
const ROWS = Array.from({ length: 2000 }, (_, i) => {
  const time = T0 + i * STEP;
  const hour = (i * 5) / 60 % 24;
  const value = 50 + 20 * Math.sin((2 * Math.PI * hour) / 24) + ((i * 7919) % 11) / 4 + (Math.floor(hour * 12) === 36 ? 30 : 0) + (i === 900 || i === 1700 ? 120 : 0);
  return { time, value };
});
const cell = (t: number) => new Date(t).toISOString().replace('T', ' ').slice(0, 19);
const csv = (rows: typeof ROWS, header = 'timestamp,value') => `${header}\n${rows.map((r) => `${cell(r.time)},${r.value}`).join('\n')}\n`;

async function cli(...args: string[]): Promise<string> {
  const p = new Command().name('flowcut').exitOverride();
  registerScoreSeries(p);
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    await p.parseAsync(['node', 'flowcut', 'score-series', ...args]);
    return stderr.mock.calls.map((c) => String(c[0])).join('');
  } finally {
    stderr.mockRestore();
  }
}

const written = (file: string) => readFileSync(file, 'utf8').trim().split('\n');
const small = ['--trees', '10', '--sample-size', '64'];

describe('flowcut score-series --state', () => {
  it('scores a growing series run after run as one detector would, writing only the new rows', async () => {
    const state = path.join(dir, 'grow.state');
    const files = [ROWS.slice(0, 1200), ROWS.slice(0, 1600), [...ROWS].reverse()].map((rows, k) => {
      const f = path.join(dir, `grow-${k}.csv`);
      writeFileSync(f, csv(rows));
      return f;
    });
    const outs = files.map((f) => `${f}.out`);
    expect(await cli(files[0]!, '--out', outs[0]!, '--state', state, ...small)).toContain(`scored 1200 new row(s), up to ${cell(ROWS[1199]!.time)}; the detector is saved in ${state} (1200 rows in all)`);
    // The second export repeats the first's rows: those are left out.
    expect(await cli(files[1]!, '--out', outs[1]!, '--state', state)).toContain(`1200 row(s) at or before the last row scored before (${cell(ROWS[1199]!.time)}) were scored in an earlier run and are left out`);
    // The third is newest-first: put in time order, and explained on request.
    await cli(files[2]!, '--out', outs[2]!, '--state', state, '--explain');

    // One detector, scaled and with the probation period of the first run's rows, over every row.
    const first = ROWS.slice(0, 1200).map((r) => r.value);
    const one = new SeriesDetector(1, { ...DEFAULT_SERIES_OPTIONS, numberOfTrees: 10, sampleSize: 64 }, [{ min: Math.min(...first), max: Math.max(...first) }], seriesProbation(1200));
    const expected = ROWS.map((r) => one.process([r.value], r.time));
    const lines = outs.map(written);
    expect(lines.map((l) => l.length - 1)).toEqual([1200, 400, 400]);
    expect(lines[2]![0]).toBe('timestamp,value,anomaly_score,raw_score,grade,reason');
    const rows = lines.flatMap((l) => l.slice(1)).map((l) => l.split(','));
    expect(rows.map((c) => c[0])).toEqual(ROWS.map((r) => cell(r.time)));
    expect(rows.map((c) => [Number(c[2]), Number(c[3]), Number(c[4])])).toEqual(expected.map((s) => [s.anomalyScore, s.rawScore, s.grade]));
    expect(expected.filter((s) => s.anomalyScore > 0).length).toBeGreaterThan(1);
    const reasons = lines[2]!.slice(1).map((l) => l.split(',').slice(5).join(','));
    expect(reasons.map((r) => r !== '')).toEqual(expected.slice(1600).map((s) => s.anomalyScore > 0));

    // Nothing new: the output has its header only, and the state is left as it was, byte for byte.
    const before = readFileSync(state);
    expect(decodeSeriesRun(before, state)).toMatchObject({ columns: ['value'], lastTime: ROWS[1999]!.time, lastTimestamp: cell(ROWS[1999]!.time), rows: 2000 });
    expect(await cli(files[1]!, '--out', outs[1]!, '--state', state)).toContain(`no rows after the last row scored before; ${state} is unchanged`);
    expect(written(outs[1]!)).toEqual(['timestamp,value,anomaly_score,raw_score,grade']);
    expect(readFileSync(state).equals(before)).toBe(true);
    expect(readdirSync(dir).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });

  it('refuses what it cannot carry on with, and then changes neither the state nor the output', async () => {
    const state = path.join(dir, 'refuse.state');
    const out = path.join(dir, 'refuse.out');
    const part = path.join(dir, 'refuse.csv');
    writeFileSync(part, csv(ROWS.slice(0, 400)));
    // A first run with a timestamp that cannot be read saves nothing.
    const unreadable = path.join(dir, 'unreadable.csv');
    writeFileSync(unreadable, csv(ROWS.slice(0, 400)).replace(cell(ROWS[10]!.time), 'soon'));
    await expect(cli(unreadable, '--out', out, '--state', state, ...small)).rejects.toThrow(
      new CliError(`${unreadable}: with --state every timestamp must be readable, to tell the rows scored before from the new ones; 1 cannot be read (the first at ${unreadable}:12: "soon")`),
    );
    expect(existsSync(state)).toBe(false);
    expect(existsSync(out)).toBe(false);

    await cli(part, '--out', out, '--state', state, ...small);
    const saved = readFileSync(state);
    const output = readFileSync(out);
    const more = path.join(dir, 'more.csv');
    writeFileSync(more, csv(ROWS.slice(0, 500)));
    await expect(cli(more, '--out', out, '--state', state, '--trees', '20', '--no-weekly')).rejects.toThrow(
      `score-series: --trees, --no-weekly are detector settings, and the detector in ${state} keeps the settings it was built with; drop them, or delete ${state} to start again`,
    );
    const renamed = path.join(dir, 'renamed.csv');
    writeFileSync(renamed, csv(ROWS.slice(0, 500), 'timestamp,cpu'));
    await expect(cli(renamed, '--out', out, '--state', state)).rejects.toThrow(`${renamed}: its columns (cpu) are not those of the series in ${state} (value)`);
    await expect(cli(more, '--out', state, '--state', state)).rejects.toThrow('score-series: --state and --out name the same file');
    await expect(cli(more, '--out', out, '--state', '-')).rejects.toThrow('score-series: --state needs a file name (standard output carries the scores)');
    // Not a state, a cut-off one, and one whose detector's bytes were changed.
    const broken = path.join(dir, 'broken.state');
    const flipped = Buffer.from(saved);
    flipped[flipped.length - 100] = (flipped[flipped.length - 100] as number) ^ 1;
    for (const [bytes, why] of [
      [Buffer.from('timestamp,value\n'), /it does not start as one \(was it written by score-series --state\?\)/],
      [saved.subarray(0, 40), /its description claims \d+ bytes, \d+ remain/],
      [saved.subarray(0, saved.length - 10), /truncated|length/],
      [flipped, /checksum mismatch/],
    ] as const) {
      writeFileSync(broken, bytes);
      await expect(cli(more, '--out', out, '--state', broken)).rejects.toThrow(new RegExp(`${broken.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not a usable score-series state: .*${why.source}`));
      expect(readFileSync(broken).equals(bytes)).toBe(true);
    }
    expect(readFileSync(state).equals(saved)).toBe(true);
    expect(readFileSync(out).equals(output)).toBe(true);
    expect(readdirSync(dir).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });
});
