import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { parquetMetadata } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATHENA_TYPE, athenaDdl, locationTemplate, PARTITION_COLUMNS } from '../../src/archive/athena.js';
import { partitionPath } from '../../src/archive/partition.js';
import { ARCHIVE_SCHEMA, storedColumns } from '../../src/archive/schema.js';
import { LocalStore } from '../../src/archive/store.js';
import { ArchiveWriter } from '../../src/archive/writer.js';
import { FlowDecoder } from '../../src/decode/decoder.js';
import { simulateTraffic } from '../../src/sim/traffic.js';

const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const ATHENA_OF: Record<string, string> = { INT32: 'int', INT64: 'bigint', BYTE_ARRAY: 'string' };

/** Columns of the table body and of PARTITIONED BY, as [name, type]. */
function ddlColumns(ddl: string): { columns: [string, string][]; partitions: [string, string][]; props: Map<string, string> } {
  const block = (from: RegExp): [string, string][] => {
    const start = from.exec(ddl)!.index;
    const body = ddl.slice(ddl.indexOf('\n', start) + 1, ddl.indexOf('\n)', start));
    return body.split(',\n').map((l) => {
      const m = /^\s*`([a-z0-9_]+)` (int|bigint|string)$/.exec(l);
      if (!m) throw new Error(`bad column line: ${l}`);
      return [m[1]!, m[2]!];
    });
  };
  const props = new Map<string, string>();
  for (const m of ddl.matchAll(/^\s*'([^']+)' = '([^']*)'/gm)) props.set(m[1]!, m[2]!);
  return { columns: block(/^CREATE EXTERNAL TABLE/m), partitions: block(/^PARTITIONED BY/m), props };
}

let dir: string;
let parquetFile: Uint8Array;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flowcut-athena-'));
  // A real archive file: the DDL must match what the writer writes, not just the schema constant.
  const writer = new ArchiveWriter({ store: new LocalStore(join(dir, 'archive')), defaultRegion: 'eu-west-1' });
  const unit = { objectId: 'athena-test', location: join(dir, 'in.log') };
  const decoder = new FlowDecoder({ batch: (b) => writer.add(b, unit), reject: () => {} });
  const lines = simulateTraffic({ seed: 3, minutes: 3 }).map((l) => l.line).join('\n');
  await decoder.decodeObject({ location: unit.location, key: 'in.log', open: async function* () { yield Buffer.from(lines + '\n'); } });
  decoder.flush();
  writer.endObject(unit);
  const r = await writer.flush();
  parquetFile = await readFile(join(dir, 'archive', r.files[0]!));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('athena-ddl', () => {
  const ddl = athenaDdl({ location: 's3://bucket/pre/fix', table: 'flows', database: 'net', regions: ['eu-west-1', 'us-east-1'], years: [2024, 2027] });

  it('declares every Parquet column of an archive file, in order, with its Athena type', () => {
    const meta = parquetMetadata(parquetFile.buffer.slice(parquetFile.byteOffset, parquetFile.byteOffset + parquetFile.byteLength) as ArrayBuffer);
    const fileColumns = meta.schema.slice(1).map((e) => [e.name, ATHENA_OF[e.type!]]);
    const { columns } = ddlColumns(ddl);
    expect(columns.map(([n]) => n)).toEqual(ARCHIVE_SCHEMA.map((c) => c.name));
    // A file stores the columns it has values for (Athena reads Parquet by name: absent is null),
    // each under the DDL's name and type, in the DDL's order.
    expect(fileColumns.length).toBeGreaterThanOrEqual(16);
    expect(columns.filter(([n]) => fileColumns.some(([f]) => f === n))).toEqual(fileColumns);
    const all = storedColumns(ARCHIVE_SCHEMA.map(() => ({ numbers: new Float64Array(0) }))).schema;
    expect(columns).toEqual(all.map((c) => [c.name, ATHENA_TYPE[c.type]]));
    expect(columns).toContainEqual(['end', 'bigint']);
    expect(columns).toContainEqual(['sub_index', 'int']);
    expect(ddl).toMatch(/^CREATE EXTERNAL TABLE IF NOT EXISTS `net`\.`flows` \(/);
    expect(ddl).toContain("LOCATION 's3://bucket/pre/fix/AWSLogs/'");
    expect(ddl).toContain('STORED AS PARQUET');
  });

  it('partitions by the Hive keys with projection whose template is the writer\'s layout', () => {
    const { partitions, props } = ddlColumns(ddl);
    expect(partitions).toEqual(PARTITION_COLUMNS.map((c) => [c.name, c.type]));
    expect(props.get('projection.enabled')).toBe('true');
    expect(props.get('projection.aws_account_id.type')).toBe('injected');
    expect(props.get('projection.aws_region.values')).toBe('eu-west-1,us-east-1');
    expect(props.get('projection.year.range')).toBe('2024,2027');
    const template = props.get('storage.location.template')!;
    expect(template).toBe(locationTemplate('s3://bucket/pre/fix'));
    // Every hour the writer can produce is a projected partition whose path is the writer's path.
    fc.assert(
      fc.property(fc.constantFrom('123456789012', '000000000001'), fc.constantFrom('eu-west-1', 'us-east-1'), fc.integer({ min: Date.UTC(2024, 0, 1) / 3.6e6, max: Date.UTC(2028, 0, 1) / 3.6e6 - 1 }), (account, region, hour) => {
        const d = new Date(hour * 3.6e6);
        const values: Record<string, string> = { aws_account_id: account, aws_region: region };
        for (const [k, v, digits] of [['year', d.getUTCFullYear(), 'projection.year.digits'], ['month', d.getUTCMonth() + 1, 'projection.month.digits'], ['day', d.getUTCDate(), 'projection.day.digits'], ['hour', d.getUTCHours(), 'projection.hour.digits']] as const) {
          const [lo, hi] = props.get(`projection.${k}.range`)!.split(',').map(Number);
          expect(v).toBeGreaterThanOrEqual(lo!);
          expect(v).toBeLessThanOrEqual(hi!);
          expect(props.get(`projection.${k}.type`)).toBe('integer');
          values[k] = String(v).padStart(Number(props.get(digits)), '0');
        }
        const path = template.replace(/\$\{([a-z_]+)\}/g, (_, k: string) => values[k]!);
        expect(path).toBe(`s3://bucket/pre/fix/${partitionPath(account, region, hour)}`);
      }),
    );
  });

  it('uses an enum for --accounts and refuses names Athena would not take', () => {
    const { props } = ddlColumns(athenaDdl({ location: 's3://b', table: 't', accounts: ['111111111111', '222222222222'], regions: ['eu-west-1'], years: [2026, 2026] }));
    expect(props.get('projection.aws_account_id.type')).toBe('enum');
    expect(props.get('projection.aws_account_id.values')).toBe('111111111111,222222222222');
    expect(() => athenaDdl({ location: 's3://b', table: 'Bad-Name', regions: ['eu-west-1'], years: [2026, 2026] })).toThrow(/table name/);
    expect(() => athenaDdl({ location: 's3://b', table: 't', regions: [], years: [2026, 2026] })).toThrow(/region/);
  });

  it.skipIf(!existsSync(CLI))('flowcut athena-ddl reads projection values from a local archive and says where to copy it', () => {
    const r = spawnSync(process.execPath, [CLI, 'athena-ddl', '--archive', join(dir, 'archive'), '--location', 's3://arch/flows', '--table', 'flows'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/local directory: Athena reads S3 only/);
    const { props, columns } = ddlColumns(r.stdout);
    expect(columns.length).toBe(ARCHIVE_SCHEMA.length);
    expect(props.get('projection.aws_region.values')).toBe('eu-west-1');
    expect(props.get('projection.aws_account_id.values')).toBe('123456789012');
    expect(props.get('storage.location.template')).toBe(locationTemplate('s3://arch/flows'));
    const bad = spawnSync(process.execPath, [CLI, 'athena-ddl', '--archive', 's3://arch/flows'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--regions/);
  });
});
