// Shared pieces of the SDK suites: quick big test files, a fetch that counts (and can disturb) storage requests.
import { createHash, randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';

const MiB = 1024 * 1024;

/**
 * Writes `size` bytes: one random MiB repeated, each MiB stamped with its index so that parts differ (a part sent to
 * the wrong place changes the hash). Returns the SHA-256 (hex) of the content.
 */
export async function writeTestFile(path: string, size: number, head?: Uint8Array): Promise<string> {
  const block = randomBytes(MiB);
  const hash = createHash('sha256');
  const fh = await open(path, 'w');
  try {
    for (let off = 0, i = 0; off < size; off += MiB, i++) {
      const chunk = Buffer.from(block.subarray(0, Math.min(MiB, size - off)));
      if (chunk.length >= 4) chunk.writeUInt32BE(i, 0);
      if (i === 0 && head) chunk.set(head.subarray(0, chunk.length), 0);
      hash.update(chunk);
      await fh.write(chunk);
    }
  } finally {
    await fh.close();
  }
  return hash.digest('hex');
}

export async function sha256OfResponse(res: Response): Promise<string> {
  const hash = createHash('sha256');
  const reader = res.body!.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    hash.update(value);
  }
  return hash.digest('hex');
}

export interface StorageCall {
  method: string;
  partNumber: number | null;
  status: number | 'error';
}

export type Disturb = (call: { method: string; url: URL; partNumber: number | null; attempt: number }) =>
  | Promise<Response | Error | 'corrupt' | undefined>
  | Response
  | Error
  | 'corrupt'
  | undefined;

/**
 * A fetch for the SDK that records every request to storage (anything that is not the Stowage API) and lets a test
 * answer one instead (a 503, a network error) or corrupt its body — to exercise the SDK's own retry logic against
 * the real storage otherwise.
 */
export function countingFetch(apiBaseUrl: string, disturb?: Disturb) {
  const calls: StorageCall[] = [];
  const attempts = new Map<string, number>();
  const f: typeof fetch = async (input, init) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    if (url.href.startsWith(apiBaseUrl)) return fetch(input, init);
    const method = init?.method ?? 'GET';
    const pn = url.searchParams.get('partNumber');
    const partNumber = pn ? Number(pn) : null;
    const key = `${method} ${partNumber}`;
    const attempt = attempts.get(key) ?? 0;
    attempts.set(key, attempt + 1);
    const call: StorageCall = { method, partNumber, status: 'error' };
    calls.push(call);
    const action = await disturb?.({ method, url, partNumber, attempt });
    if (action instanceof Response) {
      call.status = action.status;
      return action;
    }
    if (action instanceof Error) throw action;
    let body = init?.body;
    if (action === 'corrupt' && body instanceof Uint8Array) {
      const copy = Buffer.from(body);
      copy[0] ^= 0xff;
      body = copy;
    }
    try {
      const res = await fetch(input, { ...init, body });
      call.status = res.status;
      return res;
    } catch (err) {
      call.status = 'error';
      throw err;
    }
  };
  return {
    fetch: f,
    calls,
    /** Part numbers storage accepted (2xx), in order. */
    partsStored: () => calls.filter((c) => c.partNumber !== null && typeof c.status === 'number' && c.status < 300).map((c) => c.partNumber!),
    /** Part numbers the SDK sent (each attempt). */
    partsAttempted: () => calls.filter((c) => c.partNumber !== null).map((c) => c.partNumber!),
  };
}
