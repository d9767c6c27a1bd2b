/**
 * NAB's probation period for a series of `rows` rows: the first 15%, at most 750 rows. NAB gives
 * it to every detector as the period to learn in; the series detector also takes it as the
 * series' unit of time (its cool-down), and the NAB scorer drops these rows.
 */
export function seriesProbation(rows: number): number {
  return Math.min(Math.floor(0.15 * rows), 750);
}
