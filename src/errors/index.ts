// The error factory: every failure Stowage reports has a stable code and an HTTP status.
// HTTP answers with {"error": {"code", "message", "details?"}}.

export const ERROR_CODES = {
  invalid_request: 400,
  unauthorized: 401,
  not_found: 404,
  upload_not_found_in_storage: 409,
  invalid_state: 409,
  file_too_large: 413,
  content_type_not_allowed: 415,
  verification_failed: 422,
  quota_exceeded: 429,
  rate_limited: 429,
  internal_error: 500,
  dependency_unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, status?: number) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.status = status ?? ERROR_CODES[code];
    if (details !== undefined) this.details = details;
  }

  toJSON(): { error: { code: ErrorCode; message: string; details?: Record<string, unknown> } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.details !== undefined ? { details: this.details } : {}),
      },
    };
  }
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}

/** The catalogue: use these instead of constructing AppError by hand. */
export const errors = {
  invalidRequest: (message: string, details?: Record<string, unknown>) =>
    new AppError('invalid_request', message, details),
  unauthorized: (message = 'Missing, invalid or expired token') => new AppError('unauthorized', message),
  notFound: (what = 'Resource') => new AppError('not_found', `${what} not found`),
  uploadNotFoundInStorage: () =>
    new AppError(
      'upload_not_found_in_storage',
      'The object has not been uploaded to storage yet; upload it with the presigned request, then complete',
    ),
  invalidState: (message: string, details?: Record<string, unknown>) =>
    new AppError('invalid_state', message, details),
  fileTooLarge: (size: number, maxFileSize: number) =>
    new AppError('file_too_large', `File size ${size} exceeds the maximum of ${maxFileSize} bytes`, {
      size,
      maxFileSize,
    }),
  contentTypeNotAllowed: (contentType: string, allowed: readonly string[]) =>
    new AppError('content_type_not_allowed', `Content type "${contentType}" is not allowed`, {
      contentType,
      allowedContentTypes: [...allowed],
    }),
  verificationFailed: (reason: string, message: string, details?: Record<string, unknown>) =>
    new AppError('verification_failed', message, { reason, ...details }),
  quotaExceeded: (limit: string, message: string, details?: Record<string, unknown>) =>
    new AppError('quota_exceeded', message, { limit, ...details }),
  rateLimited: (message = 'Too many requests') => new AppError('rate_limited', message),
  dependencyUnavailable: (dependency: string, cause?: unknown) => {
    const e = new AppError('dependency_unavailable', `${dependency} is unavailable`, { dependency });
    if (cause !== undefined) (e as { cause?: unknown }).cause = cause;
    return e;
  },
  internal: (message = 'Internal error') => new AppError('internal_error', message),
};
