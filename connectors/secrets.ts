/**
 * Secrets for remote sources (tokens, API keys, passwords, connection URLs) come only from
 * environment variables named in the config (`"token_env": "HUBSPOT_TOKEN"`), and never reach
 * the database, the logs or an error message: every message a remote reader produces passes
 * through a `Redactor` that knows the secret values and masks them, and URLs are shown without
 * their password or sensitive query parameters.
 */

const MASK = '***';

/** Query parameters whose values are credentials in common APIs (hapikey, access_token …). */
const SENSITIVE_PARAM = /(key|token|secret|password|passwd|pwd|signature|sig|auth|credential|session)/i;

export class Redactor {
  private secrets: string[] = [];

  /** Registers a secret value: from now on it is masked wherever it appears. */
  add(secret: string | undefined | null): void {
    if (!secret || secret.length < 3) return;
    if (this.secrets.includes(secret)) return;
    this.secrets.push(secret);
    // Longest first, so a secret containing another is masked whole.
    this.secrets.sort((a, b) => b.length - a.length);
    for (const v of [encodeURIComponent(secret), Buffer.from(secret).toString('base64')]) {
      if (v !== secret && !this.secrets.includes(v)) this.secrets.push(v);
    }
    this.secrets.sort((a, b) => b.length - a.length);
  }

  /** `text` with every registered secret masked. */
  text(text: string): string {
    let out = text;
    for (const s of this.secrets) out = out.split(s).join(MASK);
    return out;
  }

  /** A URL for messages: password and sensitive query parameter values masked, then `text()`. */
  url(url: string | URL): string {
    return this.text(redactUrl(url));
  }

  /** An Error whose message (and cause chain's messages) have the secrets masked. */
  error(e: unknown): string {
    return this.text(e instanceof Error ? e.message : String(e));
  }
}

/** A URL without its password and with the values of credential-like query parameters masked. */
export function redactUrl(url: string | URL): string {
  let u: URL;
  try {
    u = new URL(String(url));
  } catch {
    // Not parseable: mask anything that looks like user:password@.
    return String(url).replace(/\/\/([^:/@\s]+):[^@/\s]*@/, `//$1:${MASK}@`);
  }
  if (u.password) u.password = MASK;
  for (const key of [...u.searchParams.keys()]) {
    if (SENSITIVE_PARAM.test(key)) u.searchParams.set(key, MASK);
  }
  return u.toString().replace(/%2A%2A%2A/g, MASK);
}

/**
 * The value of the environment variable a source config names for a secret. A missing or
 * empty variable is a clear configuration error naming the variable (never a value).
 */
export function secretFromEnv(source: string, field: string, envName: string, env: NodeJS.ProcessEnv = process.env): string {
  const v = env[envName];
  if (v === undefined || v === '') {
    throw new Error(`source "${source}": environment variable ${envName} (named by ${field}) is not set`);
  }
  return v;
}

/** Environment variable names as config values: `HUBSPOT_TOKEN`, not the token itself. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
