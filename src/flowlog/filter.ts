import type { FlowBatch } from './batch.js';
import { fieldByName, isAddressField, type FieldSpec } from './fields.js';
import type { FlowFormat } from './format.js';
import { protocolNumber } from './names.js';

/**
 * `--where` conditions: `field OP value` with OP one of = != > >= < <=. Numbers compare as numbers
 * (`protocol` also takes names, `start`/`end` also take ISO times); strings take = and != with an
 * exact value, a prefix (`interface_id=eni-0a*`) or, for address fields, an IPv4 CIDR
 * (`srcaddr=10.0.0.0/8`). `-` matches a missing value. Conditions are ANDed.
 */
export type Op = '=' | '!=' | '>' | '>=' | '<' | '<=';

export interface Condition {
  readonly field: FieldSpec;
  readonly op: Op;
  readonly text: string;
}

export class FilterError extends Error {
  override name = 'FilterError';
}


export function parseCondition(expr: string): Condition {
  const m = /^\s*([A-Za-z][A-Za-z0-9_-]*)\s*(!=|>=|<=|=|>|<)\s*(.*?)\s*$/.exec(expr);
  if (!m) throw new FilterError(`cannot read condition '${expr}': expected FIELD OP VALUE, e.g. action=REJECT or bytes>1000000`);
  const field = fieldByName(m[1]!.toLowerCase());
  if (!field) throw new FilterError(`unknown field '${m[1]}' in condition '${expr}'`);
  const op = m[2] as Op;
  const text = m[3]!;
  if (text === '') throw new FilterError(`condition '${expr}' has no value`);
  if (/^[=<>!]/.test(text)) throw new FilterError(`cannot read condition '${expr}': the value starts with '${text[0]}' (the operators are = != > >= < <=)`);
  if (isAddressField(field) && text.includes('/') && !parseCidr(text)) {
    throw new FilterError(`'${text}' is not an IPv4 CIDR block (a.b.c.d/0-32; IPv6 blocks are not supported) in condition '${expr}'`);
  }
  if (field.type === 'string' && op !== '=' && op !== '!=') {
    throw new FilterError(`${field.column} is text: only = and != apply ('${expr}')`);
  }
  if (field.type !== 'string' && text !== '-') numericValue(field, text, expr);
  return { field, op, text };
}

function numericValue(field: FieldSpec, text: string, expr: string): number {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  if (field.name === 'protocol') {
    const n = protocolNumber(text);
    if (n !== undefined) return n;
  }
  if ((field.name === 'start' || field.name === 'end') && !Number.isNaN(Date.parse(text))) return Math.floor(Date.parse(text) / 1000);
  throw new FilterError(`${field.column} is a number: '${text}' is not one ('${expr}')`);
}

type RowTest = (batch: FlowBatch, row: number) => boolean;

/** A predicate over batch rows; compiled once per format. */
export class RecordFilter {
  private readonly compiled = new Map<string, RowTest>();

  constructor(readonly conditions: readonly Condition[]) {}

  get empty(): boolean {
    return this.conditions.length === 0;
  }

  forFormat(format: FlowFormat): RowTest {
    let test = this.compiled.get(format.spec);
    if (!test) {
      test = compile(this.conditions, format);
      this.compiled.set(format.spec, test);
    }
    return test;
  }
}

function compile(conditions: readonly Condition[], format: FlowFormat): RowTest {
  const tests = conditions.map((c) => compileOne(c, format));
  return (batch, row) => {
    for (const t of tests) if (!t(batch, row)) return false;
    return true;
  };
}

function compileOne(c: Condition, format: FlowFormat): RowTest {
  const pos = format.positionOf[c.field.id] ?? -1;
  if (pos < 0) {
    // A record without the field has it missing: only "= -" and "!= value" hold.
    const holds = (c.op === '=' && c.text === '-') || (c.op === '!=' && c.text !== '-');
    return () => holds;
  }
  if (c.field.type !== 'string') {
    const want = c.text === '-' ? NaN : numericValue(c.field, c.text, c.text);
    if (Number.isNaN(want)) {
      if (c.op !== '=' && c.op !== '!=') return () => false;
      const eq = c.op === '=';
      return (b, r) => Number.isNaN(b.numbers[pos]![r]!) === eq;
    }
    const cmp = numericCompare(c.op, want);
    return (b, r) => cmp(b.numbers[pos]![r]!);
  }
  const match = stringMatcher(c);
  const negate = c.op === '!=';
  return (b, r) => match(b.strings[pos]![r] ?? null) !== negate;
}

function numericCompare(op: Op, want: number): (v: number) => boolean {
  switch (op) {
    case '=': return (v) => v === want;
    case '!=': return (v) => v !== want;
    case '>': return (v) => v > want;
    case '>=': return (v) => v >= want;
    case '<': return (v) => v < want;
    case '<=': return (v) => v <= want;
  }
}

function stringMatcher(c: Condition): (v: string | null) => boolean {
  const text = c.text;
  if (text === '-') return (v) => v === null;
  if (isAddressField(c.field) && text.includes('/')) {
    const cidr = parseCidr(text);
    if (!cidr) throw new FilterError(`'${text}' is not an IPv4 CIDR block`);
    return (v) => v !== null && inCidr(v, cidr);
  }
  if (text.endsWith('*')) {
    const prefix = text.slice(0, -1);
    return (v) => v !== null && v.startsWith(prefix);
  }
  return (v) => v === text;
}

interface Cidr {
  base: number;
  mask: number;
}

function ipv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n >>> 0;
}

function parseCidr(text: string): Cidr | undefined {
  const [addr, bitsText] = text.split('/');
  const base = ipv4(addr ?? '');
  const bits = Number(bitsText);
  if (base === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) return undefined;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return { base: (base & mask) >>> 0, mask };
}

function inCidr(addr: string, cidr: Cidr): boolean {
  const n = ipv4(addr);
  return n !== undefined && ((n & cidr.mask) >>> 0) === cidr.base;
}
