/**
 * kinesis-local (kinesis-mock) as a child process for `flowcut run` with nothing configured:
 * from node_modules, on 127.0.0.1 and a free port. kinesis-mock always binds 0.0.0.0, so the
 * child is started through a small preamble that makes listen() default to loopback.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const require = createRequire(import.meta.url);
const HOST = '127.0.0.1';

// Runs in the child before kinesis-mock: listen(port) and listen({port}) get host 127.0.0.1,
// and the child exits when its parent does (even after SIGKILL of the parent).
const PREAMBLE = `
const net = require('node:net');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const a = args[0];
  if (typeof a === 'number' || (typeof a === 'string' && /^\\d+$/.test(a))) { if (typeof args[1] !== 'string') args.splice(1, 0, '${HOST}'); }
  else if (a && typeof a === 'object' && !Array.isArray(a) && 'port' in a && !a.host) args[0] = { ...a, host: '${HOST}' };
  return listen.apply(this, args);
};
const parent = Number(process.env.FLOWCUT_PARENT_PID);
setInterval(() => { try { process.kill(parent, 0); } catch { process.exit(0); } }, 500).unref();
require(process.env.FLOWCUT_KINESIS_MAIN);
`;

export interface EmbeddedKinesis {
  readonly endpoint: string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function healthy(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { timeout: 1000, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.once('error', () => resolve(false));
    req.once('timeout', () => req.destroy());
    req.end();
  });
}

/** Starts kinesis-local with the given streams ("name:shards,..."); resolves once it answers. */
export async function startEmbeddedKinesis(streams: string): Promise<EmbeddedKinesis> {
  const main = require.resolve('kinesis-local/main.js');
  for (let attempt = 1; ; attempt++) {
    const [plain, tls] = [await freePort(), await freePort()];
    let output = '';
    const child: ChildProcess = spawn(process.execPath, ['-e', PREAMBLE], {
      env: {
        ...process.env,
        FLOWCUT_PARENT_PID: String(process.pid),
        FLOWCUT_KINESIS_MAIN: main,
        KINESIS_MOCK_CERT_PATH: join(dirname(main), 'server.json'),
        KINESIS_MOCK_PLAIN_PORT: String(plain),
        KINESIS_MOCK_TLS_PORT: String(tls),
        LOG_LEVEL: 'WARN',
        ROOT_LOG_LEVEL: 'ERROR',
        CREATE_STREAM_DURATION: '0ms',
        SPLIT_SHARD_DURATION: '0ms',
        MERGE_SHARDS_DURATION: '0ms',
        REGISTER_STREAM_CONSUMER_DURATION: '0ms',
        SHOULD_PERSIST_DATA: 'false',
        AWS_REGION: 'us-east-1',
        INITIALIZE_STREAMS: streams,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (b: Buffer) => void (output = (output + b.toString()).slice(-4000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const endpoint = `http://${HOST}:${plain}`;
    const deadline = Date.now() + 30_000;
    while (child.exitCode === null && !(await healthy(`${endpoint}/healthcheck`))) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`kinesis-local did not start within 30 s:\n${output}`);
      }
      await sleep(50);
    }
    if (child.exitCode !== null) {
      if (attempt < 3 && /EADDRINUSE/.test(output)) continue;
      throw new Error(`kinesis-local exited (code ${child.exitCode}):\n${output}`);
    }
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const onExit = () => child.kill('SIGKILL');
    process.once('exit', onExit);
    return {
      endpoint,
      async stop() {
        process.off('exit', onExit);
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        // kinesis-mock can ignore SIGTERM for a long time after heavy use.
        if (!(await Promise.race([exited.then(() => true), sleep(2000).then(() => false)]))) {
          child.kill('SIGKILL');
          await exited;
        }
      },
    };
  }
}
