// Bearer JWT → {workspaceId, subject}. HS256 with a shared secret, or any asymmetric algorithm via a JWKS URL.
// The workspace comes only from the token (claim configurable, default `workspace_id`).
import { SignJWT, createRemoteJWKSet, jwtVerify, errors as joseErrors, type JWTPayload } from 'jose';
import type { FastifyRequest } from 'fastify';
import type { Config } from '../config/index.ts';
import { errors } from '../errors/index.ts';
import { isValidWorkspaceId } from '../domain/keys.ts';

export interface AuthContext {
  workspaceId: string;
  subject: string | null;
  claims: JWTPayload;
}

export type Authenticator = (token: string) => Promise<AuthContext>;

const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

export function createAuthenticator(auth: Config['auth']): Authenticator {
  const claim = auth.workspaceClaim;
  const opts = {
    ...(auth.issuer ? { issuer: auth.issuer } : {}),
    ...(auth.audience ? { audience: auth.audience } : {}),
  };
  let verify: (token: string) => Promise<JWTPayload>;
  if (auth.jwtSecret) {
    // Imported once: given the raw bytes, jose imports a WebCrypto key on every verification (~0.3 ms each).
    const key = globalThis.crypto.subtle.importKey('raw', new TextEncoder().encode(auth.jwtSecret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
    verify = async (t) => (await jwtVerify(t, await key, { ...opts, algorithms: ['HS256'] })).payload;
  } else if (auth.jwksUrl) {
    const jwks = createRemoteJWKSet(new URL(auth.jwksUrl));
    verify = async (t) => (await jwtVerify(t, jwks, { ...opts, algorithms: ASYMMETRIC })).payload;
  } else {
    throw new Error('auth: configure AUTH_JWT_SECRET or AUTH_JWKS_URL');
  }
  // Verified tokens are remembered until they expire (at most VERIFIED_TTL_MS): a backend sends the same token with
  // many requests, and verifying it again each time was the largest CPU cost of a request. Failures are never kept.
  const verified = new Map<string, { context: AuthContext; until: number }>();
  return async (token) => {
    const hit = verified.get(token);
    if (hit && Date.now() < hit.until) return hit.context;
    const context = await authenticate(token);
    const expMs = typeof context.claims.exp === 'number' ? context.claims.exp * 1000 : Infinity;
    if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value!);
    verified.set(token, { context, until: Math.min(expMs, Date.now() + VERIFIED_TTL_MS) });
    return context;
  };

  async function authenticate(token: string): Promise<AuthContext> {
    let payload: JWTPayload;
    try {
      payload = await verify(token);
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw errors.unauthorized('Token expired');
      if (err instanceof joseErrors.JWKSTimeout || (err as { code?: string }).code === 'ERR_JWKS_TIMEOUT') {
        throw errors.dependencyUnavailable('JWKS');
      }
      throw errors.unauthorized('Invalid token');
    }
    const workspaceId = payload[claim];
    if (!isValidWorkspaceId(workspaceId)) {
      throw errors.unauthorized(`Token has no valid "${claim}" claim`);
    }
    return { workspaceId, subject: typeof payload.sub === 'string' ? payload.sub : null, claims: payload };
  }
}

const VERIFIED_TTL_MS = 60_000;
const VERIFIED_MAX = 10_000;

export function bearerToken(req: FastifyRequest): string {
  const h = req.headers.authorization;
  if (typeof h !== 'string') throw errors.unauthorized('Missing bearer token');
  const m = /^Bearer\s+([A-Za-z0-9._~+/-]+=*)\s*$/i.exec(h);
  if (!m) throw errors.unauthorized('Malformed Authorization header');
  return m[1]!;
}

/** Mints an HS256 token (dev tokens, tests). */
export async function mintToken(opts: {
  secret: string;
  workspaceId: string;
  subject?: string;
  ttlSeconds?: number;
  workspaceClaim?: string;
  issuer?: string;
  audience?: string;
  now?: Date;
  extraClaims?: Record<string, unknown>;
}): Promise<string> {
  const now = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  let jwt = new SignJWT({ ...opts.extraClaims, [opts.workspaceClaim ?? 'workspace_id']: opts.workspaceId })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(opts.subject ?? 'dev')
    .setIssuedAt(now)
    .setExpirationTime(now + (opts.ttlSeconds ?? 3600));
  if (opts.issuer) jwt = jwt.setIssuer(opts.issuer);
  if (opts.audience) jwt = jwt.setAudience(opts.audience);
  return jwt.sign(new TextEncoder().encode(opts.secret));
}
