import type { Position } from './units.js';

/**
 * A manifest lists the files one flush writes for one input range. It is stored before the files,
 * so after a crash every file that may exist for an unconfirmed range is known and can be
 * removed before the range is replayed: this is what makes replays with different file
 * boundaries (age-based rolling) free of duplicates. It is deleted once the range is checkpointed,
 * or when a rollback is done. Kinesis ranges name their lease tenure, so a former owner's late
 * write can be told apart; a recovery that rolls such a range back keeps its manifest for a grace
 * period, naming any file the former owner still puts.
 */
export interface Manifest {
  readonly version: 1;
  readonly unit: string;
  readonly first: Position;
  readonly last: Position;
  readonly records: number;
  readonly files: readonly string[];
  /**
   * Kinesis units: the lease tenure (holdIdOf) that wrote the range. A range some other tenure
   * wrote is committed only if that tenure also wrote the checkpoint covering it.
   */
  readonly hold?: string;
  /**
   * Set by a recovery that rolled the range back but kept the manifest (a late write of `hold`
   * may still come): never committed, whatever checkpoint covers it.
   */
  readonly rolledBack?: true;
}

export const STATE_ROOT = '_flowcut/';
export const MANIFEST_ROOT = `${STATE_ROOT}manifests/`;
/** Completed input objects of a backfill, with the files that hold them. */
export const OBJECT_ROOT = `${STATE_ROOT}objects/`;

export function manifestPrefix(tag: string): string {
  return `${MANIFEST_ROOT}${tag}/`;
}

export function encodeManifest(m: Manifest): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(m));
}

export function decodeManifest(bytes: Uint8Array, key: string): Manifest {
  let m: unknown;
  try {
    m = JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    throw new Error(`bad manifest ${key}: ${(err as Error).message}`);
  }
  const x = m as Partial<Manifest>;
  if (x.version !== 1 || typeof x.unit !== 'string' || !Array.isArray(x.files) || x.first === undefined || x.last === undefined || (x.hold !== undefined && typeof x.hold !== 'string') || (x.rolledBack !== undefined && x.rolledBack !== true)) {
    throw new Error(`bad manifest ${key}: not a flowcut archive manifest`);
  }
  return x as Manifest;
}
