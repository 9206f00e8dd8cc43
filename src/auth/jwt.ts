import { hkdfSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Config } from '../config.js';
import { RollgateError } from '../errors.js';

const ISSUER = 'rollgate';
export type Audience = 'rollgate-api' | 'rollgate-admin';

export interface AppClaims {
  appKey: string;
  grants: string[];
}

interface Key {
  kid: string;
  sign: string | undefined;
  verify: string;
}

/**
 * Short-lived bearer tokens (jsonwebtoken), HS256 or RS256. Every key has a
 * `kid`; the first configured key signs, all of them verify, so a key is
 * rotated by putting the new one first and dropping the old one once its
 * tokens have expired. Without configured keys, one HS256 key is derived
 * from the master key.
 */
export class TokenService {
  private readonly keys: Key[];
  private readonly algorithm: 'HS256' | 'RS256';

  constructor(
    settings: Config['auth']['jwt'],
    masterKey: string,
    readonly ttlSeconds = settings.ttlSeconds,
  ) {
    this.algorithm = settings.keys === undefined ? 'HS256' : settings.algorithm;
    this.keys =
      settings.keys === undefined
        ? [derivedKey(masterKey)]
        : settings.keys.map((k) => {
            const verify = this.algorithm === 'HS256' ? k.secret : k.publicKey;
            if (verify === undefined) throw new RollgateError('INVALID_CONFIG', `ROLLGATE_JWT_KEYS: key ${k.kid} cannot verify ${this.algorithm}`);
            return { kid: k.kid, sign: this.algorithm === 'HS256' ? k.secret : k.privateKey, verify };
          });
  }

  issue(subject: string, claims: Record<string, unknown>, audience: Audience): { token: string; expiresAt: number } {
    const signer = this.keys[0];
    if (signer?.sign === undefined) throw new RollgateError('INTERNAL', 'no JWT signing key');
    const token = jwt.sign(claims, signer.sign, {
      algorithm: this.algorithm,
      keyid: signer.kid,
      expiresIn: this.ttlSeconds,
      issuer: ISSUER,
      audience,
      subject,
    });
    return { token, expiresAt: Date.now() + this.ttlSeconds * 1000 };
  }

  /** The verified payload; TOKEN_EXPIRED or TOKEN_INVALID otherwise (unknown kid, bad signature, wrong audience, …). */
  verify(token: string, audience: Audience): jwt.JwtPayload & { sub: string } {
    const decoded = jwt.decode(token, { complete: true });
    if (decoded === null || typeof decoded.payload === 'string') throw invalid('the bearer token is not a JWT');
    const kid = decoded.header.kid;
    const key = this.keys.find((k) => k.kid === kid);
    if (key === undefined) throw invalid('the bearer token is signed with an unknown kid');
    try {
      const payload = jwt.verify(token, key.verify, { algorithms: [this.algorithm], issuer: ISSUER, audience });
      if (typeof payload === 'string' || typeof payload.sub !== 'string') throw invalid('the bearer token has no subject');
      return payload as jwt.JwtPayload & { sub: string };
    } catch (err) {
      if (err instanceof RollgateError) throw err;
      if (err instanceof jwt.TokenExpiredError) throw new RollgateError('TOKEN_EXPIRED', 'the bearer token has expired', { headerMessage: 'Token Expired' });
      throw invalid('the bearer token is not valid');
    }
  }
}

function invalid(message: string): RollgateError {
  return new RollgateError('TOKEN_INVALID', message, { headerMessage: 'Invalid Token' });
}

function derivedKey(masterKey: string): Key {
  const secret = Buffer.from(hkdfSync('sha256', Buffer.from(masterKey, 'utf8'), Buffer.alloc(0), 'rollgate jwt hs256 v1', 32)).toString('base64url');
  return { kid: 'mk1', sign: secret, verify: secret };
}
