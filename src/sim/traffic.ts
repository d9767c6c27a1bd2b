import { SeededRandom } from './random.js';

/**
 * Simulated VPC traffic as v2 flow-log lines: a small VPC with web servers, an app tier, a database
 * and a bastion, normal traffic shaped by time of day, and injected attacks (port scans, SSH
 * brute force, a data exfiltration burst). Ground truth is returned with each line so detection
 * can be measured on it. Entirely generated here: no third-party data.
 */

/** The header line of the lines simulateTraffic writes (AWS's default format, version 2). */
export const SIM_HEADER = 'version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status';

export interface SimOptions {
  seed?: number;
  /** Epoch seconds of the first window. */
  startSec?: number;
  /** Number of 1-minute aggregation windows. */
  minutes?: number;
  account?: string;
  /** Scale of normal traffic: records per ENI per minute, roughly. */
  flowsPerEniMinute?: number;
  /** Inject attacks (default true). */
  attacks?: boolean;
}

export interface SimLine {
  line: string;
  interfaceId: string;
  /** Window end, epoch seconds. */
  endSec: number;
  /** Empty for normal traffic; otherwise the attack's name. */
  label: string;
}

interface Host {
  eni: string;
  ip: string;
  role: 'web' | 'app' | 'db' | 'bastion';
}

const INTERNET = ['203.0.113.', '198.51.100.', '192.0.2.'];

export function simulateTraffic(options: SimOptions = {}): SimLine[] {
  const rnd = new SeededRandom(options.seed ?? 42);
  const account = options.account ?? '123456789012';
  const start = options.startSec ?? Math.floor(Date.UTC(2026, 0, 5, 0, 0) / 1000);
  const minutes = options.minutes ?? 60;
  const rate = options.flowsPerEniMinute ?? 8;
  const hosts: Host[] = [
    { eni: 'eni-0a1b2c3d4e5f60001', ip: '10.0.1.10', role: 'web' },
    { eni: 'eni-0a1b2c3d4e5f60002', ip: '10.0.1.11', role: 'web' },
    { eni: 'eni-0a1b2c3d4e5f60003', ip: '10.0.2.20', role: 'app' },
    { eni: 'eni-0a1b2c3d4e5f60004', ip: '10.0.3.30', role: 'db' },
    { eni: 'eni-0a1b2c3d4e5f60005', ip: '10.0.0.5', role: 'bastion' },
  ];
  const out: SimLine[] = [];
  const attackAt = (frac: number): number => Math.floor(minutes * frac);
  const scanMinute = attackAt(0.35), bruteMinute = attackAt(0.6), exfilMinute = attackAt(0.8);
  const attacks = options.attacks ?? true;

  for (let m = 0; m < minutes; m++) {
    const t0 = start + m * 60;
    const t1 = t0 + 60;
    const hour = new Date(t0 * 1000).getUTCHours();
    const diurnal = 0.6 + 0.4 * Math.sin(((hour - 6) / 24) * 2 * Math.PI);
    const emit = (h: Host, src: string, dst: string, sp: number, dp: number, proto: number, pk: number, by: number, action: string, label = ''): void => {
      const s = t0 + rnd.int(0, 20), e = t1 - rnd.int(0, 5);
      out.push({ line: `2 ${account} ${h.eni} ${src} ${dst} ${sp} ${dp} ${proto} ${pk} ${by} ${s} ${e} ${action} OK`, interfaceId: h.eni, endSec: e, label });
    };
    for (const h of hosts) {
      const n = Math.max(1, Math.round(rate * diurnal * (0.7 + 0.6 * rnd.next())));
      for (let k = 0; k < n; k++) {
        const eph = rnd.int(32768, 60999);
        switch (h.role) {
          case 'web': {
            const client = rnd.pick(INTERNET) + rnd.int(1, 254);
            const pk = rnd.heavy(12), by = pk * rnd.int(60, 1400);
            emit(h, client, h.ip, eph, 443, 6, pk, by, 'ACCEPT');
            emit(h, h.ip, client, 443, eph, 6, pk + rnd.int(0, 4), by * 3, 'ACCEPT');
            break;
          }
          case 'app': {
            const web = rnd.pick(hosts.filter((x) => x.role === 'web'));
            const pk = rnd.heavy(8);
            emit(h, web.ip, h.ip, eph, 8080, 6, pk, pk * 400, 'ACCEPT');
            emit(h, h.ip, '10.0.3.30', eph, 5432, 6, pk, pk * 200, 'ACCEPT');
            break;
          }
          case 'db': {
            const pk = rnd.heavy(8);
            emit(h, '10.0.2.20', h.ip, eph, 5432, 6, pk, pk * 200, 'ACCEPT');
            if (rnd.next() < 0.2) emit(h, h.ip, '10.0.0.2', eph, 53, 17, 1, 70, 'ACCEPT');
            break;
          }
          case 'bastion': {
            if (rnd.next() < 0.3) {
              const admin = '198.51.100.7';
              const pk = rnd.heavy(40);
              emit(h, admin, h.ip, eph, 22, 6, pk, pk * 120, 'ACCEPT');
            }
            if (rnd.next() < 0.4) emit(h, rnd.pick(INTERNET) + rnd.int(1, 254), h.ip, eph, rnd.pick([23, 3389, 445]), 6, 1, 40, 'REJECT');
            break;
          }
        }
      }
      if (rnd.next() < 0.02) {
        out.push({ line: `2 ${account} ${h.eni} - - - - - - - ${t0} ${t1} - NODATA`, interfaceId: h.eni, endSec: t1, label: '' });
      }
    }
    if (!attacks) continue;
    const web = hosts[0]!, bastion = hosts[4]!, db = hosts[3]!;
    if (m >= scanMinute && m < scanMinute + 3) {
      const scanner = '192.0.2.66';
      for (let port = 1 + (m - scanMinute) * 400; port <= (m - scanMinute + 1) * 400; port++) {
        emit(web, scanner, web.ip, 54321, port, 6, 1, 44, port === 443 ? 'ACCEPT' : 'REJECT', 'port-scan');
      }
    }
    if (m >= bruteMinute && m < bruteMinute + 5) {
      for (let k = 0; k < 150; k++) {
        emit(bastion, `203.0.113.${200 + (k % 20)}`, bastion.ip, rnd.int(32768, 60999), 22, 6, rnd.int(10, 20), rnd.int(2500, 4200), 'ACCEPT', 'ssh-brute-force');
      }
    }
    if (m >= exfilMinute && m < exfilMinute + 2) {
      emit(db, db.ip, '198.51.100.250', rnd.int(32768, 60999), 443, 6, 1_800_000, 2_400_000_000, 'ACCEPT', 'exfiltration');
    }
  }
  return out;
}
