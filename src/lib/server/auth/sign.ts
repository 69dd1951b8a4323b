/** Signs HS256 tokens with COCKPIT_SECRET (the `cockpit token` command and tests). */
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Claims } from './claims';
import { MAX_TTL_SECONDS } from './verify';

export interface SignOptions {
  secret: string;
  audience: string;
  issuer: string;
  ttlSeconds: number;
  claims: Omit<Claims, 'exp' | 'iat' | 'nbf' | 'jti'>;
}

export async function signToken(o: SignOptions): Promise<string> {
  if (o.ttlSeconds <= 0 || o.ttlSeconds > MAX_TTL_SECONDS) throw new Error('the TTL must be between 1 second and 24 hours');
  const { sub, ...rest } = o.claims;
  return new SignJWT({ ...rest })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(sub)
    .setAudience(o.audience)
    .setIssuer(o.issuer)
    .setIssuedAt()
    .setJti(randomUUID())
    .setExpirationTime(Math.floor(Date.now() / 1000) + o.ttlSeconds)
    .sign(new TextEncoder().encode(o.secret));
}
