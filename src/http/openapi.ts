// OpenAPI 3.1 from the routes themselves. Every route Fastify registers is collected with an onRoute hook, so the spec
// always lists every route; a route describes itself with `config: { openapi: RouteDoc }`, whose request schemas are
// the same zod schemas the handler validates with (converted with z.toJSONSchema), so the spec cannot drift from what
// is enforced. Response schemas (src/http/api-schemas.ts) describe the answers.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';

export type JsonSchema = Record<string, unknown>;

export interface ResponseDoc {
  description: string;
  schema?: z.ZodType | JsonSchema;
  /** Default application/json. */
  contentType?: string;
  headers?: Record<string, { description: string; schema?: JsonSchema }>;
}

export interface RouteDoc {
  summary?: string;
  description?: string;
  tags?: string[];
  operationId?: string;
  body?: z.ZodType | JsonSchema;
  bodyContentType?: string;
  query?: z.ZodType;
  params?: z.ZodType;
  responses?: Record<number | string, ResponseDoc | string>;
  /** Default: bearer under /v1, none elsewhere. */
  security?: 'bearer' | 'none' | 'events-secret';
  /** Leave out of the spec (never used for API routes). */
  hidden?: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    openapi?: RouteDoc;
  }
}

export interface CollectedRoute {
  method: string;
  url: string;
  doc?: RouteDoc;
}

/** Registers the collector; call before any route is registered. Returns the live list. */
export function collectRoutes(app: FastifyInstance): CollectedRoute[] {
  const routes: CollectedRoute[] = [];
  app.addHook('onRoute', (r) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    const doc = (r.config as { openapi?: RouteDoc } | undefined)?.openapi;
    for (const m of methods) routes.push({ method: String(m).toUpperCase(), url: r.url, doc });
  });
  return routes;
}

function isZod(s: unknown): s is z.ZodType {
  return !!s && typeof s === 'object' && '_zod' in (s as object);
}

export function toJsonSchema(s: z.ZodType | JsonSchema): JsonSchema {
  if (!isZod(s)) return s;
  const out = z.toJSONSchema(s, { io: 'input', target: 'draft-2020-12', unrepresentable: 'any' }) as JsonSchema;
  delete out.$schema;
  return stripSafeIntegerBounds(out) as JsonSchema;
}

/** z.number().int() adds ±MAX_SAFE_INTEGER bounds: noise in a spec. */
function stripSafeIntegerBounds(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripSafeIntegerBounds);
  if (!v || typeof v !== 'object') return v;
  const o: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if ((k === 'minimum' && x === -Number.MAX_SAFE_INTEGER) || (k === 'maximum' && x === Number.MAX_SAFE_INTEGER)) continue;
    o[k] = stripSafeIntegerBounds(x);
  }
  return o;
}

/** `/v1/files/:id` → `/v1/files/{id}`; a trailing `*` becomes `{wildcard}`. */
export function toOpenApiPath(url: string): { path: string; pathParams: string[] } {
  const pathParams: string[] = [];
  const path = url
    .split('/')
    .map((seg) => {
      if (seg.startsWith(':')) {
        const name = seg.slice(1).replace(/\(.*\)$/, '');
        pathParams.push(name);
        return `{${name}}`;
      }
      if (seg === '*') {
        pathParams.push('wildcard');
        return '{wildcard}';
      }
      return seg;
    })
    .join('/');
  return { path: path === '' ? '/' : path, pathParams };
}

function parametersFrom(schema: z.ZodType | undefined, where: 'query' | 'path', known: string[]): JsonSchema[] {
  const params: JsonSchema[] = [];
  const seen = new Set<string>();
  if (schema) {
    const js = toJsonSchema(schema) as { properties?: Record<string, JsonSchema>; required?: string[] };
    for (const [name, s] of Object.entries(js.properties ?? {})) {
      seen.add(name);
      const { description, ...rest } = s as { description?: string };
      params.push({
        name,
        in: where,
        required: where === 'path' ? true : (js.required ?? []).includes(name),
        ...(description ? { description: String(description) } : {}),
        schema: rest,
      });
    }
  }
  if (where === 'path') {
    for (const name of known) if (!seen.has(name)) params.push({ name, in: 'path', required: true, schema: { type: 'string' } });
  }
  return params;
}

const STATUS_TEXT: Record<string, string> = {
  200: 'OK', 201: 'Created', 204: 'No content', 302: 'Redirect', 304: 'Not modified', 400: 'Invalid request',
  401: 'Missing, invalid or expired token', 404: 'Not found (or outside the caller\'s workspace)', 409: 'Wrong state',
  413: 'File too large', 415: 'Content type not allowed', 422: 'Verification failed', 429: 'Quota exceeded or rate limited',
  503: 'A dependency (database, storage) is unavailable',
};

export interface OpenApiInfo {
  title: string;
  version: string;
  description?: string;
  /** Components (shared schemas) to include, e.g. FileView, Error. */
  components?: Record<string, JsonSchema>;
}

export function buildOpenApi(routes: CollectedRoute[], info: OpenApiInfo): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  const getUrls = new Set(routes.filter((r) => r.method === 'GET').map((r) => r.url));
  for (const r of routes) {
    if (r.doc?.hidden) continue;
    // Fastify adds HEAD for every GET (exposeHeadRoutes); OPTIONS catch-alls belong to CORS plugins.
    if (r.method === 'HEAD' && getUrls.has(r.url)) continue;
    const { path, pathParams } = toOpenApiPath(r.url);
    const method = r.method.toLowerCase();
    const doc = r.doc ?? {};
    // Companion-style routes carry their own short-lived token in the path (/v1/uppy/:token/…).
    const security =
      doc.security ?? (r.url.startsWith('/v1/') && !r.url.includes('/:token') && r.method !== 'OPTIONS' ? 'bearer' : 'none');
    const op: JsonSchema = {
      operationId: doc.operationId ?? `${method}${path.replace(/[{}]/g, '').replace(/[^a-zA-Z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
      summary: doc.summary ?? `${r.method} ${r.url}`,
      ...(doc.description ? { description: doc.description } : {}),
      tags: doc.tags ?? [r.url.split('/').filter(Boolean).slice(r.url.startsWith('/v1/') ? 1 : 0)[0] ?? 'root'],
    };
    const parameters = [...parametersFrom(doc.params, 'path', pathParams), ...parametersFrom(doc.query, 'query', [])];
    if (parameters.length > 0) op.parameters = parameters;
    if (doc.body) {
      op.requestBody = {
        required: true,
        content: { [doc.bodyContentType ?? 'application/json']: { schema: toJsonSchema(doc.body) } },
      };
    }
    const responses: Record<string, JsonSchema> = {};
    for (const [status, res] of Object.entries(doc.responses ?? { 200: 'OK' })) {
      const rd: ResponseDoc = typeof res === 'string' ? { description: res } : res;
      responses[status] = {
        description: rd.description,
        ...(rd.headers ? { headers: rd.headers } : {}),
        ...(rd.schema ? { content: { [rd.contentType ?? 'application/json']: { schema: toJsonSchema(rd.schema) } } } : {}),
      };
    }
    if (security === 'bearer' && !responses['401']) {
      responses['401'] = { description: STATUS_TEXT[401]!, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
    }
    if (r.url.startsWith('/v1/')) {
      for (const s of ['400', '503']) {
        if (!responses[s]) responses[s] = { description: STATUS_TEXT[s]!, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
      }
    }
    op.responses = responses;
    if (security === 'bearer') op.security = [{ bearerAuth: [] }];
    else if (security === 'events-secret') op.security = [{ eventsSecretQuery: [] }, { eventsSecretHeader: [] }];
    else op.security = [];
    (paths[path] ??= {})[method] = op;
  }
  const sortedPaths = Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b)));
  return {
    openapi: '3.1.0',
    info: { title: info.title, version: info.version, ...(info.description ? { description: info.description } : {}) },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    paths: sortedPaths,
    components: {
      schemas: info.components ?? {},
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'HS256 or JWKS-verified JWT; the workspace comes from the `workspace_id` claim (configurable), the uploader from `sub`.' },
        eventsSecretQuery: { type: 'apiKey', in: 'query', name: 'secret' },
        eventsSecretHeader: { type: 'apiKey', in: 'header', name: 'X-Stowage-Events-Secret' },
      },
    },
  };
}
