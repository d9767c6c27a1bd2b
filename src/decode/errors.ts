import { z } from 'zod';

/** A payload or object that cannot be decoded; the message says why, for a person. */
export class DecodeError extends Error {
  override name = 'DecodeError';
}

/** Limits on what input may make us allocate. Sizes in input are never trusted. */
export interface DecodeLimits {
  /** Largest inflated size of one gzip payload or object read whole (Kinesis record, JSON, Parquet). */
  maxInflatedBytes: number;
  /** Largest inflated size of one streamed text object (bounds time, not memory). */
  maxStreamedBytes: number;
  /** Longest line accepted in text input. */
  maxLineBytes: number;
}

export const DEFAULT_LIMITS: DecodeLimits = {
  maxInflatedBytes: 256 * 1024 * 1024,
  maxStreamedBytes: 64 * 1024 * 1024 * 1024,
  maxLineBytes: 1024 * 1024,
};

/** Issues spelt out in a message; a payload of millions of bad items must not become a huge error. */
const LISTED_ISSUES = 5;

/** A zod error for people, on one line, naming at most a few of its issues. */
export function describeIssues(error: z.ZodError): string {
  const issues = error.issues;
  const listed = z.prettifyError(new z.ZodError(issues.slice(0, LISTED_ISSUES))).replaceAll('\n', '; ');
  return issues.length > LISTED_ISSUES ? `${listed}; … and ${issues.length - LISTED_ISSUES} more` : listed;
}
