import { DEFAULT_FIELD_NAMES, fieldByName, type FieldSpec } from './fields.js';

/**
 * The ordered list of fields one flow log writes. A flow log's format never changes, but a stream of
 * lines may switch formats at header lines (concatenated S3 objects), so parsers hold one at a time.
 */
export class FlowFormat {
  readonly fields: readonly FieldSpec[];
  /** The highest version among the fields: what AWS reports in `version` for this format. */
  readonly version: number;
  /** For each registry field id, its position in this format, or -1. */
  readonly positionOf: Int16Array;
  /** AWS's `${field} ...` string for this format. */
  readonly spec: string;

  constructor(fields: readonly FieldSpec[]) {
    if (fields.length === 0) throw new FormatError('a flow log format needs at least one field');
    const seen = new Set<number>();
    for (const f of fields) {
      if (seen.has(f.id)) throw new FormatError(`field ${f.name} appears twice in the format`);
      seen.add(f.id);
    }
    this.fields = fields;
    this.version = fields.reduce((v, f) => Math.max(v, f.version), 2);
    this.positionOf = new Int16Array(512).fill(-1);
    fields.forEach((f, i) => (this.positionOf[f.id] = i));
    this.spec = fields.map((f) => '${' + f.name + '}').join(' ');
  }

  has(name: string): boolean {
    const f = fieldByName(name);
    return f !== undefined && this.positionOf[f.id] !== -1;
  }

  /** Position of the named field in this format, or -1. */
  indexOf(name: string): number {
    const f = fieldByName(name);
    return f === undefined ? -1 : (this.positionOf[f.id] ?? -1);
  }

  /** True when both formats list the same fields in the same order. */
  equals(other: FlowFormat): boolean {
    return this === other || this.spec === other.spec;
  }

  static readonly DEFAULT = FlowFormat.fromNames(DEFAULT_FIELD_NAMES);

  /** From field names (hyphen or underscore form); unknown names are an error naming them. */
  static fromNames(names: readonly string[]): FlowFormat {
    const unknown = names.filter((n) => fieldByName(n) === undefined);
    if (unknown.length > 0) {
      throw new FormatError(`unknown field${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`);
    }
    return new FlowFormat(names.map((n) => fieldByName(n)!));
  }

  /**
   * From AWS's custom format string (`${version} ${srcaddr} ...`), from a header line
   * (`version srcaddr ...`), or from the word `default`.
   */
  static parse(text: string): FlowFormat {
    const trimmed = text.trim();
    if (trimmed === '' ) throw new FormatError('empty flow log format');
    if (trimmed === 'default' || trimmed === 'v2') return FlowFormat.DEFAULT;
    const tokens = trimmed.split(/\s+/);
    const names = tokens.map((t) => {
      const m = /^\$\{([^}]*)\}$/.exec(t);
      if (m) return m[1]!;
      if (t.includes('$') || t.includes('{') || t.includes('}')) {
        throw new FormatError(`malformed token '${t}' in format (expected \${field-name})`);
      }
      return t;
    });
    return FlowFormat.fromNames(names);
  }
}

export class FormatError extends Error {
  override name = 'FormatError';
}

const HEADER_TOKEN = /^[a-z][a-z0-9_-]*$/;

/**
 * Whether a line is a header (field names) rather than a record. Records always hold at least one
 * token a field name cannot be (digits, `-`, an address, upper case), so a line of lower-case
 * name-shaped tokens with at least one known field is a header, even if another token is unknown
 * (that is reported as a bad header, not as a bad record).
 */
export function looksLikeHeader(tokens: readonly string[]): boolean {
  let known = 0;
  for (const t of tokens) {
    if (!HEADER_TOKEN.test(t)) return false;
    if (fieldByName(t) !== undefined) known++;
  }
  return known > 0;
}
