/**
 * A LocalStore whose Parquet puts wait until `open()`: a slow or stalled archive flush, so tests
 * can make a lease change hands while a flush of it is still writing. With `failParquet` set,
 * the held puts fail once released.
 */
import type { ArchiveStore, LocalStore } from '../../src/archive/store.js';

export class GatedStore implements ArchiveStore {
  readonly url: string;
  private readonly gate: Promise<void>;
  open!: () => void;
  /** Parquet puts that have reached the gate. */
  parquetPutsWaiting = 0;
  failParquet = false;
  constructor(private readonly inner: LocalStore) {
    this.url = inner.url;
    this.gate = new Promise((r) => (this.open = r));
  }
  async put(key: string, data: Uint8Array): Promise<void> {
    if (key.endsWith('.parquet')) {
      this.parquetPutsWaiting++;
      await this.gate;
      if (this.failParquet) throw new Error('injected: S3 unavailable');
    }
    await this.inner.put(key, data);
  }
  get(key: string) {
    return this.inner.get(key);
  }
  list(prefix: string) {
    return this.inner.list(prefix);
  }
  delete(keys: readonly string[]) {
    return this.inner.delete(keys);
  }
}
