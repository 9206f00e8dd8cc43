import ipaddr from 'ipaddr.js';
import { RollgateError } from '../errors.js';
import type { DataSourceConfig } from './datasources/connector.js';

/**
 * DATASOURCE_ALLOWED_HOSTS: the hosts an admin may point a data source at. Entries are host names (`db.internal`),
 * wildcards (`*.db.internal`), IP addresses or CIDRs (`10.0.0.0/8`). Names are matched as configured, not as
 * they resolve. Unset: any host (an admin is trusted with the network the gateway sees).
 */
export class HostAllowlist {
  private readonly names: string[] = [];
  private readonly suffixes: string[] = [];
  private readonly ranges: Array<[ipaddr.IPv4 | ipaddr.IPv6, number]> = [];

  constructor(readonly entries: readonly string[] | undefined) {
    for (const entry of entries ?? []) {
      const e = entry.trim().toLowerCase();
      if (e.startsWith('*.')) this.suffixes.push(e.slice(1));
      else if (e.includes('/')) this.ranges.push(ipaddr.parseCIDR(e));
      else if (ipaddr.isValid(e)) this.ranges.push([ipaddr.parse(e), ipaddr.parse(e).kind() === 'ipv4' ? 32 : 128]);
      else this.names.push(e);
    }
  }

  /** Throws FORBIDDEN naming the host when a data source's host is not allowed; DuckDB files need no host. */
  check(config: DataSourceConfig): void {
    if (this.entries === undefined) return;
    const host = hostOf(config);
    if (host === undefined || this.allows(host)) return;
    throw new RollgateError('FORBIDDEN', `data sources may not connect to ${host}: it is not in DATASOURCE_ALLOWED_HOSTS`, { field: config.kind === 'mysql' ? 'host' : 'url' });
  }

  private allows(host: string): boolean {
    const h = host.toLowerCase().replace(/^\[|\]$/g, '');
    if (this.names.includes(h) || this.suffixes.some((s) => h.endsWith(s))) return true;
    if (!ipaddr.isValid(h)) return false;
    const address = ipaddr.process(h);
    return this.ranges.some(([range, bits]) => address.kind() === range.kind() && address.match(range, bits));
  }
}

function hostOf(config: DataSourceConfig): string | undefined {
  switch (config.kind) {
    case 'clickhouse':
      return new URL(config.url).hostname;
    case 'mysql':
      return config.host;
    case 'duckdb':
      return undefined;
  }
}
