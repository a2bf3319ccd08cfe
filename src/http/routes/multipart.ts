// Multipart part routes: lazy batch signing and the parts storage already holds.
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { RouteOptions } from '../types.ts';
import { parseInput } from '../validation.ts';
import { signParts } from '../../services/sign-parts.ts';
import { listUploadParts } from '../../services/list-parts.ts';
import { ref, errorResponse } from '../api-schemas.ts';

const idParams = z.object({ id: z.string() });
const signBody = z.object({
  partNumbers: z.array(z.number().int()).min(1).max(1000),
  checksumsSha256: z.record(z.string(), z.string()).nullish(),
});

export const multipartRoutes: FastifyPluginAsync<RouteOptions> = async (app, { deps }) => {
  app.post('/uploads/:id/parts', { config: { openapi: { summary: 'Sign multipart part URLs (lazily, in batches; optional per-part SHA-256)', tags: ['uploads'], params: idParams, body: signBody, responses: { 200: { description: 'Presigned part requests', schema: ref('SignedParts') }, 404: errorResponse('not_found'), 409: errorResponse('invalid_state') } } } }, async (req) => {
    const { id } = parseInput(idParams, req.params, 'path');
    const body = parseInput(signBody, req.body);
    return signParts(deps, req.auth.workspaceId, id, body);
  });

  app.get('/uploads/:id/parts', { config: { openapi: { summary: 'Parts storage already holds (for resuming)', tags: ['uploads'], params: idParams, responses: { 200: { description: 'Stored parts and the part plan', schema: ref('ListedParts') }, 404: errorResponse('not_found') } } } }, async (req) => {
    const { id } = parseInput(idParams, req.params, 'path');
    return listUploadParts(deps, req.auth.workspaceId, id);
  });
};
