import type { FastifyPluginAsync } from 'fastify';
import type { RouteOptions } from '../types.ts';
import { getUsage } from '../../services/usage.ts';

export const usageRoutes: FastifyPluginAsync<RouteOptions> = async (app, { deps }) => {
  app.get('/usage', async (req) => getUsage(deps, req.auth.workspaceId));
};
