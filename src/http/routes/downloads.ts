// GET /v1/files/:id/download[?redirect=1&disposition=attachment] → {url, expiresAt} | 302
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { RouteOptions } from '../types.ts';
import { parseInput } from '../validation.ts';
import { getDownloadUrl } from '../../services/get-download-url.ts';
import { ref, errorResponse } from '../api-schemas.ts';

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
  app.get('/files/:id/download', { config: { openapi: { summary: 'A signed download URL (CDN/edge or presigned S3); ?redirect=1 answers 302', tags: ['files'], params, query, responses: { 200: { description: 'The signed URL', schema: ref('DownloadLink') }, 302: { description: 'Redirect to the signed URL (redirect=1)', headers: { location: { description: 'the signed URL', schema: { type: 'string' } } } }, 404: errorResponse('not_found'), 409: errorResponse('invalid_state') } } } }, async (req, reply) => {
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
