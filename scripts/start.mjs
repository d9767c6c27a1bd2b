// npm start: the embedded default. Until the streaming pipeline lands, it generates simulated VPC
// traffic (with attacks) in AWS's S3 and Kinesis shapes under .flowcut/demo and shows it decoded.
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = `${root}dist/cli/main.js`;
if (!existsSync(cli)) execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
const demo = `${root}.flowcut/demo`;
rmSync(demo, { recursive: true, force: true });

const flowcut = (...args) => execFileSync(process.execPath, [cli, ...args], { cwd: root, stdio: 'inherit' });
const say = (text) => process.stdout.write(`\n\x1b[1m== ${text}\x1b[0m\n`);

say('Simulating 2 hours of a small VPC (web, app, db, bastion) with a port scan, SSH brute force and an exfiltration');
flowcut('simulate', '--minutes', '120', '--as', 's3', '--out', `${demo}/s3`, '--labels', `${demo}/labels.csv`);
flowcut('simulate', '--minutes', '120', '--as', 'get-records', '--out', `${demo}/kinesis/get-records.json`);

say('Rejected traffic in the S3 objects (first 15)');
flowcut('cat', `${demo}/s3`, '--where', 'action=REJECT', '--output', 'table', '--limit', '15');

say('The Kinesis records (CloudWatch Logs subscription payloads): SSH connections to the bastion');
flowcut('cat', `${demo}/kinesis/get-records.json`, '--where', 'dstport=22', '--where', 'srcaddr!=198.51.100.7', '--output', 'count');

say('Flows over 1 GB');
flowcut('cat', `${demo}/s3`, '--where', 'bytes>1000000000', '--output', 'table');

process.stdout.write(`
Where to look:
  ${demo}/s3/AWSLogs/...          the S3 text object, in AWS's key layout
  ${demo}/kinesis/get-records.json  what \`aws kinesis get-records\` prints for the same traffic
  ${demo}/labels.csv               ground truth per record
Try:  npx flowcut cat ${demo}/s3 --where dstport=22 --output table
      npx flowcut cat --help
`);
