import ipaddr from 'ipaddr.js';
import { invalidParameter } from '../errors.js';

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/**
 * An app's allowlist of IPv4/IPv6 addresses and CIDRs; empty allows every
 * address. IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`, what a dual-stack
 * socket reports) are compared as the IPv4 address they carry.
 */
export class IpAllowlist {
  private readonly ranges: Range[];

  constructor(entries: readonly string[]) {
    this.ranges = entries.map(parseEntry);
  }

  get empty(): boolean {
    return this.ranges.length === 0;
  }

  allows(address: string): boolean {
    if (this.ranges.length === 0) return true;
    let ip: ipaddr.IPv4 | ipaddr.IPv6;
    try {
      ip = normalize(ipaddr.parse(address));
    } catch {
      return false;
    }
    return this.ranges.some(([net, bits]) => net.kind() === ip.kind() && ip.match([net, bits] as never));
  }
}

/** The canonical form of one entry (`10.0.0.0/8`, `2001:db8::/32`, `192.0.2.7/32`), or a 400 naming it. */
export function normalizeEntry(entry: string): string {
  const [net, bits] = parseEntry(entry);
  return `${net.toString()}/${bits}`;
}

/** ipaddr.js also reads legacy forms (`10.0.0` or `0x0a.0.0.1`); an allowlist entry is written in full. */
const LEGACY_IPV4 = /^[^:]*$/;
const FULL_IPV4 = /^\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?$/;

function parseEntry(entry: string): Range {
  try {
    const trimmed = entry.trim();
    if (LEGACY_IPV4.test(trimmed) && !FULL_IPV4.test(trimmed)) throw new Error('not a four-part IPv4 address');
    if (trimmed.includes('/')) {
      const [net, bits] = ipaddr.parseCIDR(trimmed);
      const normalized = normalize(net);
      // ::ffff:10.0.0.0/104 is 10.0.0.0/8.
      return normalized.kind() === net.kind() ? [net, bits] : [normalized, bits - 96];
    }
    const ip = normalize(ipaddr.parse(trimmed));
    return [ip, ip.kind() === 'ipv4' ? 32 : 128];
  } catch {
    throw invalidParameter('ipAllowlist', `ipAllowlist: ${JSON.stringify(entry).slice(0, 60)} is not an IPv4/IPv6 address or CIDR`);
  }
}

function normalize(ip: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | ipaddr.IPv6 {
  return ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress() ? (ip as ipaddr.IPv6).toIPv4Address() : ip;
}
