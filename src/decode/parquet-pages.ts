import { DecodeError } from './errors.js';

/**
 * What a column chunk's page headers claim, read before any page is inflated or decoded: a reader
 * sizes its buffers from these claims (a 1-byte run-length page can claim millions of values), so
 * they are checked first. Only the Thrift compact protocol's headers are parsed; page bodies are
 * skipped by their stated length.
 */
export interface ChunkClaims {
  /** Sum of the pages' uncompressed sizes: what inflating the chunk costs. */
  readonly inflatedBytes: number;
  /** Values the data pages claim (nulls included: one per row for a flat column). */
  readonly values: number;
  /** The largest value count of any one page (dictionary pages included). */
  readonly maxPageValues: number;
}

/** Where the column chunk lies: its first page (dictionary or data) and its compressed length. */
export interface ChunkPlace {
  readonly dictionaryPageOffset?: bigint | undefined;
  readonly dataPageOffset: bigint;
  readonly totalCompressedSize: bigint;
}

const MAX_DEPTH = 16;

/** Reads the chunk's page headers; a header that runs outside the chunk is a DecodeError. */
export function scanChunkPages(file: Uint8Array, place: ChunkPlace, column: string): ChunkClaims {
  const data = Number(place.dataPageOffset);
  const dict = place.dictionaryPageOffset === undefined ? 0 : Number(place.dictionaryPageOffset);
  // As the reader locates the chunk: from the dictionary page when the footer gives one.
  const start = dict !== 0 ? dict : data;
  const end = start + Number(place.totalCompressedSize);
  if (!(Number.isSafeInteger(start) && Number.isSafeInteger(end) && start >= 0 && end <= file.length && end >= start)) {
    throw new DecodeError(`Parquet column ${column}: chunk at ${place.dataPageOffset} (+${place.totalCompressedSize}) lies outside the file`);
  }
  let inflatedBytes = 0;
  let values = 0;
  let maxPageValues = 0;
  let pos = start;
  while (pos < end) {
    // Zero bytes after the last page are padding (readers stop once they have the chunk's values).
    if (file[pos] === 0 && file.subarray(pos, end).every((b) => b === 0)) break;
    const r = new CompactReader(file, pos, end, column);
    const h = r.pageHeader();
    inflatedBytes += h.uncompressedSize;
    if (h.values > maxPageValues) maxPageValues = h.values;
    if (h.dataPage) values += h.values;
    pos = r.pos + h.compressedSize;
  }
  if (pos > end) throw new DecodeError(`Parquet column ${column}: the last page runs past its chunk`);
  return { inflatedBytes, values, maxPageValues };
}

interface PageHeader {
  uncompressedSize: number;
  compressedSize: number;
  values: number;
  dataPage: boolean;
}

/** The Thrift compact protocol, read side, for PageHeader and for skipping what it does not need. */
class CompactReader {
  constructor(
    private readonly buf: Uint8Array,
    public pos: number,
    private readonly end: number,
    private readonly column: string,
  ) {}

  /**
   * The counts are taken as the reader takes them: by the page's type (field 1), from the one
   * sub-header that type names. Anything a valid header never holds (a field twice, a count that
   * is not an i32, an unknown page type) is refused, so no count can hide behind another.
   */
  pageHeader(): PageHeader {
    const seen = new Set<number>();
    let pageType = -1;
    let uncompressedSize = -1;
    let compressedSize = -1;
    const counts = new Map<number, number>();
    this.struct(0, (id, type) => {
      if (seen.has(id)) throw this.error(`field ${id} twice`);
      seen.add(id);
      if (id === 1) pageType = this.i32(id, type);
      else if (id === 2) uncompressedSize = this.i32(id, type);
      else if (id === 3) compressedSize = this.i32(id, type);
      else if (id === 5 || id === 7 || id === 8) {
        // data_page_header, dictionary_page_header, data_page_header_v2: field 1 is num_values.
        if (type !== 12) throw this.error(`field ${id} that is not a struct`);
        let values = 0;
        const inner = new Set<number>();
        this.struct(1, (sub, subType) => {
          if (inner.has(sub)) throw this.error(`field ${id}.${sub} twice`);
          inner.add(sub);
          if (sub === 1) values = this.i32(sub, subType);
          else this.skip(subType, 2);
        });
        counts.set(id, values);
      } else this.skip(type, 1);
    });
    if (uncompressedSize < 0 || compressedSize < 0) throw this.error('no sizes, or negative ones');
    const countField = pageType === 0 ? 5 : pageType === 2 ? 7 : pageType === 3 ? 8 : pageType === 1 ? 0 : -1;
    if (countField < 0) throw this.error(`page type ${pageType}`);
    const values = counts.get(countField) ?? 0;
    if (values < 0) throw this.error('a negative value count');
    return { uncompressedSize, compressedSize, values, dataPage: pageType === 0 || pageType === 3 };
  }

  private i32(id: number, type: number): number {
    if (type !== 5) throw this.error(`field ${id} that is not an i32`);
    return this.zigzag();
  }

  private struct(depth: number, field: (id: number, type: number) => void): void {
    if (depth > MAX_DEPTH) throw this.error('nesting too deep');
    let id = 0;
    for (;;) {
      const b = this.byte();
      const type = b & 0x0f;
      if (type === 0) return;
      const delta = b >> 4;
      id = delta === 0 ? this.zigzag() : id + delta;
      field(id, type);
    }
  }

  private skip(type: number, depth: number): void {
    switch (type) {
      case 1:
      case 2:
        return; // booleans live in the field header
      case 3:
        this.byte();
        return;
      case 4:
      case 5:
      case 6:
        this.varint();
        return;
      case 7:
        this.advance(8);
        return;
      case 8:
        this.advance(this.varint());
        return;
      case 9:
      case 10: {
        if (depth > MAX_DEPTH) throw this.error('nesting too deep');
        const b = this.byte();
        const size = b >> 4 === 15 ? this.varint() : b >> 4;
        const elem = b & 0x0f;
        for (let i = 0; i < size; i++) this.element(elem, depth + 1);
        return;
      }
      case 11: {
        if (depth > MAX_DEPTH) throw this.error('nesting too deep');
        const size = this.varint();
        if (size === 0) return;
        const kv = this.byte();
        for (let i = 0; i < size; i++) {
          this.element(kv >> 4, depth + 1);
          this.element(kv & 0x0f, depth + 1);
        }
        return;
      }
      case 12:
        this.struct(depth, (_, t) => this.skip(t, depth + 1));
        return;
      default:
        throw this.error(`unknown Thrift type ${type}`);
    }
  }

  /** A list, set or map element: a boolean there takes a byte of its own, unlike in a field header. */
  private element(type: number, depth: number): void {
    if (type === 1 || type === 2) this.byte();
    else this.skip(type, depth);
  }

  private zigzag(): number {
    const v = this.varint();
    return v % 2 === 0 ? v / 2 : -(v + 1) / 2;
  }

  /** Below 2^53: larger claims are refused rather than rounded. */
  private varint(): number {
    let v = 0;
    let scale = 1;
    for (;;) {
      const b = this.byte();
      v += (b & 0x7f) * scale;
      if (v > Number.MAX_SAFE_INTEGER) throw this.error('an integer too large');
      if (b < 0x80) return v;
      scale *= 128;
      if (scale > 2 ** 56) throw this.error('an integer too long');
    }
  }

  private byte(): number {
    if (this.pos >= this.end) throw this.error('a header cut short');
    return this.buf[this.pos++]!;
  }

  private advance(n: number): void {
    if (!(n >= 0) || this.pos + n > this.end) throw this.error('a header cut short');
    this.pos += n;
  }

  private error(what: string): DecodeError {
    return new DecodeError(`Parquet column ${this.column}: page header at ${this.pos} has ${what}`);
  }
}
