import type { S3KeyInfo } from '../flowlog/batch.js';

/**
 * Reads what AWS's S3 key layouts for flow logs say about an object:
 *   [prefix/]AWSLogs/{account}/vpcflowlogs/{region}/{yyyy}/{MM}/{dd}/[{HH}/]{file}
 *   [prefix/]AWSLogs/aws-account-id={account}/aws-service=vpcflowlogs/aws-region={region}/year=…/month=…/day=…/[hour=…/]{file}
 * with file `{account}_vpcflowlogs_{region}_{flow-log-id}_{YYYYMMDDTHHmmZ}_{hash}.log.gz` (or
 * `.parquet`). Returns undefined for keys that follow neither layout.
 */
export function parseFlowLogKey(key: string): S3KeyInfo | undefined {
  const plain = /(?:^|\/)AWSLogs\/(\d{12})\/vpcflowlogs\/([a-z0-9-]+)\/\d{4}\/\d{2}\/\d{2}\/(?:\d{2}\/)?([^/]+)$/.exec(key);
  const hive = /(?:^|\/)AWSLogs\/aws-account-id=(\d{12})\/aws-service=vpcflowlogs\/aws-region=([a-z0-9-]+)\/year=\d{4}\/month=\d{2}\/day=\d{2}\/(?:hour=\d{2}\/)?([^/]+)$/.exec(key);
  const m = plain ?? hive;
  const fileOnly = m ? undefined : /(?:^|\/)(\d{12}_vpcflowlogs_[^/]+)$/.exec(key);
  const fileName = m ? m[3]! : fileOnly?.[1];
  if (fileName === undefined) return undefined;
  const info: S3KeyInfo = { account: m?.[1] ?? '', region: m?.[2] ?? '', hive: hive !== null };
  const f = /^(\d{12})_vpcflowlogs_([a-z0-9-]+)_(fl-[0-9a-z]+)_(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})Z_[0-9a-f]+\./.exec(fileName);
  if (f) {
    info.account ||= f[1]!;
    info.region ||= f[2]!;
    info.flowLogId = f[3]!;
    info.timeMs = Date.UTC(+f[4]!, +f[5]! - 1, +f[6]!, +f[7]!, +f[8]!);
  }
  return info.account === '' ? undefined : info;
}
