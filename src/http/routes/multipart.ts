// Multipart part routes: lazy batch signing and the parts storage already holds.
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { RouteOptions } from '../types.ts';
import { parseInput } from '../validation.ts';
import { signParts } from '../../services/sign-parts.ts';
import { listUploadParts } from '../../services/list-parts.ts';

const idParams = z.object({ id: z.string() });
const signBody = z.object({
  partNumbers: z.array(z.number().int()).min(1).max(1000),
  checksumsSha256: z.record(z.string(), z.string()).nullish(),
});

export const multipartRoutes: FastifyPluginAsync<RouteOptions> = async (app, { deps }) => {
  app.post('/uploads/:id/parts', async (req) => {
    const { id } = parseInput(idParams, req.params, 'path');
    const body = parseInput(signBody, req.body);
    return signParts(deps, req.auth.workspaceId, id, body);
  });

  app.get('/uploads/:id/parts', async (req) => {
    const { id } = parseInput(idParams, req.params, 'path');
    return listUploadParts(deps, req.auth.workspaceId, id);
  });
};
