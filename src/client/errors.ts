// Errors the SDK throws. API errors carry the server's stable code ({"error":{code,message,details}}).

export class StowageError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;

  constructor(status: number, code: string, message: string, details?: unknown) {
    super(message);
    this.name = 'StowageError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** The error `done` rejects with after abort(), pause-less cancel, or an aborted AbortSignal. */
export function abortError(reason?: unknown): Error {
  if (reason instanceof Error) return reason;
  const err = new Error(typeof reason === 'string' ? reason : 'The upload was aborted');
  err.name = 'AbortError';
  return err;
}

export function isAbortError(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError');
}
