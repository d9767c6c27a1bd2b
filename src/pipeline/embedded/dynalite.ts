/**
 * dynalite (a DynamoDB emulator in JavaScript) running inside this process on 127.0.0.1 and an
 * ephemeral port: the lease store for `flowcut run` with no AWS configured, and for tests. It
 * keeps everything in memory, so leases last as long as the process.
 */
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

interface DynaliteOptions {
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
  path?: string;
}

const require = createRequire(import.meta.url);
const dynalite = require('dynalite') as (opts: DynaliteOptions) => Server;

export interface LocalDynamo {
  readonly endpoint: string;
  stop(): Promise<void>;
}

export async function startDynalite(opts: { path?: string } = {}): Promise<LocalDynamo> {
  // Tables become ACTIVE at once instead of after dynalite's default 500 ms.
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...(opts.path ? { path: opts.path } : {}) });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        // Keep-alive sockets of clients that were not destroyed would hold close() open.
        (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
