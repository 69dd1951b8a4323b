/**
 * Token verification with `jose`. Fails closed: a missing, malformed, forged, `alg: none`,
 * expired, not-yet-valid, wrong-audience or wrong-issuer token, one without `exp`, or one
 * valid for more than 24 hours is rejected with a reason (for the 401 body; never logged
 * with the token).
 */
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, jwtVerify, errors, type JWTVerifyGetKey } from 'jose';
import { claimsSchema, type Claims } from './claims';

export const MAX_TTL_SECONDS = 24 * 3600;

export interface AuthSettings {
  /** HS256 shared secret (COCKPIT_SECRET). */
  secret?: string;
  /** Path of a JWKS file with a tenant's public keys (COCKPIT_JWKS). */
  jwksFile?: string;
  audience: string;
  issuer: string;
  /** Seconds of clock skew tolerated. */
  clockTolerance?: number;
}

export type VerifyResult = { ok: true; claims: Claims } | { ok: false; reason: string };

export interface Verifier {
  verify(token: string): Promise<VerifyResult>;
}

/** True when any verification key is configured (otherwise the server runs the open demo). */
export function authConfigured(s: Pick<AuthSettings, 'secret' | 'jwksFile'>): boolean {
  return !!(s.secret || s.jwksFile);
}

export function createVerifier(s: AuthSettings): Verifier {
  const keys: { key: Uint8Array | JWTVerifyGetKey; algorithms: string[] }[] = [];
  if (s.secret) {
    if (s.secret.length < 32) throw new Error('COCKPIT_SECRET must be at least 32 characters');
    keys.push({ key: new TextEncoder().encode(s.secret), algorithms: ['HS256'] });
  }
  if (s.jwksFile) {
    let jwks: { keys: unknown[] };
    try {
      jwks = JSON.parse(readFileSync(s.jwksFile, 'utf8'));
    } catch (e) {
      throw new Error(`cannot read the JWKS file ${s.jwksFile}: ${(e as Error).message}`);
    }
    if (!Array.isArray(jwks.keys) || jwks.keys.length === 0) throw new Error(`${s.jwksFile}: no "keys" in the JWKS`);
    keys.push({ key: createLocalJWKSet(jwks as never), algorithms: ['EdDSA', 'Ed25519', 'RS256'] });
  }
  return {
    async verify(token) {
      if (!token || token.split('.').length !== 3) return { ok: false, reason: 'malformed token' };
      let lastReason = 'invalid signature';
      for (const { key, algorithms } of keys) {
        try {
          const { payload } = await jwtVerify(token, key as Uint8Array, {
            algorithms,
            audience: s.audience,
            issuer: s.issuer,
            requiredClaims: ['exp', 'sub'],
            clockTolerance: s.clockTolerance ?? 30
          });
          const now = Math.floor(Date.now() / 1000);
          const exp = payload.exp as number;
          const from = typeof payload.iat === 'number' ? payload.iat : now;
          if (exp - from > MAX_TTL_SECONDS || exp - now > MAX_TTL_SECONDS) {
            return { ok: false, reason: 'token lifetime exceeds 24 hours' };
          }
          const claims = claimsSchema.safeParse(payload);
          if (!claims.success) {
            return { ok: false, reason: `invalid claims: ${claims.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` };
          }
          return { ok: true, claims: claims.data };
        } catch (e) {
          lastReason = reasonOf(e);
          // A structural or claim error is final; only a signature mismatch tries the next key set.
          if (!(e instanceof errors.JWSSignatureVerificationFailed) && !(e instanceof errors.JOSEAlgNotAllowed) && !(e instanceof errors.JWKSNoMatchingKey)) {
            return { ok: false, reason: lastReason };
          }
        }
      }
      return { ok: false, reason: lastReason };
    }
  };
}

function reasonOf(e: unknown): string {
  if (e instanceof errors.JWTExpired) return 'token expired';
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.claim === 'nbf') return 'token not yet valid';
    if (e.claim === 'aud') return 'wrong audience';
    if (e.claim === 'iss') return 'wrong issuer';
    return `invalid claim ${e.claim}: ${e.reason}`;
  }
  if (e instanceof errors.JOSEAlgNotAllowed) return 'algorithm not allowed';
  if (e instanceof errors.JWSSignatureVerificationFailed) return 'invalid signature';
  if (e instanceof errors.JWKSNoMatchingKey) return 'no matching key';
  if (e instanceof errors.JWSInvalid || e instanceof errors.JWTInvalid) return 'malformed token';
  return 'invalid token';
}
