// GET /v1/files/:id/download[?redirect=1&disposition=attachment] → {url, expiresAt} | 302
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { RouteOptions } from '../types.ts';
import { parseInput } from '../validation.ts';
import { getDownloadUrl } from '../../services/get-download-url.ts';

const params = z.object({ id: z.string() });
const flag = z
  .enum(['1', '0', 'true', 'false'])
  .optional()
  .transform((v) => v === '1' || v === 'true');
const query = z.object({
  redirect: flag,
  disposition: z.enum(['attachment', 'inline']).optional(),
});

export const downloadsRoutes: FastifyPluginAsync<RouteOptions> = async (app, { deps }) => {
  app.get('/files/:id/download', async (req, reply) => {
    const { id } = parseInput(params, req.params, 'path');
    const q = parseInput(query, req.query, 'query');
    const answer = await getDownloadUrl(deps, req.auth.workspaceId, id, { disposition: q.disposition ?? null });
    // The URL is a bearer credential: never cache the answer.
    reply.header('cache-control', 'no-store');
    reply.header('referrer-policy', 'no-referrer');
    if (q.redirect) return reply.redirect(answer.url, 302);
    return answer;
  });
};
