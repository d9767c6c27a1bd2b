import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { LabelledSeries, Profile } from './scorer.js';

/** NAB's timestamps ("2014-04-10 07:15:00" in data, "...:00.000000" in labels) as UTC milliseconds. */
export function parseNabTimestamp(text: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?Z?$/.exec(text.trim());
  if (m) {
    const frac = m[7] === undefined ? 0 : Number(`0.${m[7]}`) * 1000;
    return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) + frac;
  }
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new Error(`not a timestamp: ${JSON.stringify(text)}`);
  return t;
}

/** NAB's CSVs are plain (no quoting), so a split is enough; a header row is required. */
export function readPlainCsv(file: string): { header: string[]; rows: string[][] } {
  const lines = readFileSync(file, 'utf8').split(/\r?\n/);
  const header = (lines[0] ?? '').split(',').map((h) => h.trim());
  const rows: string[][] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.trim() === '') continue;
    rows.push(line.split(','));
  }
  return { header, rows };
}

export interface NabDataFile extends LabelledSeries {
  /** Path under `data/`, e.g. `realKnownCause/nyc_taxi.csv`: the key NAB's labels use. */
  readonly name: string;
  readonly path: string;
  readonly rawTimestamps: readonly string[];
  readonly values: readonly number[];
}

export interface NabCorpus {
  readonly root: string;
  readonly files: readonly NabDataFile[];
  readonly profiles: readonly Profile[];
  readonly windowCount: number;
}

export const PROFILE_ORDER = ['standard', 'reward_low_FP_rate', 'reward_low_FN_rate'] as const;

export function loadProfiles(root: string): Profile[] {
  const json = JSON.parse(readFileSync(path.join(root, 'profiles.json'), 'utf8')) as Record<
    string,
    { CostMatrix: { tpWeight: number; fpWeight: number; fnWeight: number } }
  >;
  const names = Object.keys(json).sort((a, b) => rank(a) - rank(b));
  return names.map((name) => {
    const c = (json[name] as { CostMatrix: { tpWeight: number; fpWeight: number; fnWeight: number } }).CostMatrix;
    return { name, costMatrix: { tpWeight: c.tpWeight, fpWeight: c.fpWeight, fnWeight: c.fnWeight } };
  });
}

function rank(profile: string): number {
  const i = (PROFILE_ORDER as readonly string[]).indexOf(profile);
  return i < 0 ? PROFILE_ORDER.length : i;
}

/** Every `data/<category>/<file>.csv` under a NAB root, in name order, with its windows. */
export function loadCorpus(root: string): NabCorpus {
  const dataDir = path.join(root, 'data');
  const windowsJson = JSON.parse(readFileSync(path.join(root, 'labels', 'combined_windows.json'), 'utf8')) as Record<
    string,
    [string, string][]
  >;
  const files: NabDataFile[] = [];
  let windowCount = 0;
  for (const category of readdirSync(dataDir).sort()) {
    const catDir = path.join(dataDir, category);
    if (!statSync(catDir).isDirectory()) continue;
    for (const base of readdirSync(catDir).sort()) {
      if (!base.endsWith('.csv')) continue;
      const name = `${category}/${base}`;
      const labelled = windowsJson[name];
      if (labelled === undefined) throw new Error(`${name}: no entry in labels/combined_windows.json`);
      const file = path.join(catDir, base);
      const { header, rows } = readPlainCsv(file);
      if (header[0] !== 'timestamp' || header[1] !== 'value') {
        throw new Error(`${file}: expected a "timestamp,value" header, got ${JSON.stringify(header.join(','))}`);
      }
      const rawTimestamps = rows.map((r) => r[0] as string);
      const windows = labelled.map(([a, b]) => [parseNabTimestamp(a), parseNabTimestamp(b)] as const);
      windowCount += windows.length;
      files.push({
        name,
        path: file,
        rawTimestamps,
        timestamps: rawTimestamps.map(parseNabTimestamp),
        values: rows.map((r) => Number(r[1])),
        windows,
      });
    }
  }
  if (files.length === 0) throw new Error(`${dataDir}: no data files`);
  return { root, files, profiles: loadProfiles(root), windowCount };
}

/** Where NAB keeps a detector's output for a data file: `<results>/<det>/<category>/<det>_<file>`. */
export function resultPath(resultsDir: string, detector: string, dataName: string): string {
  const [category, base] = dataName.split('/') as [string, string];
  return path.join(resultsDir, detector, category, `${detector}_${base}`);
}

/** The `anomaly_score` column of a detector's result file for one data file. */
export function readAnomalyScores(file: string, expectedRows: number): Float64Array {
  const { header, rows } = readPlainCsv(file);
  const col = header.indexOf('anomaly_score');
  if (col < 0) throw new Error(`${file}: no anomaly_score column`);
  if (rows.length !== expectedRows) throw new Error(`${file}: ${rows.length} rows, the data file has ${expectedRows}`);
  const out = new Float64Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const v = Number((rows[i] as string[])[col]);
    if (!Number.isFinite(v)) throw new Error(`${file}:${i + 2}: anomaly_score is not a number`);
    out[i] = v;
  }
  return out;
}
