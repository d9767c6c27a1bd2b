import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { ObjectIn } from './types.js';

/**
 * Files and directories named on the command line, as objects: a directory is walked recursively
 * in name order (so S3-style key layouts mirrored on disk keep their time order); `-` is stdin.
 */
export async function* listLocalObjects(path: string): AsyncGenerator<ObjectIn> {
  if (path === '-') {
    yield { location: '-', key: '-', open: () => process.stdin };
    return;
  }
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new Error(e.code === 'ENOENT' ? `no such file or directory: ${path}` : `cannot read ${path}: ${e.message}`);
  }
  if (info.isDirectory()) {
    for (const file of await walk(path)) yield fileObject(file, relative(path, file), undefined);
  } else {
    yield fileObject(path, path, info.size);
  }
}

function fileObject(path: string, key: string, size: number | undefined): ObjectIn {
  return {
    location: path,
    key,
    ...(size === undefined ? {} : { size }),
    open: () => createReadStream(path, { highWaterMark: 1 << 20 }),
  };
}

async function walk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const full = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(full)));
    else if (e.isFile()) out.push(full);
  }
  return out;
}
