import type { FastifyPluginAsync } from 'fastify';
import type { RouteOptions } from '../types.ts';

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const READY = {
  type: 'object',
  properties: { status: { enum: ['ok', 'unavailable'] }, checks: { type: 'object', additionalProperties: { type: 'string' } } },
};

export const healthRoutes: FastifyPluginAsync<RouteOptions> = async (app, { deps }) => {
  // Liveness: the process answers.
  app.get('/healthz', { config: { openapi: { summary: 'Liveness: the process answers', tags: ['health'], responses: { 200: { description: 'Alive', schema: { type: 'object', properties: { status: { const: 'ok' } } } } } } } }, async () => ({ status: 'ok' }));

  // Readiness: Postgres and storage are reachable.
  app.get('/readyz', { config: { openapi: { summary: 'Readiness: Postgres and storage are reachable', tags: ['health'], responses: { 200: { description: 'Ready', schema: READY }, 503: { description: 'A dependency is unreachable', schema: READY } } } } }, async (req, reply) => {
    const checks: Record<string, string> = {};
    await Promise.all([
      withTimeout(deps.db.query('SELECT 1'), 3000).then(
        () => (checks.database = 'ok'),
        (err: Error) => (checks.database = `error: ${err.message}`),
      ),
      withTimeout(deps.storage.ping(), 3000).then(
        () => (checks.storage = 'ok'),
        (err: Error) => (checks.storage = `error: ${err.name || err.message}`),
      ),
    ]);
    const ok = Object.values(checks).every((v) => v === 'ok');
    reply.code(ok ? 200 : 503);
    return { status: ok ? 'ok' : 'unavailable', checks };
  });
};
