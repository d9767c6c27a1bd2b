import { ByteSink } from '../../src/archive/parquet/bytes.js';
import { ThriftWriter } from '../../src/archive/parquet/thrift.js';

/**
 * Hand-made Parquet files whose page headers and footer say whatever a test needs (uncompressed
 * pages only), for the claims a real writer never makes: pages claiming more values than they
 * hold, row groups without a column, row counts no object could hold.
 */
export const PHYSICAL = { INT32: 1, BYTE_ARRAY: 6 } as const;
export const ENCODING = { PLAIN: 0, RLE: 3, RLE_DICTIONARY: 8 } as const;

export interface CraftedColumn {
  readonly name: string;
  readonly physical: number;
  /** 0 = UTF8 (strings); omitted for numbers. */
  readonly converted?: number;
}

export interface CraftedPage {
  /** 0 = data page, 2 = dictionary page. */
  readonly type: 0 | 2;
  readonly values: number;
  readonly encoding: number;
  readonly body: Uint8Array;
}

export interface CraftedGroup {
  readonly rows: number;
  /** Pages by column name; a column left out has no chunk in this group. */
  readonly pages: Readonly<Record<string, readonly CraftedPage[]>>;
}

function pageHeader(p: CraftedPage): Uint8Array {
  const w = new ThriftWriter(new ByteSink(64)).i32(1, p.type).i32(2, p.body.length).i32(3, p.body.length);
  if (p.type === 0) w.struct(5, (s) => s.i32(1, p.values).i32(2, p.encoding).i32(3, ENCODING.RLE).i32(4, ENCODING.RLE));
  else w.struct(7, (s) => s.i32(1, p.values).i32(2, p.encoding));
  return w.end();
}

/** Required (non-null) columns, so a data page's body is its values alone. */
export function craftParquet(columns: readonly CraftedColumn[], groups: readonly CraftedGroup[]): Buffer {
  const parts: Uint8Array[] = [Buffer.from('PAR1')];
  let offset = 4;
  const rowGroups: { rows: number; chunks: { column: CraftedColumn; start: number; size: number; values: number; data: number; dictionary: number | undefined }[] }[] = [];
  for (const g of groups) {
    const chunks: (typeof rowGroups)[number]['chunks'] = [];
    for (const column of columns) {
      const pages = g.pages[column.name];
      if (pages === undefined) continue;
      const start = offset;
      let values = 0;
      let data: number | undefined;
      let dictionary: number | undefined;
      for (const p of pages) {
        if (p.type === 2) dictionary = offset;
        else {
          data ??= offset;
          values += p.values;
        }
        const h = pageHeader(p);
        parts.push(h, p.body);
        offset += h.length + p.body.length;
      }
      chunks.push({ column, start, size: offset - start, values, data: data ?? start, dictionary });
    }
    rowGroups.push({ rows: g.rows, chunks });
  }
  const footer = new ThriftWriter(new ByteSink(256))
    .i32(1, 1)
    .listStruct(2, [undefined, ...columns], (w, c) => {
      if (c === undefined) w.binary(4, 'schema').i32(5, columns.length);
      else {
        w.i32(1, c.physical).i32(3, 0).binary(4, c.name);
        if (c.converted !== undefined) w.i32(6, c.converted);
      }
    })
    .i64(3, rowGroups.reduce((n, g) => n + g.rows, 0))
    .listStruct(4, rowGroups, (w, g) => {
      w.listStruct(1, g.chunks, (cw, c) =>
        cw.i64(2, c.start).struct(3, (m) => {
          m.i32(1, c.column.physical).listI32(2, [ENCODING.PLAIN, ENCODING.RLE, ENCODING.RLE_DICTIONARY]).listBinary(3, [c.column.name]);
          m.i32(4, 0).i64(5, c.values).i64(6, c.size).i64(7, c.size).i64(9, c.data);
          if (c.dictionary !== undefined) m.i64(11, c.dictionary);
        }),
      );
      w.i64(2, g.chunks.reduce((n, c) => n + c.size, 0)).i64(3, g.rows);
    })
    .end();
  const length = Buffer.alloc(4);
  length.writeUInt32LE(footer.length);
  parts.push(footer, length, Buffer.from('PAR1'));
  return Buffer.concat(parts);
}

/** A dictionary page of strings (PLAIN: 4-byte length, then the bytes). */
export function dictionaryPage(values: readonly string[]): CraftedPage {
  const body = Buffer.concat(values.map((v) => {
    const b = Buffer.from(v);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length);
    return Buffer.concat([len, b]);
  }));
  return { type: 2, values: values.length, encoding: ENCODING.PLAIN, body };
}

/** A data page of `values` rows all pointing at dictionary entry 0: bit width 0, one byte. */
export function runLengthPage(values: number): CraftedPage {
  return { type: 0, values, encoding: ENCODING.RLE_DICTIONARY, body: Uint8Array.of(0) };
}

/** A data page of PLAIN int32 values. */
export function int32Page(values: readonly number[]): CraftedPage {
  const body = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => body.writeInt32LE(v, 4 * i));
  return { type: 0, values: values.length, encoding: ENCODING.PLAIN, body };
}
