import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { hostname, tmpdir } from 'node:os';
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
/** Five-minute rows: a daily cycle, a nightly spike at 03:00, two incidents. */
const series = (n: number) => Array.from({ length: n }, (_, i) => {
  const time = T0 + i * STEP;
  const hour = (i * 5) / 60 % 24;
  const value = 50 + 20 * Math.sin((2 * Math.PI * hour) / 24) + ((i * 7919) % 11) / 4 + (Math.floor(hour * 12) === 36 ? 30 : 0) + (i === 900 || i === 1700 ? 120 : 0);
  return { time, value };
});
const ROWS = series(2000);
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
    expect(await cli(files[0]!, '--out', outs[0]!, '--state', state, ...small)).toContain(`the detector is saved in ${state}: 1200 rows in all, the latest at ${cell(ROWS[1199]!.time)}`);
    // The second export repeats the first's rows: those are left out.
    expect(await cli(files[1]!, '--out', outs[1]!, '--state', state)).toContain(`1200 row(s) were scored (or rejected as too late) in an earlier run and are left out`);
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
    expect(decodeSeriesRun(before, state)).toMatchObject({ columns: ['value'], lastTime: ROWS[1999]!.time, reference: ROWS[1999]!.time, lastTimestamp: cell(ROWS[1999]!.time), rows: 2000 });
    expect(await cli(files[1]!, '--out', outs[1]!, '--state', state)).toContain(`no rows to score after those scored before; ${state} is unchanged`);
    expect(written(outs[1]!)).toEqual(['timestamp,value,anomaly_score,raw_score,grade']);
    expect(readFileSync(state).equals(before)).toBe(true);
    expect(readdirSync(dir).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });

  it('scores a late or repeated-time row it had not scored, keeps one too late to score, and is not stopped by a row stamped ahead', async () => {
    const state = path.join(dir, 'late.state');
    const rejects = path.join(dir, 'late.jsonl');
    const first = path.join(dir, 'late-1.csv');
    // Row 500 is missing from the first export, and its last row is stamped a year ahead.
    const ahead = { time: ROWS[599]!.time + 365 * 24 * 3_600_000, value: ROWS[599]!.value };
    writeFileSync(first, csv([...ROWS.slice(0, 500), ...ROWS.slice(501, 599), ahead]));
    await cli(first, '--out', `${first}.out`, '--state', state, ...small);
    expect(decodeSeriesRun(readFileSync(state), state)).toMatchObject({ lastTime: ahead.time, reference: ROWS[598]!.time, rows: 599 });
    // The second export has everything up to row 700, a second row at row 598's time, and row 500 again.
    const second = path.join(dir, 'late-2.csv');
    const extra = { time: ROWS[598]!.time, value: 77 };
    // It ends with another row stamped ahead.
    const ahead2 = { time: ROWS[699]!.time + 200 * 24 * 3_600_000, value: ROWS[699]!.value };
    writeFileSync(second, csv([...ROWS.slice(0, 700), extra, ahead, ahead2]));
    const said = await cli(second, '--out', `${second}.out`, '--state', state, '--rejects', rejects);
    // Row 500 is more than 6 hours before row 598: too late, kept with its line (501 + the header).
    expect(said).toContain(
      `flowcut: ${second}: 1 row(s) not scored before, and more than 6 hours before the rows already scored (up to ${new Date(ROWS[598]!.time).toISOString()}): too late to score in time order, left out (${second}:502; kept in ${rejects})`,
    );
    const rejected = () => readFileSync(rejects, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { line: number; text: string });
    expect(rejected()).toMatchObject([{ line: 502, text: `${cell(ROWS[500]!.time)},${ROWS[500]!.value}` }]);
    expect(said).toContain(`599 row(s) were scored (or rejected as too late) in an earlier run and are left out`);
    // Scored: the second row at row 598's time, rows 599 to 699 (not held up by the row a year ahead), and the new row ahead.
    const scored = (f: string) => written(`${f}.out`).slice(1).map((l) => l.split(',').slice(0, 2).join(','));
    expect(scored(second)).toEqual([extra, ...ROWS.slice(599, 700), ahead2].map((r) => `${cell(r.time)},${r.value}`));
    // Two rows stamped ahead by then, and row 500 once more: neither holds the third run up, and row 500 is not rejected again.
    const third = path.join(dir, 'late-3.csv');
    writeFileSync(third, csv([...ROWS.slice(0, 800), extra, ahead, ahead2]));
    await cli(third, '--out', `${third}.out`, '--state', state, '--rejects', rejects);
    expect(scored(third)).toEqual(ROWS.slice(700, 800).map((r) => `${cell(r.time)},${r.value}`));
    expect(rejected()).toHaveLength(1);
  });

  it('without time lookups, is not held up by a row stamped ahead either', async () => {
    const state = path.join(dir, 'kinesis.state');
    const first = path.join(dir, 'kinesis-1.csv');
    const ahead = { time: ROWS[399]!.time + 30 * 24 * 3_600_000, value: 60 };
    writeFileSync(first, csv([...ROWS.slice(0, 400), ahead]));
    await cli(first, '--out', `${first}.out`, '--state', state, '--kinesis', '--trees', '5', '--sample-size', '32');
    const second = path.join(dir, 'kinesis-2.csv');
    writeFileSync(second, csv([...ROWS.slice(0, 500), ahead]));
    await cli(second, '--out', `${second}.out`, '--state', state);
    expect(written(`${second}.out`).slice(1).map((l) => l.split(',')[0])).toEqual(ROWS.slice(400, 500).map((r) => cell(r.time)));
  });

  it('refuses a value beyond what the first run\'s scaling lets the forests hold, once, and scores the rest', async () => {
    const state = path.join(dir, 'scale.state');
    const rejects = path.join(dir, 'scale.jsonl');
    // A first week nearly constant: its range is a thousandth wide.
    const flat = ROWS.slice(0, 400).map((r, i) => ({ time: r.time, value: 50 + (i % 2) / 1000 }));
    const first = path.join(dir, 'scale-1.csv');
    writeFileSync(first, csv(flat));
    await cli(first, '--out', `${first}.out`, '--state', state, ...small);
    const second = path.join(dir, 'scale-2.csv');
    const rows2 = [...flat, ...ROWS.slice(400, 450).map((r, i) => ({ time: r.time, value: i === 20 ? 1e37 : 50 + (i % 3) / 1000 }))];
    writeFileSync(second, csv(rows2));
    const said = await cli(second, '--out', `${second}.out`, '--state', state, '--rejects', rejects);
    expect(said).toContain(`flowcut: not scored ${second}:422: value 1 (1e+37) is outside what the forests hold`);
    expect(said).toContain(`(the scaling is the first run's: delete the state to start again with this range)`);
    expect(said).toContain(`flowcut: ${second}: 1 row(s) not scored (kept in ${rejects})`);
    expect(written(`${second}.out`).slice(1).map((l) => l.split(',')[0])).toEqual(rows2.slice(400).filter((_, i) => i !== 20).map((r) => cell(r.time)));
    // The same export again: nothing to score, and the refused row is not reported again.
    const again = await cli(second, '--out', `${second}.out`, '--state', state, '--rejects', rejects);
    expect(again).toContain('no rows to score after those scored before');
    expect(again).not.toContain('not scored');
    expect(readFileSync(rejects, 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('leaves the state as it was when standard output closes before every score is out', async () => {
    const state = path.join(dir, 'pipe.state');
    const file = path.join(dir, 'pipe.csv');
    writeFileSync(file, csv(ROWS.slice(0, 1500)));
    await cli(file, '--out', `${file}.out`, '--state', state, ...small);
    const saved = readFileSync(state);
    // Enough new rows that their scores outgrow the pipe's buffer.
    writeFileSync(file, csv(series(12000)));
    const main = new URL('../../dist/cli/main.js', import.meta.url).pathname;
    const stderr = await new Promise<string>((resolve) => {
      const child = spawn(process.execPath, [main, 'score-series', file, '--state', state]);
      let text = '';
      child.stderr.on('data', (d: Buffer) => (text += d.toString()));
      // Like `| head -1`: read the first bytes, then close the pipe.
      child.stdout.once('data', () => child.stdout.destroy());
      child.on('close', () => resolve(text));
    });
    expect(stderr).toContain(`standard output closed before every score was written; ${state} is unchanged, so the next run scores these rows again`);
    expect(readFileSync(state).equals(saved)).toBe(true);
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
    await expect(cli(more, '--out', `./${path.relative('.', state)}`, '--state', state)).rejects.toThrow('score-series: --state and --out name the same file');
    await expect(cli(more, '--out', out, '--rejects', state, '--state', state)).rejects.toThrow('score-series: --state and --rejects name the same file');
    // A link to a state not yet written names it too.
    const dangling = path.join(dir, 'dangling.csv');
    symlinkSync(path.join(dir, 'not-yet.state'), dangling);
    await expect(cli(more, '--out', dangling, '--state', path.join(dir, 'not-yet.state'))).rejects.toThrow('score-series: --state and --out name the same file');
    expect(existsSync(path.join(dir, 'not-yet.state'))).toBe(false);
    const link = path.join(dir, 'link.state');
    symlinkSync(state, link);
    await expect(cli(more, '--out', out, '--state', link)).rejects.toThrow(`score-series: --state ${link} is not a regular file (a symbolic link: name the file it points to)`);
    await expect(cli(more, '--out', out, '--state', '-')).rejects.toThrow('score-series: --state needs a file name (standard output carries the scores)');
    // Not a state, a cut-off one, and one whose detector's bytes were changed.
    const broken = path.join(dir, 'broken.state');
    const flipped = Buffer.from(saved);
    flipped[flipped.length - 100] = (flipped[flipped.length - 100] as number) ^ 1;
    for (const [bytes, why] of [
      [Buffer.from('timestamp,value\n'), /it does not start as one \(was it written by score-series --state\?\)/],
      [saved.subarray(0, 40), /its description claims \d+ bytes, \d+ remain/],
      [Buffer.from(saved).fill(0x20, 40, 41), /its description fails its checksum/],
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
    // Every refused run let go of its lock.
    expect(readdirSync(dir).filter((f) => f.endsWith('.lock'))).toEqual([]);
  });

  it('lets one run at a time use a state: a live holder is named and nothing changes; a lock left by a run that ended is taken over', async () => {
    const state = path.join(dir, 'locked.state');
    const lock = `${state}.lock`;
    const file = path.join(dir, 'locked.csv');
    writeFileSync(file, csv(ROWS.slice(0, 400)));
    await cli(file, '--out', `${file}.out`, '--state', state, ...small);
    expect(existsSync(lock)).toBe(false);
    const saved = readFileSync(state);
    writeFileSync(file, csv(ROWS.slice(0, 500)));
    const out = path.join(dir, 'locked-2.out');

    // A run in progress here (this very process), and one on another host sharing the directory.
    for (const [claim, who] of [
      [`${process.pid} ${hostname()} 2026-11-28T10:00:00.000Z\n`, `process ${process.pid} on ${hostname()}, since 2026-11-28T10:00:00.000Z`],
      [`1 elsewhere.example 2026-11-28T09:00:00.000Z\n`, 'process 1 on elsewhere.example, since 2026-11-28T09:00:00.000Z'],
      ['', 'a run whose lock cannot be read'],
    ] as const) {
      writeFileSync(lock, claim);
      await expect(cli(file, '--out', out, '--state', state)).rejects.toThrow(
        new CliError(`score-series: ${state} is in use by another run (${who}); --state allows one run at a time. If no run is going on, delete ${lock}`),
      );
      expect(readFileSync(lock, 'utf8')).toBe(claim);
      expect(readFileSync(state).equals(saved)).toBe(true);
      expect(existsSync(out)).toBe(false);
    }

    // A process that has ended cannot be holding it.
    const ended = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const pid = Number(ended.stdout);
    expect(pid).toBeGreaterThan(0);
    writeFileSync(lock, `${pid} ${hostname()} 2026-11-28T08:00:00.000Z\n`);
    const stderr = await cli(file, '--out', out, '--state', state);
    expect(stderr).toContain(`flowcut: ${lock} was left by process ${pid}, which has ended; taking it over`);
    expect(stderr).toContain(`the detector is saved in ${state}: 500 rows in all`);
    expect(written(out).length - 1).toBe(100);
    expect(existsSync(lock)).toBe(false);
  });
});
