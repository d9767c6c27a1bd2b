import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CollectingSink, SHARED } from '../../test/support/collect.js';
import type { Origin } from './batch.js';
import { FIELDS, isAddressField, type FieldSpec } from './fields.js';
import { FlowFormat, looksLikeHeader } from './format.js';
import { tcpFlagNames } from './names.js';
import { LineParser } from './parser.js';

const origin: Origin = { location: 'test.log', kind: 'file' };

function parseLines(text: string, format?: FlowFormat) {
  const sink = new CollectingSink();
  const parser = new LineParser(sink, format ? { format } : {});
  text.split('\n').forEach((line, i) => parser.parseString(line, origin, i + 1));
  parser.flush();
  return { sink, parser, records: sink.records };
}

/** Renders a record's value as AWS writes it. */
function token(v: number | string | null): string {
  return v === null ? '-' : String(v);
}

describe('every example record in AWS documentation parses back to its tokens', () => {
  const doc = readFileSync(`${SHARED}reference/aws-docs/flow-logs-records-examples.md`, 'utf8');
  const blocks = [...doc.matchAll(/```\n([\s\S]*?)```/g)].map((m) => m[1]!.trim().split('\n'));
  let format = FlowFormat.DEFAULT;
  const cases: { format: FlowFormat; line: string }[] = [];
  for (const block of blocks) {
    const first = block[0]!.trim().split(/\s+/);
    if (looksLikeHeader(first)) {
      format = FlowFormat.fromNames(first);
      continue;
    }
    // The documentation annotates some lines with "#..." after the record: not part of a record.
    // It also elides with a line of "...".
    for (const line of block) if (line.trim() !== '...') cases.push({ format, line: line.replace(/\s+#.*$/, '') });
  }

  it('finds the documented examples', () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
  });

  it.each(cases)('$line', ({ format, line }) => {
    const { sink, records } = parseLines(line, format);
    expect(sink.rejects).toEqual([]);
    expect(records).toHaveLength(1);
    const tokens = line.trim().split(/\s+/);
    expect(format.fields.map((f) => token(records[0]![f.column]!))).toEqual(tokens);
  });
});

describe('the default v2 format', () => {
  it('types numbers as numbers and keeps the account id a string', () => {
    const { records } = parseLines('2 012345678910 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK');
    expect(records[0]).toEqual({
      version: 2, account_id: '012345678910', interface_id: 'eni-1235b8ca123456789', srcaddr: '172.31.16.139', dstaddr: '172.31.16.21',
      srcport: 20641, dstport: 22, protocol: 6, packets: 20, bytes: 4249, start: 1418530010, end: 1418530070, action: 'ACCEPT', log_status: 'OK',
    });
  });

  it('turns - into null for NODATA and SKIPDATA and counts them', () => {
    const { records, parser } = parseLines(
      ['2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA', '2 123456789010 eni-11111111aaaaaaaaa - - - - - - - 1431280876 1431280934 - SKIPDATA'].join('\n'),
    );
    expect(records[0]).toMatchObject({ srcaddr: null, srcport: null, packets: null, action: null, log_status: 'NODATA' });
    expect(parser.stats.nodata).toBe(1);
    expect(parser.stats.skipdata).toBe(1);
  });

  it('accepts account id unknown and IPv6 addresses', () => {
    const { records, sink } = parseLines('2 unknown eni-1 2001:db8:1234:a100:8d6e:3477:df66:f105 ::1 34892 22 6 54 8855 1477913708 1477913820 ACCEPT OK');
    expect(sink.rejects).toEqual([]);
    expect(records[0]).toMatchObject({ account_id: 'unknown', srcaddr: '2001:db8:1234:a100:8d6e:3477:df66:f105', dstaddr: '::1' });
  });

  it('ignores blank lines, trailing CR and surrounding spaces', () => {
    const { records, sink } = parseLines('\r\n  2 1 eni-1 1.1.1.1 2.2.2.2 1 2 17 1 2 3 4 ACCEPT OK \r\n\n');
    expect(sink.rejects).toEqual([]);
    expect(records).toHaveLength(1);
    expect(records[0]!.log_status).toBe('OK');
  });
});

describe('malformed lines are rejected with their location, and parsing goes on', () => {
  const good = '2 1 eni-1 1.1.1.1 2.2.2.2 1 2 17 1 2 3 4 ACCEPT OK';
  it.each([
    ['2 1 eni-1 1.1.1.1 2.2.2.2 1 2 17 1 2 3 4 ACCEPT', /too few fields: the format has 14, the line has 13/],
    ['2 1 eni-1 1.1.1.1 2.2.2.2 1 2 17 1 2 3 4 ACCEPT OK extra', /too many fields: the format has 14, the line has 15/],
    ['2 1 eni-1 1.1.1.1 2.2.2.2 http 2 17 1 2 3 4 ACCEPT OK', /srcport: 'http' is not a number/],
    ['2 1 eni-1 1.1.1.1 2.2.2.2 1 2 17 -5 2 3 4 ACCEPT OK', /packets: '-5' is not a number/],
    ['2 1 eni-1 1.1.1.1 2.2.2.2 1 2 17 1 2.5 3 4 ACCEPT OK', /bytes: '2.5' is not a number/],
    ['2 1 eni-1 1.1.1.1 2.2.2.2 99999999999 2 17 1 2 3 4 ACCEPT OK', /srcport: 99999999999 is out of range for int32/],
    ['2 1 eni-1 1.1.1.1 2.2.2.2 1 2 17 1 99999999999999999999 3 4 ACCEPT OK', /bytes: .* is out of range for int64/],
    ['\u0000\u0001garbage', /version: .* is not a number/],
    ['2 1 eni-1 999.1.1.1 2.2.2.2 1 2 17 1 2 3 4 ACCEPT OK', /srcaddr: '999.1.1.1' is not an IP address/],
    ['2 1 eni-1 1.1.1.1 1.2.3 1 2 17 1 2 3 4 ACCEPT OK', /dstaddr: '1.2.3' is not an IP address/],
    ['2 1 eni-1 1.1.1.1 2001:db8::zz 1 2 17 1 2 3 4 ACCEPT OK', /dstaddr: '2001:db8::zz' is not an IP address/],
  ])('%s', (bad, reason) => {
    const { sink, records } = parseLines(`${good}\n${bad}\n${good}`);
    expect(records).toHaveLength(2);
    expect(sink.rejects).toHaveLength(1);
    expect(sink.rejects[0]).toMatchObject({ location: 'test.log', line: 2, text: bad });
    expect(sink.rejects[0]!.reason).toMatch(reason);
  });
});

describe('a header line that cannot be read', () => {
  it('rejects the rows after it, whose fields are unknown, until the next good header', () => {
    const good = '2 1 eni-1 1.1.1.1 2.2.2.2 1 2 17 1 2 3 4 ACCEPT OK';
    const text = [good, 'version account-id bogus-field', good, good, 'version srcaddr dstaddr', '2 10.0.0.1 10.0.0.2'].join('\n');
    const { sink, records } = parseLines(text);
    expect(records.map((r) => r.srcaddr)).toEqual(['1.1.1.1', '10.0.0.1']);
    expect(sink.rejects.map((r) => [r.line, r.reason])).toEqual([
      [2, 'bad header line: unknown field: bogus-field'],
      [3, 'fields unknown: the header line at test.log:2 could not be read'],
      [4, 'fields unknown: the header line at test.log:2 could not be read'],
    ]);
  });
});

describe('formats', () => {
  it("parses AWS's ${field} string and header lines alike", () => {
    const a = FlowFormat.parse('${version} ${vpc-id} ${tcp-flags} ${flow-direction} ${traffic-path}');
    const b = FlowFormat.parse('version vpc-id tcp-flags flow-direction traffic-path');
    expect(a.equals(b)).toBe(true);
    expect(a.version).toBe(5);
    expect(a.spec).toBe('${version} ${vpc-id} ${tcp-flags} ${flow-direction} ${traffic-path}');
  });

  it('names unknown and duplicate fields', () => {
    expect(() => FlowFormat.parse('${version} ${nope} ${bogus}')).toThrow('unknown fields: nope, bogus');
    expect(() => FlowFormat.parse('${version} ${version}')).toThrow('field version appears twice');
    expect(() => FlowFormat.parse('${version')).toThrow(/malformed token/);
  });

  it('switches format at header lines anywhere in a stream', () => {
    const text = [
      'version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status',
      '2 1 eni-1 1.1.1.1 2.2.2.2 1 2 17 1 2 3 4 ACCEPT OK',
      'interface-id tcp-flags flow-direction',
      'eni-2 18 ingress',
      'eni-3 - egress',
    ].join('\n');
    const { records, parser, sink } = parseLines(text);
    expect(sink.rejects).toEqual([]);
    expect(parser.stats.headers).toBe(2);
    expect(records).toEqual([
      expect.objectContaining({ interface_id: 'eni-1', protocol: 17 }),
      { interface_id: 'eni-2', tcp_flags: 18, flow_direction: 'ingress' },
      { interface_id: 'eni-3', tcp_flags: null, flow_direction: 'egress' },
    ]);
    expect(sink.batches.map((b) => b.format.fields.length)).toEqual([14, 3]);
  });

  it('does not take data lines of all-lower-case values for headers', () => {
    const format = FlowFormat.parse('${vpc-id} ${flow-direction} ${sublocation-type}');
    const { records, sink } = parseLines('vpc-abc ingress outpost', format);
    expect(sink.rejects).toEqual([]);
    expect(records).toEqual([{ vpc_id: 'vpc-abc', flow_direction: 'ingress', sublocation_type: 'outpost' }]);
  });

  it('names TCP flags for people', () => {
    expect(tcpFlagNames(18)).toEqual(['SYN', 'ACK']);
    expect(tcpFlagNames(19)).toEqual(['FIN', 'SYN', 'ACK']);
    expect(tcpFlagNames(0)).toEqual([]);
  });
});

describe('property: a record written in any custom format parses back to itself', () => {
  const arbValue = (f: FieldSpec): fc.Arbitrary<number | string | null> => {
    const nullable = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null, freq: 5 });
    switch (f.type) {
      case 'int32':
        return nullable(fc.integer({ min: 0, max: 2147483647 }));
      case 'int64':
        return nullable(fc.maxSafeNat());
      case 'string':
        if (isAddressField(f)) return nullable(fc.oneof(fc.ipV4(), fc.ipV6()));
        return nullable(
          fc.oneof(
            fc.ipV4(),
            fc.ipV6(),
            fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9:._\/=+-]{0,40}$/).filter((s) => s !== '-'),
          ),
        );
    }
  };
  const arbCase = fc
    .shuffledSubarray([...FIELDS], { minLength: 1 })
    .chain((fields) => fc.tuple(fc.constant(fields), fc.array(fc.tuple(...fields.map(arbValue)), { minLength: 1, maxLength: 5 })));

  it('holds for random formats and values', () => {
    fc.assert(
      fc.property(arbCase, ([fields, rows]) => {
        const format = new FlowFormat(fields);
        const text = rows.map((values) => values.map(token).join(' ')).join('\n');
        const { records, sink } = parseLines(text, format);
        expect(sink.rejects).toEqual([]);
        expect(records).toEqual(rows.map((values) => Object.fromEntries(fields.map((f, i) => [f.column, values[i]]))));
      }),
      { numRuns: 300 },
    );
  });

  it('holds through a header line naming the format', () => {
    fc.assert(
      fc.property(arbCase, ([fields, rows]) => {
        const header = fields.map((f) => f.name).join(' ');
        const text = [header, ...rows.map((values) => values.map(token).join(' '))].join('\n');
        const { records, sink } = parseLines(text);
        expect(sink.rejects).toEqual([]);
        expect(records).toHaveLength(rows.length);
        expect(records.map((r) => fields.map((f) => r[f.column]))).toEqual(rows);
      }),
      { numRuns: 200 },
    );
  });
});

describe('property: the compiled fast path and the general path agree on any input', () => {
  const token = fc.oneof(
    fc.stringMatching(/^[0-9]{1,12}$/),
    fc.constantFrom('-', '--', '-5', '2.5', '99999999999', '9007199254740993', 'ACCEPT', 'ACCEPTED', 'ACCEP', 'eni-0a1', 'eni-0a1x', '10.0.0.1', '::1', 'x"y', '\u00e9t\u00e9'),
    fc.stringMatching(/^[ -~]{1,6}$/),
    // Address-like tokens: the compiled path reads canonical IPv4 as numbers.
    fc.array(fc.oneof(fc.integer({ min: 0, max: 300 }).map(String), fc.constantFrom('00', '01', '007', '', '1234')), { minLength: 3, maxLength: 5 }).map((a) => a.join('.')),
  );
  const sep = fc.constantFrom(' ', ' ', ' ', '  ', '\t', ' \r');
  const line = fc.array(fc.tuple(token, sep), { minLength: 0, maxLength: 16 }).map((parts) => parts.map(([t, s]) => t + s).join(''));

  it('gives the same records and rejects, chunked or whole', () => {
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 40 }), (lines, cut) => {
        const text = Buffer.from(lines.join('\n') + '\n');
        const run = (fastPath: boolean) => {
          const sink = new CollectingSink();
          const parser = new LineParser(sink, { fastPath });
          // Two chunks, as a stream would deliver them: the cut may fall inside a line.
          const at = Math.min(cut, text.length);
          const rest = parser.parseLines(text, 0, at, origin, 1);
          const carried = Buffer.concat([text.subarray(rest, at), text.subarray(at)]);
          parser.parseLines(carried, 0, carried.length, origin, 1 + parser.linesParsed);
          parser.flush();
          return { records: sink.records, rejects: sink.rejects.map((r) => [r.line, r.reason, r.text]) };
        };
        expect(run(true)).toEqual(run(false));
      }),
      { numRuns: 500 },
    );
  });
});

describe('batches given back to the parser', () => {
  const lines = Array.from({ length: 23 }, (_, i) => `2 123456789012 eni-${i % 3}abc 10.0.${i}.1 10.0.0.${(i * 7) % 250} ${1000 + i} 443 6 ${i + 1} ${100 * i} 1700000000 1700000060 ${i % 4 ? 'ACCEPT' : 'REJECT'} OK`);

  function run(recycle: boolean): { rows: string[]; batches: Set<object> } {
    const rows: string[] = [];
    const batches = new Set<object>();
    const sink = {
      batch(b: import('./batch.js').FlowBatch) {
        batches.add(b);
        for (let r = 0; r < b.length; r++) rows.push(b.format.fields.map((_, i) => token(b.value(r, i))).join(' '));
        if (recycle) {
          parser.recycle(b);
          parser.recycle(b); // twice: must still be refilled by one flush at a time
        }
      },
      reject() {
        throw new Error('unexpected reject');
      },
    };
    const parser = new LineParser(sink, { batchSize: 4 });
    lines.forEach((l, i) => parser.parseString(l, origin, i + 1));
    parser.flush();
    return { rows, batches };
  }

  it('are refilled, and every record comes out as it went in', () => {
    const fresh = run(false), reused = run(true);
    expect(fresh.rows).toEqual(lines);
    expect(reused.rows).toEqual(lines);
    expect(fresh.batches.size).toBe(6);
    expect(reused.batches.size).toBeLessThan(3);
  });

  it('ignores a batch of another format', () => {
    const sink = new CollectingSink();
    const parser = new LineParser(sink, { batchSize: 4 });
    const other = new LineParser(new CollectingSink(), { batchSize: 4, format: FlowFormat.fromNames(['version', 'srcaddr']) });
    other.parseString('2 10.0.0.1', origin, 1);
    const foreign = (other as unknown as { batch: import('./batch.js').FlowBatch }).batch;
    parser.recycle(foreign);
    lines.slice(0, 8).forEach((l, i) => parser.parseString(l, origin, i + 1));
    parser.flush();
    expect(sink.records.map((r) => r.srcaddr)).toEqual(lines.slice(0, 8).map((l) => l.split(' ')[3]));
  });
});

describe('addresses', () => {
  it('come out exactly as written, through the IPv4 cache and past its collisions', () => {
    const odd = ['0.0.0.0', '255.255.255.255', '2001:db8::1', '::ffff:10.0.0.1', '::', '-'];
    const addrs: string[] = [...odd];
    // More distinct addresses than the cache has slots, each seen twice, so slots are shared.
    for (let i = 0; i < 9000; i++) addrs.push(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, `172.16.${(i * 7) & 255}.${i % 200}`);
    const order = [...addrs, ...addrs.slice().reverse()];
    const lines = order.map((a, i) => `2 123456789012 eni-1 ${a} ${order[(i * 13) % order.length]} 1 2 6 1 1 1700000000 1700000060 ACCEPT OK`);
    const { records, sink } = parseLines(lines.join('\n'));
    expect(sink.rejects).toEqual([]);
    const tok = (v: unknown) => (v === null ? '-' : v);
    expect(records.map((r) => tok(r.srcaddr))).toEqual(order);
    expect(records.map((r) => tok(r.dstaddr))).toEqual(order.map((_, i) => order[(i * 13) % order.length]));
  });

  it('are rejected when they are not IPv4 or IPv6 addresses, in the compiled and the general path alike', () => {
    const bad = ['010.0.0.1', '10.0.0.01', '256.1.1.1', '1.2.3', '1.2.3.4.5', '1..2.3', '10.0.0.1x', '2001:db8::g', 'eni-1'];
    const lines = bad.flatMap((a) => [`2 123456789012 eni-1 ${a} 10.0.0.1 1 2 6 1 1 1700000000 1700000060 ACCEPT OK`, `2 123456789012 eni-1 10.0.0.2 10.0.0.1 1 2 6 1 1 1700000000 1700000060 ACCEPT OK`]);
    for (const fastPath of [true, false]) {
      const sink = new CollectingSink();
      const parser = new LineParser(sink, { fastPath });
      parser.parseLines(Buffer.from(lines.join('\n') + '\n'), 0, Buffer.byteLength(lines.join('\n')) + 1, origin, 1);
      parser.flush();
      expect(sink.count).toBe(bad.length);
      expect(sink.rejects.map((r) => r.reason)).toEqual(bad.map((a) => `srcaddr: '${a}' is not an IP address`));
    }
  });
});

describe('text fields', () => {
  it('reject bytes that are not text (invalid UTF-8, control characters) in the compiled and the general path alike, and keep valid UTF-8 exactly', () => {
    const row = (eni: Buffer) => Buffer.concat([Buffer.from('2 123456789012 '), eni, Buffer.from(' 10.0.0.1 10.0.0.2 1 2 6 1 1 1700000000 1700000060 ACCEPT OK\n')]);
    const bad = [
      Buffer.from([0x65, 0x6e, 0x69, 0x2d, 0xff]), // a byte UTF-8 never uses
      Buffer.from([0x65, 0x6e, 0x69, 0x2d, 0xc0, 0x80]), // overlong NUL
      Buffer.from([0x65, 0x6e, 0x69, 0x2d, 0xe2, 0x82]), // cut-off sequence
      Buffer.from('eni-\u0000x'),
      Buffer.from('eni-\u0001x'),
      Buffer.from('eni-\u007fx'),
    ];
    const good = ['eni-1', 'eni-é', 'eni-日本', 'eni-\uFFFD'];
    const input = Buffer.concat([...bad.flatMap((b) => [row(b), row(Buffer.from('eni-ok'))]), ...good.map((g) => row(Buffer.from(g)))]);
    for (const fastPath of [true, false]) {
      const sink = new CollectingSink();
      const parser = new LineParser(sink, { fastPath });
      parser.parseLines(input, 0, input.length, origin, 1);
      parser.flush();
      expect(sink.records.map((r) => r.interface_id)).toEqual([...bad.map(() => 'eni-ok'), ...good]);
      expect(sink.rejects.map((r) => [r.line, r.reason])).toEqual(
        bad.map((_, i) => [2 * i + 1, 'interface-id: not text (invalid UTF-8 or a control character)']),
      );
    }
  });
});
