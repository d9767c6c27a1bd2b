import { describe, expect, it } from 'vitest';
import { parseFlowLogKey } from './s3-key.js';

describe('S3 key layouts of VPC flow logs', () => {
  const file = '123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20260105T1305Z_fe123456.log.gz';
  const info = { account: '123456789012', region: 'us-east-1', flowLogId: 'fl-1234abcd', timeMs: Date.UTC(2026, 0, 5, 13, 5) };

  it.each([
    [`AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/01/05/${file}`, false],
    [`my/prefix/AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/01/05/13/${file}`, false],
    [`p/AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-east-1/year=2026/month=01/day=05/${file}`, true],
    [`AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-east-1/year=2026/month=01/day=05/hour=13/${file}`, true],
  ])('%s', (key, hive) => {
    expect(parseFlowLogKey(key)).toEqual({ ...info, hive });
  });

  it('reads a bare AWS file name and ignores other keys', () => {
    expect(parseFlowLogKey(`downloads/${file}`)).toEqual({ ...info, hive: false });
    expect(parseFlowLogKey('logs/2026/01/05/flows.log.gz')).toBeUndefined();
    expect(parseFlowLogKey('AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/01/05/x.log.gz')).toBeUndefined();
  });
});
