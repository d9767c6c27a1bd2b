import { describe, expect, it } from 'vitest';
import { CollectingSink } from '../../test/support/collect.js';
import { parseCondition, RecordFilter } from './filter.js';
import { LineParser } from './parser.js';

const LINES = [
  '2 123456789012 eni-0a1 10.0.1.10 203.0.113.9 443 50123 6 12 2000000 1767225600 1767225660 ACCEPT OK',
  '2 123456789012 eni-0b2 203.0.113.9 10.0.1.10 50123 22 6 3 180 1767225700 1767225760 REJECT OK',
  '2 123456789012 eni-0a1 172.16.5.4 10.0.0.2 5353 53 17 1 70 1767225800 1767225860 ACCEPT OK',
  '2 123456789012 eni-0a1 - - - - - - - 1767225900 1767225960 - NODATA',
];

function matching(...conditions: string[]): number[] {
  const sink = new CollectingSink();
  const parser = new LineParser(sink);
  LINES.forEach((l, i) => parser.parseString(l, { location: 't', kind: 'file' }, i + 1));
  parser.flush();
  const batch = sink.batches[0]!;
  const test = new RecordFilter(conditions.map(parseCondition)).forFormat(batch.format);
  return Array.from({ length: batch.length }, (_, i) => i).filter((i) => test(batch, i));
}

describe('--where conditions', () => {
  it.each([
    [['action=REJECT'], [1]],
    [['dstport=22'], [1]],
    [['bytes>1000000'], [0]],
    [['bytes<=180'], [1, 2]],
    [['action=ACCEPT', 'protocol=udp'], [2]],
    [['protocol=TCP'], [0, 1]],
    [['srcaddr=10.0.0.0/8'], [0]],
    [['srcaddr=172.16.0.0/12'], [2]],
    [['srcaddr!=10.0.0.0/8'], [1, 2, 3]],
    [['interface_id=eni-0a*'], [0, 2, 3]],
    [['interface-id!=eni-0a1'], [1]],
    [['srcaddr=-'], [3]],
    [['packets!=-'], [0, 1, 2]],
    [['start>=2026-01-01T00:03:00Z'], [2, 3]],
    [['log_status=NODATA'], [3]],
    [['vpc_id=-'], [0, 1, 2, 3]],
    [['vpc_id=vpc-1'], []],
  ])('%j keeps rows %j', (conds, rows) => {
    expect(matching(...conds)).toEqual(rows);
  });

  it.each([
    ['nonsense', /expected FIELD OP VALUE/],
    ['colour=red', /unknown field 'colour'/],
    ['action>REJECT', /action is text: only = and != apply/],
    ['bytes>lots', /bytes is a number: 'lots' is not one/],
    ['dstport=', /has no value/],
    ['action==REJECT', /the value starts with '='/],
    ['srcaddr=10.0.0.0/33', /'10.0.0.0\/33' is not an IPv4 CIDR block/],
    ['dstaddr!=2001:db8::/32', /IPv6 blocks are not supported/],
  ])('explains a bad condition: %s', (text, message) => {
    expect(() => parseCondition(text)).toThrow(message);
  });

  it('rejects a bad CIDR block', () => {
    expect(() => matching('srcaddr=10.0.0.0/40')).toThrow(/not an IPv4 CIDR block/);
  });
});
