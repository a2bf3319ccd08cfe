// POST /v1/events/s3 — S3 event notifications pushed by S3-compatible stores (the embedded store's webhook, Ceph RGW
// topics with an HTTP push-endpoint, MinIO webhooks, SNS HTTP subscriptions).
//
// Authentication: a shared secret (config EVENTS_SECRET) in the `secret` query parameter — RGW pushes carry no
// custom headers but keep the push-endpoint's query string — or in the `X-Stowage-Events-Secret` header. Compared in
// constant time. Without a configured secret the route is disabled (404).
//
// Answering quickly without losing events: the parsed records are written to the storage_events inbox (one INSERT)
// and the request is answered; verification and completion (HEAD, range GET, transition) run in the background
// right after, and any worker picks up what a crash left behind. RGW's non-persistent topics push during the
// uploader's own PUT, so inline verification would slow every upload down; an inbox row is durable before the 200,
// so a store that retries on failure never needs to, and one that does not retry loses nothing once answered.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { errors } from '../../errors/index.ts';
import { isMalformed, parseStorageNotification } from '../../domain/storage-events.ts';
import { acceptStorageEvents, kickStorageEventInbox } from '../../services/handle-storage-event.ts';
import type { RouteOptions } from '../types.ts';

export const EVENTS_SECRET_HEADER = 'x-stowage-events-secret';

export function secretMatches(expected: string, given: unknown): boolean {
  if (typeof given !== 'string' || given === '') return false;
  // Hash both sides so the comparison is constant-time regardless of the lengths.
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(given).digest();
  return timingSafeEqual(a, b);
}

function givenSecret(req: FastifyRequest): unknown {
  const header = req.headers[EVENTS_SECRET_HEADER];
  if (typeof header === 'string' && header !== '') return header;
  const q = req.query as Record<string, unknown> | undefined;
  return q?.secret;
}

export const eventsRoutes: FastifyPluginAsync<RouteOptions> = async (app, { deps }) => {
  // SNS HTTP subscriptions post JSON as text/plain; accept any content type as text and parse it ourselves.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  app.post('/v1/events/s3', { bodyLimit: 1024 * 1024, config: { openapi: { summary: 'S3 event notifications (embedded store, Ceph RGW, MinIO webhooks, SNS HTTP); 404 unless EVENTS_SECRET is set', tags: ['events'], security: 'events-secret', body: { type: 'object', description: 'S3 event notification JSON ({Records:[…]}), any content type' }, bodyContentType: '*/*', responses: { 200: { description: 'Stored in the inbox', schema: { type: 'object', properties: { received: { type: 'integer' }, accepted: { type: 'integer' }, ignored: { type: 'integer' }, testEvents: { type: 'integer' }, problems: { type: 'integer' } } } }, 400: { description: 'Not an S3 event notification', schema: { $ref: '#/components/schemas/Error' } }, 401: { description: 'Missing or wrong events secret', schema: { $ref: '#/components/schemas/Error' } }, 404: { description: 'Events are disabled (no EVENTS_SECRET)', schema: { $ref: '#/components/schemas/Error' } } } } } }, async (req, reply) => {
    const secret = deps.config.events?.secret;
    if (!secret) throw errors.notFound('Route');
    if (!secretMatches(secret, givenSecret(req))) throw errors.unauthorized('Missing or wrong events secret');

    const parsed = parseStorageNotification(typeof req.body === 'string' ? req.body : '');
    if (isMalformed(parsed)) {
      req.log.warn({ problems: parsed.problems }, 'malformed storage event notification');
      throw errors.invalidRequest('Not an S3 event notification', { problems: parsed.problems.slice(0, 10) });
    }
    if (parsed.problems.length > 0) req.log.warn({ problems: parsed.problems }, 'some event records were not understood');
    if (parsed.subscriptionConfirmations.length > 0) {
      // Never fetched automatically (it would let anyone with the secret make us request arbitrary URLs).
      req.log.warn({ urls: parsed.subscriptionConfirmations }, 'SNS subscription confirmation received; confirm it out of band');
    }

    const { accepted, ignored } = await acceptStorageEvents(deps, parsed.events, 'http');
    if (accepted > 0) void kickStorageEventInbox(deps);
    return reply.code(200).send({
      received: parsed.events.length,
      accepted,
      ignored,
      testEvents: parsed.testEvents,
      problems: parsed.problems.length,
    });
  });
};
