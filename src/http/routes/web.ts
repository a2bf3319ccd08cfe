// The upload page: GET / (HTML), /web/app.js (src/web + the SDK, bundled by esbuild on first use), /web/app.css, and
// — only when the server was started with a dev page token (`stowage start` on a loopback address) — /web/dev-token.
// `stowage serve` never passes one: in production the page asks the user to paste a token.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { RouteOptions } from '../types.ts';
import { pageHtml } from '../../web/page.ts';
import { webBundle, webStylesheet, type WebAsset } from '../../web/build.ts';
import { errors } from '../../errors/index.ts';

export interface WebRoutesOptions {
  /** Mints a token for the page (dev only). Without it /web/dev-token answers 404. */
  devPageToken?: () => Promise<{ token: string; workspace: string }>;
}

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  // Uploads go straight to storage (any S3 endpoint) and downloads to the CDN.
  'connect-src http: https:',
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

function isLoopback(addr: string | undefined): boolean {
  return !!addr && (addr === '::1' || addr.startsWith('127.') || addr.startsWith('::ffff:127.'));
}

/**
 * The name the browser used is a loopback one too: a page on another origin whose name was re-pointed at 127.0.0.1
 * (DNS rebinding) reaches us from loopback with its own name in Host, and must not be handed the token.
 */
function isLoopbackHost(host: string | undefined): boolean {
  return !!host && /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d{1,5})?$/i.test(host);
}

function sendAsset(req: FastifyRequest, reply: FastifyReply, a: WebAsset, type: string) {
  reply.header('content-type', type).header('etag', a.etag).header('cache-control', 'no-cache');
  if (req.headers['if-none-match'] === a.etag) return reply.code(304).send();
  return reply.send(a.body);
}

export function createWebRoutes(opts: WebRoutesOptions = {}): FastifyPluginAsync<RouteOptions> {
  return async (app) => {
    const html = pageHtml();
    const doc = (summary: string) => ({ config: { openapi: { summary, tags: ['web'], security: 'none' as const } } });
    app.get('/', doc('The upload page (HTML)'), async (_req, reply) => {
      reply
        .header('content-type', 'text/html; charset=utf-8')
        .header('content-security-policy', CSP)
        .header('referrer-policy', 'no-referrer')
        .header('x-frame-options', 'DENY')
        .header('cache-control', 'no-cache');
      return html;
    });
    app.get('/web/app.js', doc("The upload page's script"), async (req, reply) =>
      sendAsset(req, reply, await webBundle(), 'text/javascript; charset=utf-8'),
    );
    app.get('/web/app.css', doc("The upload page's stylesheet"), async (req, reply) =>
      sendAsset(req, reply, await webStylesheet(), 'text/css; charset=utf-8'),
    );
    app.get('/web/dev-token', doc('A development token for the page (only under `stowage start` on loopback)'), async (req, reply) => {
      const site = req.headers['sec-fetch-site'];
      if (!opts.devPageToken || !isLoopback(req.socket.remoteAddress) || !isLoopbackHost(req.headers.host) || (site !== undefined && site !== 'same-origin' && site !== 'none')) {
        throw errors.notFound('Route');
      }
      reply.header('cache-control', 'no-store');
      return opts.devPageToken();
    });
  };
}
