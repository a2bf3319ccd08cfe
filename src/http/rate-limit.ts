// Per-workspace request rate limits on the endpoints that create work (create, complete, sign): 429 rate_limited
// with Retry-After. Counted in Postgres (fixed windows) so the limit holds across every API instance; a per-process
// limiter would multiply the limit by the number of instances. Each instance takes tokens from the shared counter in
// small leases (one UPSERT per lease, not per request; one token at a time for small limits).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors/index.ts';
import { bumpRateCounter, deleteRateCountersBefore } from '../db/rate-limits.ts';
import { leaseSize, rateWindow, tokensGranted, type RateLimitScope } from '../domain/rate-limit.ts';
import type { Deps } from '../services/deps.ts';

/** Routes (method + Fastify route URL) and the scope each counts against. */
export const RATE_LIMITED_ROUTES: Record<string, RateLimitScope> = {
  'POST /v1/uploads': 'create',
  'POST /v1/uploads/:id/complete': 'complete',
  'POST /v1/uploads/:id/parts': 'sign',
  'GET /v1/files/:id/download': 'sign',
};

let calls = 0;

/** Tokens this instance holds per workspace, scope and window (see leaseSize), and the shared count last seen. */
interface Lease {
  windowStart: number;
  tokens: number;
  countSeen: number;
  /** The lease being taken now: concurrent requests wait for it instead of each taking one. */
  taking: Promise<void> | null;
}
const leaseBooks = new WeakMap<object, Map<string, Lease>>();

async function takeToken(deps: Deps, workspaceId: string, scope: RateLimitScope, limit: number, windowStart: Date): Promise<Lease & { granted: boolean }> {
  let book = leaseBooks.get(deps.db);
  if (!book) leaseBooks.set(deps.db, (book = new Map()));
  const id = `${workspaceId}\0${scope}`;
  for (;;) {
    let lease = book.get(id);
    if (!lease || lease.windowStart !== windowStart.getTime()) {
      lease = { windowStart: windowStart.getTime(), tokens: 0, countSeen: 0, taking: null };
      book.set(id, lease);
    }
    if (lease.tokens > 0) {
      lease.tokens -= 1;
      return { ...lease, granted: true };
    }
    if (lease.countSeen >= limit) return { ...lease, granted: false };
    if (!lease.taking) {
      const l = lease;
      const asked = leaseSize(limit);
      l.taking = bumpRateCounter(deps.db, workspaceId, scope, windowStart, asked)
        .then((count) => {
          l.countSeen = count;
          l.tokens += tokensGranted(count, asked, limit);
        })
        .finally(() => {
          l.taking = null;
        });
    }
    await lease.taking;
  }
}

/**
 * Counts one request of `scope` for the workspace; throws 429 rate_limited (and sets Retry-After on the reply when
 * given) once the window's limit is passed. Other routes (e.g. the Uppy companion routes) call it directly.
 */
export async function enforceRateLimit(deps: Deps, workspaceId: string, scope: RateLimitScope, reply?: FastifyReply): Promise<void> {
  const rl = deps.config.rateLimits;
  if (!rl || !rl.enabled) return;
  const limit = rl.limits[scope];
  if (limit <= 0) return;
  const now = deps.now();
  const w = rateWindow(now, rl.windowSeconds);
  const lease = await takeToken(deps, workspaceId, scope, limit, w.start);
  // Lazily drop old windows (about once per 1,000 limited requests per process).
  if (++calls % 1000 === 0) {
    const before = new Date(w.start.getTime() - 10 * rl.windowSeconds * 1000);
    deleteRateCountersBefore(deps.db, before).catch((err) => deps.log.warn({ err }, 'rate limit cleanup failed'));
    const book = leaseBooks.get(deps.db);
    for (const [id, l] of book ?? []) if (l.windowStart < w.start.getTime() && !l.taking) book!.delete(id);
  }
  if (reply) {
    reply.header('ratelimit-limit', String(limit));
    reply.header('ratelimit-remaining', String(Math.max(0, limit - lease.countSeen) + lease.tokens));
    reply.header('ratelimit-reset', String(w.retryAfterSeconds));
  }
  if (!lease.granted) {
    reply?.header('retry-after', String(w.retryAfterSeconds));
    throw new AppError('rate_limited', `Too many ${scope} requests for this workspace; retry after ${w.retryAfterSeconds} s`, {
      scope,
      limit,
      windowSeconds: rl.windowSeconds,
      retryAfterSeconds: w.retryAfterSeconds,
    });
  }
}

/** onRequest hook for the authenticated /v1 scope (registered after the auth hook). */
export function rateLimitHook(deps: Deps) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const scope = RATE_LIMITED_ROUTES[`${req.method} ${req.routeOptions.url}`];
    if (!scope || !req.auth) return;
    await enforceRateLimit(deps, req.auth.workspaceId, scope, reply);
  };
}
