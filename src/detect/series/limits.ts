/**
 * The largest magnitude a series value may have: the forests hold float32 points, and half of
 * that range leaves room for a difference or a weekly residual of two such values.
 */
export const MAX_POINT_VALUE = 1.7e38;
