import { createHash, timingSafeEqual } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { TokenService } from './jwt.js';

/** The token of `Authorization: Bearer <token>`, if that is the header's form. */
export function bearerToken(authorization: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
}

/** The bearer is ROLLGATE_ADMIN_TOKEN itself. */
export function isAdminToken(bearer: string | undefined, token: string | undefined): boolean {
  if (token === undefined || bearer === undefined) return false;
  // Compare digests: equal length, so timingSafeEqual cannot throw or leak the token's length.
  const given = createHash('sha256').update(bearer).digest();
  const expected = createHash('sha256').update(token).digest();
  return timingSafeEqual(given, expected);
}

/**
 * Whether a request that may come from an app or from an admin (/graphql)
 * presents admin credentials: the admin token, or a JWT issued for the admin
 * audience, which must then verify (TOKEN_INVALID or TOKEN_EXPIRED if not).
 * Anything else is left to app authentication.
 */
export function presentsAdminCredential(authorization: string | undefined, token: string | undefined, tokens: TokenService): boolean {
  if (token === undefined) return false;
  const bearer = bearerToken(authorization);
  if (bearer === undefined) return false;
  if (isAdminToken(bearer, token)) return true;
  const payload = jwt.decode(bearer, { json: true });
  if (payload === null || payload['aud'] !== 'rollgate-admin') return false;
  tokens.verify(bearer, 'rollgate-admin');
  return true;
}
