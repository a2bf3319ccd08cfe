// Maps every error to {"error": {"code", "message", "details?"}} with the catalogue's status.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, errors, isAppError } from '../errors/index.ts';

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE', 'EAI_AGAIN']);

/** Errors from Postgres or S3 that mean "the dependency is down", not "the request is wrong". */
export function toDependencyError(err: unknown): AppError | null {
  const e = err as { code?: string; name?: string; message?: string; $metadata?: { httpStatusCode?: number }; cause?: { code?: string } };
  if (!e || typeof e !== 'object') return null;
  if (e.code && NETWORK_CODES.has(e.code)) return errors.dependencyUnavailable(e.$metadata ? 'Storage' : 'Database', err);
  if (e.cause?.code && NETWORK_CODES.has(e.cause.code)) return errors.dependencyUnavailable('Storage', err);
  // Postgres: connection exceptions (08xxx), admin shutdown (57P01..57P03), too many connections (53300).
  if (typeof e.code === 'string' && /^(08...|57P0[1-3]|53300)$/.test(e.code)) return errors.dependencyUnavailable('Database', err);
  if (
    e.message === 'timeout exceeded when trying to connect' ||
    /Connection terminated|is not queryable/.test(String((err as Error).message))
  ) {
    return errors.dependencyUnavailable('Database', err);
  }
  if (e.$metadata) {
    const status = e.$metadata.httpStatusCode;
    if (status === undefined || status >= 500 || e.name === 'TimeoutError') return errors.dependencyUnavailable('Storage', err);
  }
  return null;
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setNotFoundHandler((req: FastifyRequest, reply: FastifyReply) => {
    reply.code(404).send(errors.notFound('Route').toJSON());
  });

  app.setErrorHandler((err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply) => {
    let appErr: AppError;
    if (isAppError(err)) {
      appErr = err;
    } else if ((err as FastifyError).validation) {
      appErr = errors.invalidRequest(err.message);
    } else if (typeof (err as FastifyError).statusCode === 'number' && (err as FastifyError).statusCode! < 500) {
      // Fastify's own client errors: malformed JSON, unsupported media type, body too large…
      const code = (err as FastifyError).code;
      appErr = errors.invalidRequest(err.message, code ? { fastifyCode: code } : undefined);
    } else if (typeof (err as { code?: unknown }).code === 'string' && /^22[0-9A-Z]{3}$/.test((err as { code: string }).code) && (err as { severity?: unknown }).severity !== undefined) {
      // Postgres class 22 (data exception: NUL in text, value out of range…) is caused by the request's data.
      appErr = errors.invalidRequest('Invalid request data', { reason: 'data_exception' });
    } else {
      appErr = toDependencyError(err) ?? errors.internal();
    }
    if (appErr.status >= 500) req.log.error({ err }, appErr.message);
    else req.log.info({ code: appErr.code }, appErr.message);
    reply.code(appErr.status).send(appErr.toJSON());
  });
}
