// GET /openapi.json (OpenAPI 3.1 built from every registered route, src/http/openapi.ts) and GET /docs (a
// self-contained HTML page rendering it: no CDN, no script from elsewhere).
import type { FastifyPluginAsync } from 'fastify';
import type { RouteOptions } from '../types.ts';
import { buildOpenApi, type CollectedRoute, type JsonSchema } from '../openapi.ts';
import { componentSchemas } from '../api-schemas.ts';
import { docsHtml } from '../docs-page.ts';

export const API_DESCRIPTION =
  'Direct-to-object-storage uploads for multi-tenant SaaS. Clients create an upload, send the bytes straight to S3 ' +
  'with the presigned request(s) in the answer, then complete it. Errors: `{"error":{"code","message","details?"}}`.';

export function createDocsRoutes(routes: CollectedRoute[], version = '0.1.0'): FastifyPluginAsync<RouteOptions> {
  return async (app) => {
    let spec: JsonSchema | undefined;
    // Built on first request: by then every plugin has registered its routes.
    const getSpec = () =>
      (spec ??= buildOpenApi(routes, {
        title: 'Stowage API',
        version,
        description: API_DESCRIPTION,
        components: componentSchemas(),
      }));
    app.get(
      '/openapi.json',
      { config: { openapi: { summary: 'This OpenAPI 3.1 document', tags: ['docs'], responses: { 200: { description: 'OpenAPI 3.1', schema: { type: 'object' } } } } } },
      async (_req, reply) => {
        reply.header('cache-control', 'no-cache').header('access-control-allow-origin', '*');
        return getSpec();
      },
    );
    app.get(
      '/docs',
      { config: { openapi: { summary: 'API documentation (HTML)', tags: ['docs'], responses: { 200: { description: 'HTML page', contentType: 'text/html', schema: { type: 'string' } } } } } },
      async (_req, reply) => {
        reply
          .header('content-type', 'text/html; charset=utf-8')
          .header('cache-control', 'no-cache')
          .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'");
        return docsHtml(getSpec());
      },
    );
  };
}
