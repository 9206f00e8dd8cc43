import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { RollgateError } from '../errors.js';

const VERSION = 'v1';
const ALGORITHM = 'aes-256-gcm';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Changing the label changes every derived key: it names the format, like VERSION. */
const HKDF_INFO = 'rollgate secret-box v1';
const MIN_MASTER_KEY_LENGTH = 16;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/**
 * Seals small secrets (data source passwords, app secrets) for storage.
 *
 * AES-256-GCM with a key derived from the master key by HKDF-SHA256, a fresh
 * random 12-byte IV per seal, and the output `v1.<iv>.<tag>.<ciphertext>` in
 * base64url. The optional associated data (e.g. the record's id) is
 * authenticated but not stored: a sealed value only opens with the same aad,
 * so it cannot be copied onto another record.
 */
export class SecretBox {
  private readonly key: Buffer;

  constructor(masterKey: string) {
    if (masterKey.length < MIN_MASTER_KEY_LENGTH) {
      throw new RollgateError('INVALID_CONFIG', `ROLLGATE_MASTER_KEY must be at least ${MIN_MASTER_KEY_LENGTH} characters long`);
    }
    // No salt: the master key is a high-entropy secret, not a password, and one key per label is the intent.
    this.key = Buffer.from(hkdfSync('sha256', Buffer.from(masterKey, 'utf8'), Buffer.alloc(0), HKDF_INFO, KEY_BYTES));
  }

  seal(plaintext: string, aad?: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.key, iv, { authTagLength: TAG_BYTES });
    if (aad !== undefined) cipher.setAAD(Buffer.from(aad, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [VERSION, iv, cipher.getAuthTag(), ciphertext].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
  }

  open(sealed: string, aad?: string): string {
    const parts = sealed.split('.');
    if (parts.length !== 4 || parts[0] !== VERSION) throw cannotDecrypt();
    const [iv, tag, ciphertext] = [decode(parts[1]), decode(parts[2]), decode(parts[3])];
    if (iv?.length !== IV_BYTES || tag?.length !== TAG_BYTES || ciphertext === undefined) throw cannotDecrypt();
    try {
      const decipher = createDecipheriv(ALGORITHM, this.key, iv, { authTagLength: TAG_BYTES });
      if (aad !== undefined) decipher.setAAD(Buffer.from(aad, 'utf8'));
      decipher.setAuthTag(tag);
      // final() throws unless the tag matches: nothing unauthenticated is returned.
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
    } catch (err) {
      throw cannotDecrypt(err);
    }
  }
}

/** Strict base64url: Buffer.from would skip invalid characters and open a tampered value's neighbour. */
function decode(part: string | undefined): Buffer | undefined {
  if (part === undefined || !BASE64URL.test(part)) return undefined;
  const bytes = Buffer.from(part, 'base64url');
  return bytes.toString('base64url') === part ? bytes : undefined;
}

function cannotDecrypt(cause?: unknown): RollgateError {
  return new RollgateError('INTERNAL', 'secret cannot be decrypted: wrong ROLLGATE_MASTER_KEY or tampered data', cause === undefined ? {} : { cause });
}
