import type { FastifyPluginAsync } from 'fastify';
import type { RouteOptions } from '../types.ts';
import { getUsage } from '../../services/usage.ts';
import { ref } from '../api-schemas.ts';

export const usageRoutes: FastifyPluginAsync<RouteOptions> = async (app, { deps }) => {
  app.get('/usage', { config: { openapi: { summary: "The workspace's usage, quota and limits", tags: ['usage'], responses: { 200: { description: 'Usage and limits', schema: ref('Usage') } } } } }, async (req) => getUsage(deps, req.auth.workspaceId));
};
