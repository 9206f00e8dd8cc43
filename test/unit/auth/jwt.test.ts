import { generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import { TokenService } from '../../../src/auth/jwt.js';
import { RollgateError } from '../../../src/errors.js';

const pem = () => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(), privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
};

function codeOf(work: () => unknown): string | undefined {
  try {
    work();
    return undefined;
  } catch (err) {
    return err instanceof RollgateError ? err.code : 'not a RollgateError';
  }
}

describe('TokenService with RS256 and key rotation by kid', () => {
  const current = pem();
  const previous = pem();
  const tokens = new TokenService(
    { algorithm: 'RS256', ttlSeconds: 60, keys: [{ kid: 'new', ...current }, { kid: 'old', publicKey: previous.publicKey }] },
    'unused-master-key-0123456789',
  );
  const claims = { algorithm: 'RS256' as const, issuer: 'rollgate', audience: 'rollgate-api', subject: 'app-1', expiresIn: 60 };

  it('signs with the first key and its kid, and verifies its own tokens', () => {
    const { token } = tokens.issue('app-1', { appKey: 'app-1', grants: ['api:x'] }, 'rollgate-api');
    expect(jwt.decode(token, { complete: true })?.header).toMatchObject({ alg: 'RS256', kid: 'new' });
    expect(tokens.verify(token, 'rollgate-api')).toMatchObject({ sub: 'app-1', appKey: 'app-1', grants: ['api:x'] });
  });

  it('verifies a token of the previous key while it is still listed', () => {
    expect(tokens.verify(jwt.sign({}, previous.privateKey, { ...claims, keyid: 'old' }), 'rollgate-api').sub).toBe('app-1');
  });

  it('refuses an unknown kid, a kid with another key, HS256 made with the public key, and the wrong audience (TOKEN_INVALID)', () => {
    for (const token of [
      jwt.sign({}, current.privateKey, { ...claims, keyid: 'gone' }),
      jwt.sign({}, previous.privateKey, { ...claims, keyid: 'new' }),
      jwt.sign({}, 'x'.repeat(40), { ...claims, algorithm: 'HS256', keyid: 'new' }),
      jwt.sign({}, current.privateKey, { ...claims, keyid: 'new', audience: 'rollgate-admin' }),
    ]) {
      expect(codeOf(() => tokens.verify(token, 'rollgate-api'))).toBe('TOKEN_INVALID');
    }
  });

  it('refuses an expired token (TOKEN_EXPIRED)', () => {
    const { expiresIn: _ttl, ...noTtl } = claims;
    const token = jwt.sign({ exp: Math.floor(Date.now() / 1000) - 1 }, current.privateKey, { ...noTtl, keyid: 'new' });
    expect(codeOf(() => tokens.verify(token, 'rollgate-api'))).toBe('TOKEN_EXPIRED');
  });
});
