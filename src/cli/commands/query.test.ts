import { describe, expect, it } from 'vitest';
import { format } from './query.js';

describe('query tables', () => {
  it('group the digits of amounts but not of ports, years or epoch seconds', () => {
    const text = format('table', ['year', 'start', 'dstport', 'bytes', 'count(DISTINCT dstport)', 'aws-region'], [[2026, 1795792686, 45424, 1278, 12345, 'eu-west-1']]);
    expect(text.split('\n')[2]).toBe('2026  1795792686    45424  1,278                   12,345  eu-west-1');
  });
});
