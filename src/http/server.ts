// buildServer(deps) → a Fastify instance with every route registered (not listening).
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyReply } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { Deps } from '../services/deps.ts';
import { bearerToken, createAuthenticator, type Authenticator } from './auth.ts';
import { registerErrorHandling } from './error-handler.ts';
import type { RouteOptions, ServerDeps } from './types.ts';
import { uploadsRoutes } from './routes/uploads.ts';
import { filesRoutes } from './routes/files.ts';
import { usageRoutes } from './routes/usage.ts';
import { healthRoutes } from './routes/health.ts';
import { eventsRoutes } from './routes/events.ts';
import { multipartRoutes } from './routes/multipart.ts';
import { uppyRoutes, uppyTokenRoutes } from './routes/uppy.ts';
import { downloadsRoutes } from './routes/downloads.ts';
import { installMultipart } from '../services/multipart.ts';
import { errors } from '../errors/index.ts';
import { createWebRoutes, type WebRoutesOptions } from './routes/web.ts';
import { createDocsRoutes } from './routes/docs.ts';
import { collectRoutes } from './openapi.ts';
import { rateLimitHook } from './rate-limit.ts';

export interface BuildServerOptions {
  /** Overrides the authenticator built from config.auth. */
  authenticate?: Authenticator;
  /** Extra plugins registered at the root (they receive {deps}); e.g. routes that do their own auth. */
  plugins?: FastifyPluginAsync<RouteOptions>[];
  /** Extra plugins registered inside the authenticated /v1 scope (req.auth is set). */
  authenticatedPlugins?: FastifyPluginAsync<RouteOptions>[];
  /** Mints a token for the upload page at GET /web/dev-token (`stowage start` on loopback only; never `serve`). */
  devPageToken?: WebRoutesOptions['devPageToken'];
}

/** Routes under /v1 that require a bearer token. Add new resource plugins here. */
const AUTHENTICATED_ROUTES: FastifyPluginAsync<RouteOptions>[] = [uploadsRoutes, multipartRoutes, uppyTokenRoutes, filesRoutes, usageRoutes, downloadsRoutes];

/** Routes that do not use bearer auth (health; later: storage events, web page, docs). */
const PUBLIC_ROUTES: FastifyPluginAsync<RouteOptions>[] = [healthRoutes, eventsRoutes, uppyRoutes];

/**
 * A request URL as it may be logged: the credentials some routes carry in the URL (Uppy's upload token in the path,
 * the events webhook's `secret=`) are masked, since logs outlive and travel further than tokens should.
 */
export function loggableUrl(url: string): string {
  return url
    .replace(/\/uppy\/upt_[^/?#]*/g, '/uppy/upt_[redacted]')
    .replace(/([?&]secret=)[^&#]*/gi, '$1[redacted]');
}

export async function buildServer(deps: Deps, opts: BuildServerOptions = {}): Promise<FastifyInstance> {
  installMultipart();
  const serverDeps: ServerDeps = {
    ...deps,
    authenticate: opts.authenticate ?? createAuthenticator(deps.config.auth),
  };
  const app = Fastify({
    loggerInstance: deps.log,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    // Every request's log line goes through loggableUrl (the default serializer would log the raw URL).
    childLoggerFactory: (logger, bindings, childOpts) =>
      logger.child(bindings, {
        ...childOpts,
        serializers: {
          ...childOpts.serializers,
          req: (req: { method?: string; url?: string; ip?: string }) => ({ method: req.method, url: loggableUrl(req.url ?? ''), remoteAddress: req.ip }),
        },
      }),
    bodyLimit: 256 * 1024,
    trustProxy: false,
    return503OnClosing: true,
    // Ids are validated by the services (a too-long or malformed id is "not found", like any unknown id). With
    // Fastify's default of 100 a long id got a 414 in Fastify's own shape, echoing the whole URL.
    routerOptions: { maxParamLength: 16 * 1024 },
    // URLs Fastify cannot route (undecodable percent-encoding…): the documented error shape, no URL echoed.
    frameworkErrors: (err, _req, reply) => {
      const e = (err as { code?: string }).code === 'FST_ERR_MAX_PARAM_LENGTH' ? errors.notFound('Resource') : errors.invalidRequest('Malformed URL');
      const r = reply as unknown as FastifyReply;
      void r.code(e.status).header('cache-control', 'no-store').header('x-content-type-options', 'nosniff').send(e.toJSON());
    },
    // Requests Node's HTTP parser refuses (bad framing, header overflow, timeouts) get the documented JSON shape too.
    clientErrorHandler(this: FastifyInstance, err: NodeJS.ErrnoException, socket: import('node:net').Socket) {
      this.log.debug({ err }, 'client error');
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      const [status, text, message] =
        err.code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'Request Header Fields Too Large', 'Request headers are too large']
          : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? [408, 'Request Timeout', 'Request timed out']
            : [400, 'Bad Request', 'Malformed HTTP request'];
      const body = JSON.stringify(errors.invalidRequest(message).toJSON());
      if (socket.writable) {
        socket.write(`HTTP/1.1 ${status} ${text}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`);
      }
      socket.destroy(err);
    },
  }) as unknown as FastifyInstance;

  app.addHook('onSend', async (req, reply, payload) => {
    reply.header('x-request-id', req.id);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('cache-control', reply.getHeader('cache-control') ?? 'no-store');
    return payload;
  });

  registerErrorHandling(app);
  // Every route registered from here on is listed in /openapi.json.
  const routes = collectRoutes(app);
  await app.register(createDocsRoutes(routes), { deps: serverDeps });
  await app.register(createWebRoutes({ devPageToken: opts.devPageToken }), { deps: serverDeps });

  for (const p of PUBLIC_ROUTES) await app.register(p, { deps: serverDeps });
  for (const p of opts.plugins ?? []) await app.register(p, { deps: serverDeps });

  await app.register(
    async (v1) => {
      v1.decorateRequest('auth', null as never);
      v1.addHook('onRequest', async (req) => {
        req.auth = await serverDeps.authenticate(bearerToken(req));
      });
      v1.addHook('onRequest', rateLimitHook(serverDeps));
      for (const p of AUTHENTICATED_ROUTES) await v1.register(p, { deps: serverDeps });
      for (const p of opts.authenticatedPlugins ?? []) await v1.register(p, { deps: serverDeps });
    },
    { prefix: '/v1' },
  );

  return app;
}
