/** Equivalent AWS CLI commands, quoted for a POSIX shell. */

const SAFE = /^[A-Za-z0-9_\/.:=@,+%-]+$/;

export function shq(value: string): string {
  return SAFE.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

export type CliArgs = Record<string, string | number | boolean | undefined>;

/** `aws SERVICE OP --flag value ...`; `true` is a bare flag, `undefined`/`false` are left out. */
export function awsCli(service: string, op: string, args: CliArgs, region?: string): string {
  const parts = ['aws', service, op];
  for (const [flag, value] of Object.entries(args)) {
    if (value === undefined || value === false) continue;
    parts.push(`--${flag}`);
    if (value !== true) parts.push(shq(String(value)));
  }
  if (region !== undefined) parts.push('--region', shq(region));
  return parts.join(' ');
}

/** Tags flowcut puts on everything it creates; teardown deletes only what carries both. */
export const MANAGED_TAG = 'flowcut:managed';
export const PIPELINE_TAG = 'flowcut:pipeline';

export function managedTags(stream: string): Record<string, string> {
  return { [MANAGED_TAG]: 'true', [PIPELINE_TAG]: stream };
}

export function tagList(stream: string): Array<{ Key: string; Value: string }> {
  return Object.entries(managedTags(stream)).map(([Key, Value]) => ({ Key, Value }));
}

/** True when tags (as a map) mark a resource as created by flowcut for this pipeline. */
export function isManaged(tags: Record<string, string | undefined> | undefined, stream: string): boolean {
  return tags?.[MANAGED_TAG] === 'true' && tags[PIPELINE_TAG] === stream;
}

export function tagsToMap(tags: ReadonlyArray<{ Key?: string | undefined; Value?: string | undefined }> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of tags ?? []) if (t.Key !== undefined) out[t.Key] = t.Value ?? '';
  return out;
}
