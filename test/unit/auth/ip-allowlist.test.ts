import { describe, expect, it } from 'vitest';
import { IpAllowlist, normalizeEntry } from '../../../src/auth/ip-allowlist.js';
import { RollgateError } from '../../../src/errors.js';

describe('IpAllowlist', () => {
  const list = new IpAllowlist(['10.0.0.0/8', '192.0.2.7', '2001:db8::/32', '::ffff:172.16.0.0/108']);

  it.each([
    ['10.255.0.1', true],
    ['11.0.0.1', false],
    ['192.0.2.7', true],
    ['192.0.2.8', false],
    ['::ffff:10.1.1.1', true],
    ['2001:db8:1::1', true],
    ['2001:db9::1', false],
    ['172.16.3.4', true],
    ['not an address', false],
    ['', false],
  ])('%s → %s', (address, allowed) => {
    expect(list.allows(address)).toBe(allowed);
  });

  it('allows everyone when empty', () => {
    expect(new IpAllowlist([]).allows('203.0.113.5')).toBe(true);
  });

  it('normalizes entries and refuses what is not an address or CIDR', () => {
    expect(normalizeEntry('192.0.2.7')).toBe('192.0.2.7/32');
    expect(normalizeEntry('2001:DB8::/32')).toBe('2001:db8::/32');
    for (const bad of ['10.0.0.0/33', '10.0.0', 'example.com', '::1/129']) expect(() => normalizeEntry(bad)).toThrow(RollgateError);
  });
});
