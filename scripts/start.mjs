// npm start: the whole pipeline on its embedded default. `flowcut run` with no stream and no AWS
// configured starts kinesis-local, keeps leases in an in-process DynamoDB emulator, replays
// simulated VPC traffic (with a port scan, an SSH brute force and an exfiltration) into the stream
// as CloudWatch Logs would, and archives every record as Parquet under .flowcut/archive.
// Ctrl-C stops it cleanly and shows what the archive holds. `npm start -- --for 90` stops by itself.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = `${root}dist/cli/main.js`;
if (!existsSync(cli)) execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
const archive = `${root}.flowcut/archive`;
rmSync(archive, { recursive: true, force: true });
const forIndex = process.argv.indexOf('--for');
const seconds = forIndex > 0 ? Number(process.argv[forIndex + 1]) : undefined;

const say = (text) => process.stdout.write(`\x1b[1m${text}\x1b[0m\n`);
say(`flowcut: the streaming pipeline on the embedded default; archive in ${archive}`);
say(seconds ? `(stopping by itself after ${seconds} s)` : '(Ctrl-C stops it and shows what was archived)');

const run = spawn(process.execPath, [cli, 'run', '--archive', archive, '--checkpoint-interval-ms', '15000'], { cwd: root, stdio: 'inherit' });
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  run.kill('SIGINT');
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
if (seconds) setTimeout(stop, seconds * 1000).unref();

run.on('exit', (code) => {
  if (code !== 0 && code !== 130) process.exit(code ?? 1);
  const flowcut = (...args) => {
    try {
      execFileSync(process.execPath, [cli, ...args], { cwd: root, stdio: 'inherit' });
    } catch {
      /* the command printed its own error */
    }
  };
  say('\nTop talkers in the archive:');
  flowcut('query', 'top-talkers', '--archive', archive, '--output', 'table', '-n', '5', '-q');
  say('\nRejected traffic by port:');
  flowcut('query', 'rejected-ports', '--archive', archive, '--output', 'table', '-n', '5', '-q');
  process.stdout.write(`
Where to look:
  ${archive}   Parquet, partitioned as AWS does (aws-account-id=/aws-service=/aws-region=/year=/month=/day=/hour=)
Try:
  npx flowcut query "SELECT action, count(*) FROM flows GROUP BY ALL" --archive .flowcut/archive
  npx flowcut simulate --minutes 30 --as s3 --out .flowcut/demo && npx flowcut cat .flowcut/demo --where action=REJECT
  npx flowcut --help
`);
});
