/** A serialised state is truncated, corrupt, foreign or from a newer format. */
export class RcfStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RcfStateError';
  }
}
