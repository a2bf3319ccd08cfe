// Sending large bodies without holding them in memory: one random 1 MiB block written N times, with backpressure.
import { randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
const BLOCK = randomBytes(MiB);

/** An async iterable of `size` bytes (repeating a random 1 MiB block). */
export async function* body(size: number, block = BLOCK): AsyncGenerator<Buffer> {
  let left = size;
  while (left > 0) {
    const n = Math.min(left, block.length);
    yield n === block.length ? block : block.subarray(0, n);
    left -= n;
  }
}

export interface HttpAnswer {
  status: number;
  headers: IncomingMessage['headers'];
  text: string;
}

/** Streams `size` bytes as the body of one HTTP/1.1 request with node:http; resolves with the answer. */
export function sendBody(
  method: string,
  url: string,
  headers: OutgoingHttpHeaders,
  size: number,
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers: { ...headers, 'content-length': String(size) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    void (async () => {
      try {
        for await (const chunk of body(size)) {
          if (!req.write(chunk)) await new Promise<void>((r) => req.once('drain', r));
        }
        req.end();
      } catch (err) {
        req.destroy(err as Error);
      }
    })();
  });
}
