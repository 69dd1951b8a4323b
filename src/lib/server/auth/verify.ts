/**
 * Token verification with `jose`. Fails closed: a missing, malformed, forged, `alg: none`,
 * expired, not-yet-valid, wrong-audience or wrong-issuer token, one without `exp`, or one
 * valid for more than 24 hours is rejected with a reason (for the 401 body; never logged
 * with the token).
 */
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, importJWK, jwtVerify, errors, type JWK, type JWTVerifyGetKey } from 'jose';
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

/**
 * A verified token says which key vouched for it: `secret` (HS256, COCKPIT_SECRET: the server's
 * own) or `jwks` (a tenant's public key). Only the server's own tokens may be re-signed by it.
 */
export type VerifyResult = { ok: true; claims: Claims; signer: 'secret' | 'jwks' } | { ok: false; reason: string };

export interface Verifier {
  verify(token: string): Promise<VerifyResult>;
}

/** True when any verification key is configured (otherwise the server runs the open demo). */
export function authConfigured(s: Pick<AuthSettings, 'secret' | 'jwksFile'>): boolean {
  return !!(s.secret || s.jwksFile);
}

const JWKS_ALGS = ['EdDSA', 'Ed25519', 'RS256'];

/**
 * Reads and checks a JWKS file: JSON with a non-empty `keys` list of public RSA or Ed25519
 * keys. A private key (`d`) is refused: the server only ever needs the tenant's public keys, and
 * one on disk here is a key leaked. Errors name COCKPIT_JWKS and the file.
 */
export function readJwks(file: string): { keys: JWK[] } {
  const where = `COCKPIT_JWKS (${file})`;
  let jwks: { keys?: unknown };
  try {
    jwks = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${where}: cannot read the JWKS file: ${(e as Error).message}`);
  }
  if (!jwks || typeof jwks !== 'object' || !Array.isArray(jwks.keys) || jwks.keys.length === 0) throw new Error(`${where}: no "keys" in the JWKS`);
  jwks.keys.forEach((k: unknown, i: number) => {
    const key = k as Record<string, unknown> | null;
    const at = `${where}: keys[${i}]${key && typeof key.kid === 'string' ? ` (kid ${key.kid})` : ''}`;
    if (!key || typeof key !== 'object') throw new Error(`${at}: not a key object`);
    if ('d' in key || 'p' in key || 'k' in key) throw new Error(`${at}: a private or secret key; the JWKS must hold the tenant's public keys only`);
    const ok = key.kty === 'RSA' || (key.kty === 'OKP' && key.crv === 'Ed25519');
    if (!ok) throw new Error(`${at}: kty ${JSON.stringify(key.kty)}${key.crv ? ` crv ${JSON.stringify(key.crv)}` : ''} is not supported (RSA for RS256, OKP Ed25519 for EdDSA)`);
  });
  return jwks as { keys: JWK[] };
}

/**
 * Checks everything the verifier will need, at start (`cockpit serve`), so a bad setting stops
 * the server with a message instead of starting one that answers 500 to every request: the
 * secret's length, and that every JWKS key imports.
 */
export async function checkAuthSettings(s: Pick<AuthSettings, 'secret' | 'jwksFile'>): Promise<void> {
  if (s.secret && s.secret.length < 32) throw new Error('COCKPIT_SECRET must be at least 32 characters');
  if (!s.jwksFile) return;
  const { keys } = readJwks(s.jwksFile);
  for (const [i, key] of keys.entries()) {
    const alg = key.kty === 'RSA' ? 'RS256' : 'EdDSA';
    const at = `COCKPIT_JWKS (${s.jwksFile}): keys[${i}]${key.kid ? ` (kid ${key.kid})` : ''}`;
    let imported: CryptoKey | Uint8Array;
    try {
      imported = await importJWK(key, alg);
    } catch (e) {
      throw new Error(`${at} is not a valid ${alg} public key: ${(e as Error).message}`);
    }
    // jose refuses RS256 keys under 2048 bits when verifying; say so now, not on every request.
    const bits = (imported as CryptoKey).algorithm && ((imported as CryptoKey).algorithm as { modulusLength?: number }).modulusLength;
    if (alg === 'RS256' && !(typeof bits === 'number' && bits >= 2048)) throw new Error(`${at}: an RSA key of ${bits ?? 0} bits; RS256 needs at least 2048`);
  }
}

export function createVerifier(s: AuthSettings): Verifier {
  const keys: { key: Uint8Array | JWTVerifyGetKey; algorithms: string[]; signer: 'secret' | 'jwks' }[] = [];
  if (s.secret) {
    if (s.secret.length < 32) throw new Error('COCKPIT_SECRET must be at least 32 characters');
    keys.push({ key: new TextEncoder().encode(s.secret), algorithms: ['HS256'], signer: 'secret' });
  }
  if (s.jwksFile) {
    keys.push({ key: createLocalJWKSet(readJwks(s.jwksFile) as never), algorithms: JWKS_ALGS, signer: 'jwks' });
  }
  // Tokens already verified, until their exp: a viewer sends the same token with every request,
  // and checking its signature again is most of what a cached answer costs. Only successes are
  // kept; a revoked session is checked on every request all the same (hooks.server.ts).
  const verified = new Map<string, { claims: Claims; signer: 'secret' | 'jwks' }>();
  const MAX_VERIFIED = 10_000;
  return {
    async verify(token) {
      const known = verified.get(token);
      if (known) {
        if (known.claims.exp > Date.now() / 1000) return { ok: true, ...known };
        verified.delete(token);
      }
      const r = await verifyOnce(token);
      if (r.ok) {
        if (verified.size >= MAX_VERIFIED) verified.delete(verified.keys().next().value!);
        verified.set(token, { claims: r.claims, signer: r.signer });
      }
      return r;
    }
  };

  async function verifyOnce(token: string): Promise<VerifyResult> {
    if (!token || token.split('.').length !== 3) return { ok: false, reason: 'malformed token' };
    let lastReason = 'invalid signature';
    for (const { key, algorithms, signer } of keys) {
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
        return { ok: true, claims: claims.data, signer };
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
