// Helpers for storage-event tests: an AWS-format S3 event body, and polling until a condition holds.

/** An AWS S3 notification body (eventVersion 2.1) for one object, with the key URL-encoded as S3 does. */
export function s3Event(bucket: string, key: string, eventName = 'ObjectCreated:Put', size?: number) {
  return {
    Records: [
      {
        eventVersion: '2.1', eventSource: 'aws:s3', awsRegion: 'us-east-1', eventTime: new Date().toISOString(), eventName,
        s3: {
          s3SchemaVersion: '1.0', configurationId: 't', bucket: { name: bucket },
          object: { key: encodeURIComponent(key).replace(/%2F/g, '/').replace(/%20/g, '+'), size, eTag: 'x', sequencer: '01' },
        },
      },
    ],
  };
}

/** Calls fn until ok(value) or the timeout; returns the last value (assert on it). */
export async function waitFor<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > until) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A valid 1×1 PNG: content sniffing accepts it as image/png. */
export const TINY_PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);
