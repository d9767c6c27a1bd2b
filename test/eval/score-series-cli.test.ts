import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import { readSeriesInput, registerScoreSeries } from '../../src/cli/commands/score-series.js';
import { CliError } from '../../src/cli/errors.js';
import { DEFAULT_SERIES_OPTIONS, KINESIS_OPTIONS, type SeriesDetectorOptions } from '../../src/detect/series/detector.js';
import { scoreSeriesText } from '../../src/detect/series/run.js';

const dir = mkdtempSync(path.join(tmpdir(), 'flowcut-score-series-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function program(): Command {
  const p = new Command().name('flowcut').exitOverride();
  registerScoreSeries(p);
  return p;
}

function input(rows: number): string {
  const lines = ['timestamp,value'];
  for (let i = 0; i < rows; i++) lines.push(`2024-01-01 ${String(Math.floor(i / 60)).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}:00,${i === 250 ? 90 : 10 + Math.sin(i / 5)}`);
  return `${lines.join('\n')}\n`;
}

/**
 * `run(...flags)`: anomaly_score column of `score-series file` with those flags (10 trees, sample
 * 64); `lib(options, base)`: the same scores straight from the library, for comparison.
 */
function scorer(file: string, tag: string) {
  return {
    async run(...flags: string[]): Promise<number[]> {
      const out = path.join(dir, `${tag}-${flags.join('')}.csv`);
      await program().parseAsync(['node', 'flowcut', 'score-series', file, '--out', out, '--trees', '10', '--sample-size', '64', ...flags]);
      return readFileSync(out, 'utf8').trim().split('\n').slice(1).map((l) => Number(l.split(',')[2]));
    },
    lib(o: Partial<SeriesDetectorOptions>, base: SeriesDetectorOptions = DEFAULT_SERIES_OPTIONS): number[] {
      return scoreSeriesText(readFileSync(file, 'utf8'), file, { ...base, numberOfTrees: 10, sampleSize: 64, ...o }).scores.map((s) => s.anomalyScore);
    },
  };
}

describe('flowcut score-series', () => {
  it('writes timestamp,value,anomaly_score,raw_score,grade for every good row', async () => {
    const file = path.join(dir, 'in.csv');
    const out = path.join(dir, 'out.csv');
    writeFileSync(file, input(300).replace('\n2024-01-01 00:07:00,', '\n2024-01-01 00:07:00,oops\n2024-01-01 00:07:00,'));
    const rejects = path.join(dir, 'rejects.jsonl');
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      await program().parseAsync(['node', 'flowcut', 'score-series', file, '--out', out, '--trees', '10', '--sample-size', '64', '--rejects', rejects]);
      const said = stderr.mock.calls.map((c) => String(c[0])).join('');
      expect(said).toMatch(/in\.csv:9: column "value" is not a finite number/);
      expect(said).toContain(`skipped 1 bad rows (kept in ${rejects})`);
    } finally {
      stderr.mockRestore();
    }
    expect(readFileSync(rejects, 'utf8').trim().split('\n').map((l) => JSON.parse(l))).toEqual([
      { location: file, line: 9, reason: 'column "value" is not a finite number: "oops"', text: '2024-01-01 00:07:00,oops' },
    ]);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('timestamp,value,anomaly_score,raw_score,grade');
    expect(lines).toHaveLength(301);
    for (const l of lines.slice(1)) {
      const cells = l.split(',');
      expect(cells).toHaveLength(5);
      const score = Number(cells[2]);
      expect(score).toBeGreaterThanOrEqual(0);
      expect(score).toBeLessThanOrEqual(1);
    }
  });

  it('--explain adds a reason column, filled exactly on the rows with an anomaly_score above 0', async () => {
    const file = path.join(dir, 'explain.csv');
    const out = path.join(dir, 'explain.out.csv');
    writeFileSync(file, input(300));
    await program().parseAsync(['node', 'flowcut', 'score-series', file, '--out', out, '--trees', '10', '--sample-size', '64', '--explain']);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('timestamp,value,anomaly_score,raw_score,grade,reason');
    expect(lines).toHaveLength(301);
    const rows = lines.slice(1).map((l) => {
      const cells = l.split(',');
      return { score: Number(cells[2]), reason: cells.slice(5).join(',') };
    });
    for (const r of rows) expect(r.reason !== '').toBe(r.score > 0);
    // Row 250 is the one value of 90 in a series that waves between 9 and 11.
    expect(rows[250]!.reason).toMatch(/^value 90 is high; about (9|10|11)(\.\d+)? was expected; beyond every earlier value of value by [\d.]+ times its range seen before$/);
    // Without --explain the layout is the five columns, with the same scores.
    const plain = path.join(dir, 'explain.plain.csv');
    await program().parseAsync(['node', 'flowcut', 'score-series', file, '--out', plain, '--trees', '10', '--sample-size', '64']);
    const plainLines = readFileSync(plain, 'utf8').trim().split('\n');
    expect(plainLines[0]).toBe('timestamp,value,anomaly_score,raw_score,grade');
    expect(plainLines.slice(1).map((l) => l.split(',').slice(0, 5).join(','))).toEqual(lines.slice(1).map((l) => l.split(',').slice(0, 5).join(',')));
  });

  it('writes standard output with --out - and honours --kinesis', async () => {
    const file = path.join(dir, 'k.csv');
    writeFileSync(file, input(100));
    const chunks: string[] = [];
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
      chunks.push(String(c));
      return true;
    });
    try {
      await program().parseAsync(['node', 'flowcut', 'score-series', file, '--out', '-', '--kinesis', '--trees', '5']);
    } finally {
      stdout.mockRestore();
    }
    const lines = chunks.join('').trim().split('\n');
    expect(lines).toHaveLength(101);
    for (const l of lines.slice(1)) {
      const [, , score, raw] = l.split(',').map(Number);
      expect(score).toBeCloseTo(Math.min(1, (raw as number) / 8), 12);
    }
  });

  it('--cooldown replaces the probation share with fixed rows; giving both is an error', async () => {
    const file = path.join(dir, 'c.csv');
    // 3000 rows (probation 450): spikes at rows 1500 and 1650, the second smaller (150 rows apart,
    // past the refractory 100 rows).
    const lines = ['timestamp,value'];
    for (let i = 0; i < 3000; i++) lines.push(`${1_700_000_000 + 300 * i},${i === 1500 ? 90 : i === 1650 ? 60 : 10 + Math.sin(i / 5)}`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    const { run, lib } = scorer(file, 'c');
    expect(await run('--cooldown', '7')).toEqual(lib({ cooldown: 7, cooldownShare: 0 }));
    expect(await run('--cooldown-share', '0.2')).toEqual(lib({ cooldownShare: 0.2 }));
    const byDefault = await run();
    expect(byDefault).toEqual(lib({}));
    // A cool-down of 0.2 x 450 = 90 rows reports the second spike; the default 0.55 x 450 = 248 rows does not.
    const short = await run('--cooldown-share', '0.2');
    expect(short[1500]).toBeGreaterThan(0.5);
    expect(short[1650]).toBeGreaterThan(0.5);
    expect(byDefault[1500]).toBe(short[1500]);
    expect(byDefault[1650]).toBe(0);
    await expect(run('--cooldown', '7', '--cooldown-share', '0.2')).rejects.toThrow(/alternatives/);
    // A share of 0 is no cool-down (not the fixed rows behind it), as is --cooldown 0.
    const off = lib({ cooldown: 0, cooldownShare: 0 });
    expect(await run('--cooldown-share', '0')).toEqual(off);
    expect(await run('--cooldown', '0')).toEqual(off);
    expect(off[1650]).toBeGreaterThan(0.5);
    // With --kinesis (no cool-down by default) the flags given still apply.
    const kinesis = (o: Partial<SeriesDetectorOptions>) => lib(o, KINESIS_OPTIONS);
    expect(await run('--kinesis', '--cooldown-share', '0.3')).toEqual(kinesis({ cooldownShare: 0.3 }));
    expect(await run('--kinesis', '--cooldown', '40')).toEqual(kinesis({ cooldown: 40 }));
    expect(await run('--kinesis', '--cooldown-share', '0.3')).not.toEqual(kinesis({}));
  });

  it('reads "-" from standard input end to end, and keeps rejects even when every row is bad', async () => {
    const cli = new URL('../../dist/cli/main.js', import.meta.url).pathname;
    const runCli = (args: string[], stdin: string) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [cli, 'score-series', ...args]);
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('close', (code) => resolve({ code, stdout, stderr }));
        child.stdin.end(stdin);
      });
    const text = input(300).replace('\n2024-01-01 00:07:00,', '\n2024-01-01 00:07:00,oops\n2024-01-01 00:07:00,');
    const ok = await runCli(['-', '--trees', '10', '--sample-size', '64'], text);
    expect(ok.code).toBe(0);
    expect(ok.stdout.trim().split('\n')).toHaveLength(301);
    expect(ok.stderr).toContain('stdin:9: column "value" is not a finite number: "oops"');
    const rejects = path.join(dir, 'all-bad.jsonl');
    const bad = await runCli(['-', '--rejects', rejects], 'timestamp,value\nt1,x\nt2,\n');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/stdin: no valid data rows \(2 bad\)/);
    expect(readFileSync(rejects, 'utf8').trim().split('\n').map((l) => JSON.parse(l).line)).toEqual([2, 3]);
    const none = path.join(dir, 'none.jsonl');
    expect((await runCli(['-', '--rejects', none, '--trees', '5'], input(50))).code).toBe(0);
    expect(readFileSync(none, 'utf8')).toBe('');
    expect((await runCli(['-', '--rejects', '-'], input(50))).stderr).toMatch(/--rejects needs a file name/);
  });

  it('reads standard input for "-", and refuses an input over its size limit with a clear error', async () => {
    const text = input(300);
    const stdin = Readable.from([Buffer.from(text.slice(0, 1000)), Buffer.from(text.slice(1000))]);
    expect(await readSeriesInput('-', 1 << 20, stdin)).toBe(text);
    const file = path.join(dir, 'big.csv');
    writeFileSync(file, text);
    expect(await readSeriesInput(file, text.length)).toBe(text);
    await expect(readSeriesInput(file, text.length - 1)).rejects.toThrow(/larger than \d+ bytes.*split it/);
    await expect(readSeriesInput('-', 100, Readable.from([Buffer.from(text)]))).rejects.toThrow(/standard input is larger than 100 bytes/);
    await expect(readSeriesInput(path.join(dir, 'nope.csv'))).rejects.toThrow(/cannot read .*nope\.csv: ENOENT/);
  });

  it('passes the daily-recurrence flags to the detector, and refuses more matching days than days', async () => {
    const file = path.join(dir, 'r.csv');
    // Five days of 5-minute rows with a spike every night at 03:00.
    const lines = ['timestamp,value'];
    for (let i = 0; i < 5 * 288; i++) lines.push(`${1_700_006_400 + 300 * i},${i % 288 === 36 ? 40 : 10 + Math.sin(i / 5)}`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    const { run, lib } = scorer(file, 'r');
    const flags = ['--recurrence-days', '3', '--recurrence-min-days', '2', '--recurrence-tolerance', '10', '--recurrence-level-rows', '4', '--recurrence-share', '0.3', '--recurrence-power', '1'];
    const given = { recurrenceDays: 3, recurrenceMinDays: 2, recurrenceToleranceMinutes: 10, recurrenceLevelRows: 4, recurrenceShare: 0.3, recurrencePower: 1 };
    expect(await run(...flags)).toEqual(lib(given));
    const off = await run('--recurrence-days', '0');
    expect(off).toEqual(lib({ recurrenceDays: 0 }));
    expect(await run()).toEqual(lib({}));
    // The spike on the fourth night, after three nights of it: reported without the recurrence, not with it.
    const night4 = 3 * 288 + 36;
    expect(off[night4]).toBeGreaterThan(0.5);
    expect((await run(...flags))[night4]).toBeLessThan(0.05);
    await expect(run('--recurrence-min-days', '9')).rejects.toThrow(/min days must be an integer from 1 to the recurrence days \(7\), got 9/);
  });

  it('passes the weekly-view flags to the detector', async () => {
    const file = path.join(dir, 'w.csv');
    // Five weeks of hourly rows, low at weekends; day 23 (a Wednesday) looks like a Sunday.
    const lines = ['timestamp,value'];
    const monday = Date.UTC(2024, 0, 1) / 1000;
    for (let h = 0; h < 5 * 168; h++) {
      const day = Math.floor(h / 24);
      const low = day % 7 >= 5 || day === 23;
      lines.push(`${monday + 3600 * h},${(low ? 0.4 : 1) * (10 + 8 * Math.sin((2 * Math.PI * (h % 24)) / 24)) + 0.2 * ((h * 7919) % 5)}`);
    }
    writeFileSync(file, `${lines.join('\n')}\n`);
    const { run, lib } = scorer(file, 'w');
    const byDefault = await run();
    const off = await run('--no-weekly');
    expect(byDefault).toEqual(lib({}));
    expect(off).toEqual(lib({ weekly: false }));
    expect(byDefault).not.toEqual(off);
    expect(await run('--weekly-rows', '1', '--weekly-rhythm', '0.9')).toEqual(lib({ weeklyRows: 1, weeklyRhythm: 0.9 }));
    // A rhythm no series meets: the weekly forest never counts.
    expect(await run('--weekly-rhythm', '0.01')).toEqual(off);
  });

  it('passes the alarm-memory flags to the detector', async () => {
    const file = path.join(dir, 'a.csv');
    // The same 4-row burst every 397 rows, at no fixed time of day (rows a minute apart).
    const lines = ['timestamp,value'];
    for (let i = 0; i < 16 * 397; i++) lines.push(`${1_700_000_000 + 60 * i},${5 + 0.02 * ((i * 7919) % 7) + (i % 397 >= 200 && i % 397 < 204 ? 10 : 0)}`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    const { run, lib } = scorer(file, 'a');
    const byDefault = await run();
    const off = await run('--alarm-memory', '0');
    expect(byDefault).toEqual(lib({}));
    expect(off).toEqual(lib({ alarmMemory: 0 }));
    expect(byDefault).not.toEqual(off);
    const flags = ['--alarm-memory', '2', '--alarm-memory-share', '0.5', '--alarm-memory-rows', '3', '--alarm-memory-level-rows', '4', '--alarm-memory-power', '1'];
    expect(await run(...flags)).toEqual(lib({ alarmMemory: 2, alarmMemoryShare: 0.5, alarmMemoryRows: 3, alarmMemoryLevelRows: 4, alarmMemoryPower: 1 }));
    await expect(run('--alarm-memory-share', '0')).rejects.toThrow(/alarm memory share must be > 0/);
  });

  it('refuses quantile-mapping settings with another mapping, and warns when timestamps go back', async () => {
    const file = path.join(dir, 'm.csv');
    writeFileSync(file, input(300));
    const go = (...flags: string[]) => program().parseAsync(['node', 'flowcut', 'score-series', file, '--out', path.join(dir, 'm-out.csv'), '--trees', '5', '--sample-size', '16', ...flags]);
    await expect(go('--kinesis', '--recurrence-days', '3', '--weekly')).rejects.toThrow(
      /score-series: --recurrence-days, --weekly apply only with --mapping quantile \(the mapping is scaled\)/,
    );
    await expect(go('--mapping', 'grade', '--alarm-memory', '2')).rejects.toThrow(/--alarm-memory applies only with --mapping quantile/);
    await expect(go('--mapping', 'scaled', '--quantile', '0.9')).rejects.toThrow(/--quantile applies only with --mapping quantile/);
    // Turning a part off is no contradiction.
    await go('--kinesis', '--no-weekly', '--alarm-memory', '0', '--recurrence-days', '0');
    await go('--kinesis', '--mapping', 'quantile', '--weekly', '--recurrence-days', '3');

    const said = async (file: string) => {
      const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
      try {
        await program().parseAsync(['node', 'flowcut', 'score-series', file, '--out', `${file}.out`, '--trees', '5', '--sample-size', '16']);
        return stderr.mock.calls.map((c) => String(c[0])).join('');
      } finally {
        stderr.mockRestore();
      }
    };
    // One row carries a day-later timestamp: with every time readable, the rows are put in order.
    const back = path.join(dir, 'back.csv');
    const lines = input(300).trim().split('\n');
    lines[101] = `2024-01-02 00:00:00,${lines[101]?.split(',')[1]}`;
    writeFileSync(back, `${lines.join('\n')}\n`);
    expect(await said(back)).toContain(`flowcut: ${back}: the rows were not in time order (1 came earlier than the row before them); they were scored, and are written, in time order`);
    const written = readFileSync(`${back}.out`, 'utf8').trim().split('\n').slice(1).map((l) => l.split(',')[0]);
    expect(written).toEqual([...lines.slice(1, 101), ...lines.slice(102), lines[101]].map((l) => l!.split(',')[0]));
    // With a time that cannot be read, the file's order stays; the time lookups pass over the row
    // stamped a day ahead, restart where the rows go back a day, and pass over a row that comes a
    // minute late.
    const mixed = path.join(dir, 'mixed.csv');
    lines[50] = `soon,${lines[50]?.split(',')[1]}`;
    for (let k = 150; k < lines.length; k++) lines[k] = lines[k]!.replace('2024-01-01', '2023-12-31');
    [lines[200], lines[201]] = [lines[201]!, lines[200]!];
    writeFileSync(mixed, `${lines.join('\n')}\n`);
    const told = await said(mixed);
    expect(told).toContain(`flowcut: ${mixed}: 1 of 300 timestamps could not be read as times (the first at ${mixed}:51: "soon"), so the rows were kept in the file's order; the daily recurrence, weekly view and time of day pass over those rows.`);
    expect(told).toContain(`flowcut: ${mixed}: 1 row(s) had a timestamp more than 6 hours earlier than a row before them; the day- and week-ago lookups (daily recurrence, weekly view) started again from each`);
    expect(told).toContain(`flowcut: ${mixed}: 1 row(s) had a timestamp up to 6 hours earlier than a row before them; each was scored, but not kept for the day- and week-ago lookups`);
    expect(told).toContain(`flowcut: ${mixed}: 1 row(s) had a timestamp more than 6 hours later than the rows before them and the row after them; each was scored, but not kept for the day- and week-ago lookups`);
  });

  it('scores a newest-first export in time order, exactly as the same rows oldest-first', async () => {
    const rows = input(400).trim().split('\n');
    const oldest = path.join(dir, 'oldest.csv');
    const newest = path.join(dir, 'newest.csv');
    writeFileSync(oldest, `${rows.join('\n')}\n`);
    writeFileSync(newest, `${[rows[0], ...rows.slice(1).reverse()].join('\n')}\n`);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      for (const f of [oldest, newest]) await program().parseAsync(['node', 'flowcut', 'score-series', f, '--out', `${f}.out`, '--trees', '10', '--sample-size', '64']);
    } finally {
      stderr.mockRestore();
    }
    expect(readFileSync(`${newest}.out`, 'utf8')).toBe(readFileSync(`${oldest}.out`, 'utf8'));
  });

  it('refuses an --out it cannot write before reading the input, and never leaves a cut-off output or harms the input', async () => {
    const missing = path.join(dir, 'no-such-input.csv');
    const go = (file: string, out: string) => program().parseAsync(['node', 'flowcut', 'score-series', file, '--out', out]);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      // The input does not exist either: the --out error comes first, since the output is opened first.
      await expect(go(missing, path.join(dir, 'no-such-dir', 'x.csv'))).rejects.toThrow(/^cannot write .*no-such-dir\/x\.csv: ENOENT$/);
      await expect(go(missing, dir)).rejects.toThrow(/^cannot write .*: EISDIR$/);
    } finally {
      stderr.mockRestore();
    }
    // A write that fails part-way (a file-size limit of 40 KiB, as a full disk would) on --out equal to the input.
    const cli = new URL('../../dist/cli/main.js', import.meta.url).pathname;
    const work = mkdtempSync(path.join(dir, 'inplace-'));
    const file = path.join(work, 'series.csv');
    const original = input(2000);
    writeFileSync(file, original);
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn('bash', ['-c', `ulimit -f 40; exec "${process.execPath}" "${cli}" score-series "${file}" --out "${file}" --trees 5 --sample-size 16`]);
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('close', (code) => resolve({ code, stderr: err }));
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/cannot write output: EFBIG/);
    expect(result.stderr).toContain(`${file} was not written (nothing there has changed)`);
    expect(readFileSync(file, 'utf8')).toBe(original);
    expect(readdirSync(work)).toEqual(['series.csv']);

    // What is not a regular file is written in place, not replaced: a device, a symbolic link.
    const quiet = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      await program().parseAsync(['node', 'flowcut', 'score-series', file, '--out', '/dev/null', '--trees', '5', '--sample-size', '16']);
      expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
      const target = path.join(work, 'target.csv');
      const link = path.join(work, 'link.csv');
      writeFileSync(target, 'old');
      symlinkSync(target, link);
      await program().parseAsync(['node', 'flowcut', 'score-series', file, '--out', link, '--trees', '5', '--sample-size', '16']);
      expect(lstatSync(link).isSymbolicLink()).toBe(true);
      expect(readFileSync(target, 'utf8').split('\n')[0]).toBe('timestamp,value,anomaly_score,raw_score,grade');
      expect(readdirSync(work).sort()).toEqual(['link.csv', 'series.csv', 'target.csv']);
    } finally {
      quiet.mockRestore();
    }
  });

  it('refuses option values it cannot honour before reading the input, in plain decimal only', async () => {
    const missing = path.join(dir, 'no-such-input.csv');
    const go = (...flags: string[]) => program().configureOutput({ writeErr: () => {} }).parseAsync(['node', 'flowcut', 'score-series', missing, ...flags]);
    await expect(go('--trees', '70000')).rejects.toThrow(/numberOfTrees must be an integer in \[1, 1000\], got 70000/);
    await expect(go('--sample-size', '40000')).rejects.toThrow(/sampleSize must be an integer in \[2, 32767\]/);
    await expect(go('--shingle', '100000')).rejects.toThrow(/shingle size must be an integer in \[1, 1024\]/);
    await expect(go('--history', '1000000000')).rejects.toThrow(/history must be an integer in \[1, 10000000\]/);
    await expect(go('--cooldown', '50000000')).rejects.toThrow(/cooldown must be an integer in \[0, 75000\]/);
    await expect(go('--seed', '4294967297')).rejects.toThrow(/seed must be an integer in \[0, 4294967295\]/);
    await expect(go('--time-of-day', '1e308')).rejects.toThrow(/timeOfDayWeight must be in \[0, 1000000\]/);
    for (const [flag, value] of [['--trees', '0x10'], ['--seed', ''], ['--time-decay', ''], ['--time-decay', '0b11'], ['--shingle', '1,0x4']]) {
      await expect(go(flag!, value!), `${flag} ${JSON.stringify(value)}`).rejects.toThrow(/written in decimal|positive integers/);
    }
  });

  it('explains a UTF-16 file, and reads CR-only line endings and a trailing comma on every line', async () => {
    const utf16 = path.join(dir, 'utf16.csv');
    writeFileSync(utf16, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(input(10), 'utf16le')]));
    await expect(readSeriesInput(utf16)).rejects.toThrow(/is UTF-16 text; score-series reads UTF-8: convert it first/);
    const plain = scoreSeriesText(input(300), 'p.csv', { ...DEFAULT_SERIES_OPTIONS, numberOfTrees: 5, sampleSize: 16 });
    const cr = scoreSeriesText(input(300).replaceAll('\n', '\r'), 'cr.csv', { ...DEFAULT_SERIES_OPTIONS, numberOfTrees: 5, sampleSize: 16 });
    const comma = scoreSeriesText(input(300).replaceAll('\n', ',\n'), 'comma.csv', { ...DEFAULT_SERIES_OPTIONS, numberOfTrees: 5, sampleSize: 16 });
    for (const other of [cr, comma]) {
      expect(other.bad).toEqual([]);
      expect(other.columns).toEqual(['value']);
      expect(other.scores).toEqual(plain.scores);
    }
  });

  it('reports user errors as CliError', async () => {
    await expect(program().parseAsync(['node', 'flowcut', 'score-series', path.join(dir, 'missing.csv')])).rejects.toBeInstanceOf(CliError);
    const empty = path.join(dir, 'empty.csv');
    writeFileSync(empty, 'timestamp,value\nx,y\n');
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      await expect(program().parseAsync(['node', 'flowcut', 'score-series', empty])).rejects.toThrow(/no valid data rows/);
    } finally {
      stderr.mockRestore();
    }
  });
});
