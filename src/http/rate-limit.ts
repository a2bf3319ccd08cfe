// Per-workspace request rate limits on the endpoints that create work (create, complete, sign): 429 rate_limited
// with Retry-After. Counted in Postgres (fixed windows, one UPSERT per request) so the limit holds across every API
// instance; a per-process limiter would multiply the limit by the number of instances.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors/index.ts';
import { bumpRateCounter, deleteRateCountersBefore } from '../db/rate-limits.ts';
import { isOverLimit, rateWindow, type RateLimitScope } from '../domain/rate-limit.ts';
import type { Deps } from '../services/deps.ts';

/** Routes (method + Fastify route URL) and the scope each counts against. */
export const RATE_LIMITED_ROUTES: Record<string, RateLimitScope> = {
  'POST /v1/uploads': 'create',
  'POST /v1/uploads/:id/complete': 'complete',
  'POST /v1/uploads/:id/parts': 'sign',
  'GET /v1/files/:id/download': 'sign',
};

let calls = 0;

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
  const count = await bumpRateCounter(deps.db, workspaceId, scope, w.start);
  // Lazily drop old windows (about once per 1,000 limited requests per process).
  if (++calls % 1000 === 0) {
    const before = new Date(w.start.getTime() - 10 * rl.windowSeconds * 1000);
    deleteRateCountersBefore(deps.db, before).catch((err) => deps.log.warn({ err }, 'rate limit cleanup failed'));
  }
  if (reply) {
    reply.header('ratelimit-limit', String(limit));
    reply.header('ratelimit-remaining', String(Math.max(0, limit - count)));
    reply.header('ratelimit-reset', String(w.retryAfterSeconds));
  }
  if (isOverLimit(count, limit)) {
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
