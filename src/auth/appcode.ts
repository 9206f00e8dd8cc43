import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/** Changing the label changes every stored hash: it names the format. */
const HKDF_INFO = 'rollgate appcode v1';

/**
 * AppCodes are stored as HMAC-SHA256 under a key derived from the master key:
 * deterministic, so a presented code is found by its hash, and useless to
 * whoever reads the catalog without the master key.
 */
export class AppCodeHasher {
  private readonly key: Buffer;

  constructor(masterKey: string) {
    this.key = Buffer.from(hkdfSync('sha256', Buffer.from(masterKey, 'utf8'), Buffer.alloc(0), HKDF_INFO, 32));
  }

  hash(appCode: string): string {
    return createHmac('sha256', this.key).update(appCode, 'utf8').digest('hex');
  }

  /**
   * Timing-safe: both sides are 32-byte digests. Takes the hash the lookup already computed rather than
   * hashing the code again (an HMAC object costs ~0.05 ms of CPU, once per call).
   */
  sameHash(hash: string, storedHash: string): boolean {
    const given = Buffer.from(hash, 'hex');
    const stored = Buffer.from(storedHash, 'hex');
    return stored.length === given.length && timingSafeEqual(given, stored);
  }
}
