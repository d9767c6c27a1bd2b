/** Names for people beside the numbers the records keep. */

const PROTOCOLS: Record<number, string> = {
  0: 'HOPOPT', 1: 'ICMP', 2: 'IGMP', 4: 'IPv4', 6: 'TCP', 8: 'EGP', 17: 'UDP', 41: 'IPv6', 43: 'IPv6-Route',
  44: 'IPv6-Frag', 47: 'GRE', 50: 'ESP', 51: 'AH', 58: 'ICMPv6', 59: 'IPv6-NoNxt', 60: 'IPv6-Opts',
  88: 'EIGRP', 89: 'OSPF', 103: 'PIM', 112: 'VRRP', 115: 'L2TP', 132: 'SCTP', 136: 'UDPLite',
};

/** IANA protocol name (`TCP`), or the number as text when it has no common name. */
export function protocolName(protocol: number): string {
  return PROTOCOLS[protocol] ?? String(protocol);
}

/** Protocol number from a name (`tcp`, `UDP`) or a number in text; undefined when unknown. */
export function protocolNumber(text: string): number | undefined {
  if (/^\d+$/.test(text)) return Number(text);
  const upper = text.toUpperCase();
  for (const [n, name] of Object.entries(PROTOCOLS)) if (name.toUpperCase() === upper) return Number(n);
  return undefined;
}

const FLAGS: readonly [number, string][] = [
  [0x01, 'FIN'],
  [0x02, 'SYN'],
  [0x04, 'RST'],
  [0x08, 'PSH'],
  [0x10, 'ACK'],
  [0x20, 'URG'],
];

/**
 * TCP flag names of a `tcp-flags` value. AWS ORs the flags seen in the aggregation window and
 * documents FIN, SYN, RST and SYN-ACK (18); PSH, ACK and URG alone are not logged, but the bits are
 * named as other parsers do.
 */
export function tcpFlagNames(flags: number): string[] {
  const out: string[] = [];
  for (const [bit, name] of FLAGS) if ((flags & bit) !== 0) out.push(name);
  return out;
}
