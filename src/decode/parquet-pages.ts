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
    const r = new CompactReader(file, pos, end, column);
    const h = r.pageHeader();
    if (!(h.compressedSize >= 0 && h.uncompressedSize >= 0)) throw new DecodeError(`Parquet column ${column}: page at ${pos} has a negative size`);
    inflatedBytes += h.uncompressedSize;
    if (h.values > maxPageValues) maxPageValues = h.values;
    if (h.dataPage) values += h.values;
    pos = r.pos + h.compressedSize;
  }
  if (pos !== end) throw new DecodeError(`Parquet column ${column}: the last page runs past its chunk`);
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

  pageHeader(): PageHeader {
    const h: PageHeader = { uncompressedSize: -1, compressedSize: -1, values: 0, dataPage: false };
    this.struct(0, (id, type) => {
      if (id === 2 && type === 5) h.uncompressedSize = this.int();
      else if (id === 3 && type === 5) h.compressedSize = this.int();
      else if ((id === 5 || id === 7 || id === 8) && type === 12) {
        // data_page_header, dictionary_page_header, data_page_header_v2: field 1 is num_values.
        if (id !== 7) h.dataPage = true;
        this.struct(1, (sub, subType) => {
          if (sub === 1 && subType === 5) h.values = this.int();
          else this.skip(subType, 2);
        });
      } else this.skip(type, 1);
    });
    if (h.values < 0) throw this.error('a negative value count');
    return h;
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
        const b = this.byte();
        const size = b >> 4 === 15 ? this.varint() : b >> 4;
        const elem = b & 0x0f;
        for (let i = 0; i < size; i++) (elem === 1 || elem === 2 ? this.byte() : this.skip(elem, depth + 1));
        return;
      }
      case 11: {
        const size = this.varint();
        if (size === 0) return;
        const kv = this.byte();
        for (let i = 0; i < size; i++) {
          this.skip(kv >> 4, depth + 1);
          this.skip(kv & 0x0f, depth + 1);
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

  private int(): number {
    return this.zigzag();
  }

  private zigzag(): number {
    const v = this.varint();
    return v % 2 === 0 ? v / 2 : -(v + 1) / 2;
  }

  /** Up to 2^53: larger claims are refused rather than wrapped. */
  private varint(): number {
    let v = 0;
    let scale = 1;
    for (;;) {
      const b = this.byte();
      v += (b & 0x7f) * scale;
      if (b < 0x80) break;
      scale *= 128;
      if (scale > 2 ** 49) throw this.error('an integer too large');
    }
    return v;
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
