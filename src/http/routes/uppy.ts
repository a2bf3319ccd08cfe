// Companion-compatible S3 endpoints for the official @uppy/aws-s3 plugin, authenticated by an upload token in the
// path: point Uppy 6's `companionEndpoint` (Uppy 5's `endpoint`) at `{base}/v1/uppy/{token}`. Mint tokens with
// POST /v1/uppy/tokens (bearer auth). CORS is open here: the token is the credential, and Uppy runs in browsers.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { RouteOptions } from '../types.ts';
import { parseInput } from '../validation.ts';
import { enforceRateLimit } from '../rate-limit.ts';
import { errors } from '../../errors/index.ts';
import type { RateLimitScope } from '../../domain/rate-limit.ts';
import {
  mintUppyToken,
  resolveUppyToken,
  uppyAbort,
  uppyComplete,
  uppyCreateMultipart,
  uppyListParts,
  uppyParams,
  uppySignPart,
} from '../../services/uppy.ts';

const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
  'access-control-allow-headers': 'content-type, accept, uppy-versions, uppy-credentials-params',
  'access-control-max-age': '600',
};

/** `metadata[name]=x&metadata[type]=y` (how Uppy sends metadata in a query) → {name: 'x', type: 'y'}. */
function queryMetadata(query: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(query)) {
    const m = /^metadata\[(.+)\]$/.exec(k);
    if (m && typeof v === 'string') out[m[1]!] = v;
  }
  return out;
}

type Query = Record<string, unknown>;

/** `?key=`: absent, or one string (a repeated `key` would otherwise arrive as a list and escape the key check). */
function keyOf(req: FastifyRequest): string | undefined {
  const key = (req.query as Query).key;
  if (key === undefined || typeof key === 'string') return key;
  throw errors.invalidRequest('key must be given at most once');
}

/** Public routes under /v1/uppy/:token/s3 (the token authenticates). */
export const uppyRoutes: FastifyPluginAsync<RouteOptions> = async (app, { deps }) => {
  app.addHook('onSend', async (_req, reply, payload) => {
    for (const [k, v] of Object.entries(CORS_HEADERS)) reply.header(k, v);
    return payload;
  });
  app.options('/v1/uppy/*', { config: { openapi: { summary: 'CORS preflight for the Companion-compatible routes', tags: ['uppy'], responses: { 204: 'No content' } } } }, async (_req, reply) => reply.code(204).send());

  const auth = (req: FastifyRequest) => resolveUppyToken(deps, (req.params as { token: string }).token);
  // The same per-workspace limits as the /v1 routes that create, sign and complete (these routes sit outside /v1's hook).
  const limited = async (req: FastifyRequest, reply: FastifyReply, scope: RateLimitScope) => {
    const a = await auth(req);
    await enforceRateLimit(deps, a.workspaceId, scope, reply);
    return a;
  };
  const base = '/v1/uppy/:token/s3';

  app.get(`${base}/params`, { config: { openapi: { summary: 'Uppy: presigned single upload (Companion `GET /s3/params`)', tags: ['uppy'] } } }, async (req, reply) => {
    const q = req.query as Query;
    return uppyParams(deps, await limited(req, reply, 'create'), { filename: q.filename, type: q.type, metadata: queryMetadata(q), method: q.method as string, size: q.size });
  });

  app.post(`${base}/multipart`, { config: { openapi: { summary: 'Uppy: create a multipart upload (Companion `POST /s3/multipart`)', tags: ['uppy'] } } }, async (req, reply) => {
    const b = (req.body ?? {}) as { filename?: unknown; type?: unknown; metadata?: unknown };
    return uppyCreateMultipart(deps, await limited(req, reply, 'create'), { filename: b.filename, type: b.type, metadata: b.metadata });
  });

  app.get(`${base}/multipart/:uploadId/:partNumber`, { config: { openapi: { summary: 'Uppy: sign one part (`?key=`)', tags: ['uppy'] } } }, async (req, reply) => {
    const p = req.params as { uploadId: string; partNumber: string };
    return uppySignPart(deps, await limited(req, reply, 'sign'), p.uploadId, p.partNumber, keyOf(req));
  });

  app.get(`${base}/multipart/:uploadId`, { config: { openapi: { summary: 'Uppy: list stored parts (`?key=`)', tags: ['uppy'] } } }, async (req, reply) => {
    const p = req.params as { uploadId: string };
    // Each listing is a ListParts call to storage: counted as signing.
    return uppyListParts(deps, await limited(req, reply, 'sign'), p.uploadId, keyOf(req));
  });

  app.post(`${base}/multipart/:uploadId/complete`, { config: { openapi: { summary: 'Uppy: complete the multipart upload (`?key=`, body {parts})', tags: ['uppy'] } } }, async (req, reply) => {
    const p = req.params as { uploadId: string };
    return uppyComplete(deps, await limited(req, reply, 'complete'), p.uploadId, keyOf(req), req.body);
  });

  app.delete(`${base}/multipart/:uploadId`, { config: { openapi: { summary: 'Uppy: abort the multipart upload (`?key=`)', tags: ['uppy'] } } }, async (req) => {
    const p = req.params as { uploadId: string };
    return uppyAbort(deps, await auth(req), p.uploadId, keyOf(req));
  });
};

const tokenBody = z.object({ ttlSeconds: z.number().int().optional() }).nullish();

/** POST /v1/uppy/tokens (bearer auth): a short-lived upload token for the caller's workspace. */
export const uppyTokenRoutes: FastifyPluginAsync<RouteOptions> = async (app, { deps }) => {
  app.post('/uppy/tokens', { config: { openapi: { summary: 'Mint a short-lived upload token for @uppy/aws-s3 (`companionEndpoint` = the answer\'s endpoint)', tags: ['uppy'], body: z.object({ ttlSeconds: z.number().int().optional() }), responses: { 201: { description: 'The token and the endpoint to give Uppy', schema: { type: 'object', properties: { token: { type: 'string' }, endpoint: { type: 'string' }, expiresAt: { type: 'string' } } } } } } } }, async (req, reply) => {
    const body = parseInput(tokenBody, req.body) ?? {};
    const { token, expiresAt } = await mintUppyToken(deps, {
      workspaceId: req.auth.workspaceId,
      subject: req.auth.subject,
      ttlSeconds: body.ttlSeconds,
    });
    const origin = `${req.protocol}://${req.headers.host ?? `${deps.config.host}:${deps.config.port}`}`;
    reply.code(201);
    return { token, endpoint: `${origin}/v1/uppy/${token}`, expiresAt: expiresAt.toISOString() };
  });
};
