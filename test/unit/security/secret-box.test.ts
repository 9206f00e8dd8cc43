import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RollgateError } from '../../../src/errors.js';
import { SecretBox } from '../../../src/security/secret-box.js';

const KEY = 'a-master-key-of-some-length';
const box = new SecretBox(KEY);

function expectCannotDecrypt(open: () => string, secret?: string): void {
  let caught: unknown;
  try {
    open();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(RollgateError);
  const err = caught as RollgateError;
  expect(err.code).toBe('INTERNAL');
  expect(err.message).toContain('ROLLGATE_MASTER_KEY');
  if (secret !== undefined && secret.length > 0) {
    expect(err.message).not.toContain(secret);
    expect(String(err.cause ?? '')).not.toContain(secret);
  }
}

/** Flips one bit of the base64url part at `index` and re-encodes it. */
function tamper(sealed: string, index: number, byte = 0): string {
  const parts = sealed.split('.');
  const bytes = Buffer.from(parts[index] as string, 'base64url');
  bytes[byte % bytes.length] = (bytes[byte % bytes.length] as number) ^ 0x01;
  parts[index] = bytes.toString('base64url');
  return parts.join('.');
}

describe('SecretBox', () => {
  it('rejects master keys shorter than 16 characters', () => {
    expect(() => new SecretBox('')).toThrow(/at least 16 characters/);
    expect(() => new SecretBox('x'.repeat(15))).toThrow(RollgateError);
    expect(() => new SecretBox('x'.repeat(16))).not.toThrow();
  });

  it('writes v1.<iv>.<tag>.<ciphertext> in base64url', () => {
    const sealed = box.seal('hunter2', 'datasource:orders');
    const [version, iv, tag, ciphertext, ...rest] = sealed.split('.');
    expect(version).toBe('v1');
    expect(rest).toEqual([]);
    expect(Buffer.from(iv as string, 'base64url')).toHaveLength(12);
    expect(Buffer.from(tag as string, 'base64url')).toHaveLength(16);
    expect(Buffer.from(ciphertext as string, 'base64url')).toHaveLength(Buffer.byteLength('hunter2'));
    expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/);
    expect(sealed).not.toContain('hunter2');
  });

  it('property: open(seal(x, aad), aad) === x, for any text and aad', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), fc.option(fc.string({ maxLength: 40 }), { nil: undefined }), (plaintext, aad) => {
        expect(box.open(box.seal(plaintext, aad), aad)).toBe(plaintext);
        // Another box on the same master key derives the same key.
        expect(new SecretBox(KEY).open(box.seal(plaintext, aad), aad)).toBe(plaintext);
      }),
      { numRuns: 300 },
    );
  });

  it('round-trips the empty string and long secrets', () => {
    expect(box.open(box.seal(''))).toBe('');
    const long = 'p@ss'.repeat(10_000);
    expect(box.open(box.seal(long, 'id'), 'id')).toBe(long);
  });

  it('seals equal plaintexts to different values (fresh IV each time)', () => {
    const seen = new Set(Array.from({ length: 50 }, () => box.seal('same secret', 'id')));
    expect(seen.size).toBe(50);
    const ivs = new Set([...seen].map((s) => s.split('.')[1]));
    expect(ivs.size).toBe(50);
  });

  it.each([
    ['iv', 1],
    ['tag', 2],
    ['ciphertext', 3],
  ])('refuses a value whose %s was changed', (_part, index) => {
    const sealed = box.seal('secret-password', 'id');
    for (let byte = 0; byte < 12; byte++) expectCannotDecrypt(() => box.open(tamper(sealed, index, byte), 'id'), 'secret-password');
  });

  it('property: any single bit flipped anywhere is refused', () => {
    const sealed = box.seal('secret-password', 'id');
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.nat(), (index, byte) => {
        expectCannotDecrypt(() => box.open(tamper(sealed, index, byte), 'id'), 'secret-password');
      }),
      { numRuns: 200 },
    );
  });

  it.each([
    ['an empty string', ''],
    ['another version', 'v2.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA.AAAA'],
    ['too few parts', 'v1.AAAAAAAAAAAAAAAA.AAAA'],
    ['too many parts', 'v1.a.b.c.d'],
    ['non-base64url characters', 'v1.AAAA+AAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA.AAAA'],
    ['a short IV', 'v1.AAAA.AAAAAAAAAAAAAAAAAAAAAA.AAAA'],
  ])('refuses %s', (_label, sealed) => {
    expectCannotDecrypt(() => box.open(sealed));
  });

  it('refuses a truncated or extended ciphertext', () => {
    const sealed = box.seal('secret-password');
    expectCannotDecrypt(() => box.open(sealed.slice(0, -2)), 'secret-password');
    expectCannotDecrypt(() => box.open(`${sealed}AA`), 'secret-password');
  });

  it('refuses to open with another master key', () => {
    const sealed = box.seal('secret-password', 'id');
    expectCannotDecrypt(() => new SecretBox(`${KEY}!`).open(sealed, 'id'), 'secret-password');
    expectCannotDecrypt(() => new SecretBox('another-master-key-entirely').open(sealed, 'id'), 'secret-password');
  });

  it('binds the associated data: another record id, or none, does not open it', () => {
    const sealed = box.seal('secret-password', 'datasource:a');
    expect(box.open(sealed, 'datasource:a')).toBe('secret-password');
    expectCannotDecrypt(() => box.open(sealed, 'datasource:b'), 'secret-password');
    expectCannotDecrypt(() => box.open(sealed), 'secret-password');
    expectCannotDecrypt(() => box.open(box.seal('secret-password'), 'datasource:a'), 'secret-password');
  });
});
