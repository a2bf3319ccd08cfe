import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { RouteOptions } from '../types.ts';
import { parseInput } from '../validation.ts';
import { getFileView, listFiles } from '../../services/list-files.ts';
import { deleteFile } from '../../services/delete-file.ts';
import { ref, errorResponse, fileResponse, fileListResponse } from '../api-schemas.ts';

const idParams = z.object({ id: z.string() });
const listQuery = z.object({
  status: z.string().optional(),
  cursor: z.string().max(512).optional(),
  limit: z.coerce.number().int().optional(),
});

export const filesRoutes: FastifyPluginAsync<RouteOptions> = async (app, { deps }) => {
  app.get('/files', { config: { openapi: { summary: "List the workspace's files (cursor pagination)", tags: ['files'], query: listQuery, responses: { 200: fileListResponse } } } }, async (req) => {
    const q = parseInput(listQuery, req.query, 'query');
    return listFiles(deps, req.auth.workspaceId, q);
  });

  app.get('/files/:id', { config: { openapi: { summary: 'One file', tags: ['files'], params: idParams, responses: { 200: fileResponse(), 404: errorResponse('not_found') } } } }, async (req) => {
    const { id } = parseInput(idParams, req.params, 'path');
    return { file: await getFileView(deps, req.auth.workspaceId, id) };
  });

  app.delete('/files/:id', { config: { openapi: { summary: 'Delete a file (idempotent; the object is removed through the deletion outbox)', tags: ['files'], params: idParams, responses: { 204: 'Deleted', 404: errorResponse('not_found') } } } }, async (req, reply) => {
    const { id } = parseInput(idParams, req.params, 'path');
    await deleteFile(deps, req.auth.workspaceId, id);
    reply.code(204).send();
  });
};
