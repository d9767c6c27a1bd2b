/** Kinesis sequence numbers are decimal strings of up to 128 bits: compare by length, then text. */
export function compareSequence(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}
