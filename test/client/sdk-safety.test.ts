// SDK safety against an in-memory API (test/client/fake-api.ts), where timing and failures are exact: what may be
// resumed (fingerprints, name/type match, part checksums), a create that is never repeated blindly, pause/resume
// generations, abort() during create, and the caller's AbortSignal listener.
import { describe, expect, test } from 'vitest';
import { getEventListeners } from 'node:events';
import { createClient, isAbortError } from '../../src/client/index.ts';
import { defaultFingerprint, openSource } from '../../src/client/source.ts';
import { fakeApi, type Hook } from './fake-api.ts';

const bytes = (size: number, fill: number) => new Uint8Array(size).map((_, i) => (i * 7 + fill) & 0xff);
const same = (a: Uint8Array | undefined, b: Uint8Array) => !!a && Buffer.from(a).equals(Buffer.from(b));

function clientOf(api: ReturnType<typeof fakeApi>) {
  return createClient({ baseUrl: 'http://api', token: 't', fetch: api.fetch, retry: { baseDelayMs: 1, maxDelayMs: 5 } });
}

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; !cond(); i++) {
    if (i > 2000) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Uploads `input` with multipart and stops it (like a crash) once `parts` parts are in storage. */
async function interrupted(client: ReturnType<typeof clientOf>, input: Blob, parts: number, opts: { fingerprint?: string } = {}) {
  const ac = new AbortController();
  const h = client.upload(input, {
    method: 'multipart',
    concurrency: 1,
    signal: ac.signal,
    ...opts,
    onProgress: (p) => p.partsDone >= parts && ac.abort(),
  });
  expect(isAbortError(await h.done.catch((e) => e))).toBe(true);
  return h.fileId!;
}

describe('resume only continues the same file', () => {
  test('a plain Blob has no default fingerprint; a File (name + last-modified) has one', async () => {
    expect(await defaultFingerprint(await openSource(new Blob([bytes(10, 1)])))).toBeUndefined();
    expect(await defaultFingerprint(await openSource(new Blob([bytes(10, 1)]), 'given.bin'))).toBeUndefined();
    const file = new File([bytes(10, 1)], 'a.bin', { lastModified: 1_700_000_000_000 });
    expect(await defaultFingerprint(await openSource(file))).toMatch(/^v1-/);
    expect(await defaultFingerprint(await openSource(new File([bytes(10, 1)], 'a.bin', { lastModified: 0 })))).toBeUndefined();
  });

  test('two different Blobs of the same size: the second never resumes the first (its own bytes are stored)', async () => {
    const api = fakeApi();
    const client = clientOf(api);
    const a = new Blob([bytes(1000, 1)]);
    const b = bytes(1000, 2);
    const first = await interrupted(client, a, 2);
    expect(api.uploads.get(first)!.parts.size).toBe(2);
    const f = await client.upload(new Blob([b]), { method: 'multipart' }).done;
    expect(f.id).not.toBe(first);
    expect(same(api.uploads.get(f.id)!.content, b)).toBe(true);
    expect(api.uploads.get(first)!.file.status).toBe('pending'); // untouched
  });

  test('same fingerprint but another file name or content type: not resumed', async () => {
    const api = fakeApi();
    const client = clientOf(api);
    const first = await interrupted(client, new File([bytes(1000, 1)], 'a.bin', { type: 'application/octet-stream' }), 2, {
      fingerprint: 'fp-1',
    });
    const other = bytes(1000, 3);
    for (const file of [
      new File([other], 'b.bin', { type: 'application/octet-stream' }),
      new File([other], 'a.bin', { type: 'image/png' }),
    ]) {
      const f = await client.upload(file, { fingerprint: 'fp-1', method: 'multipart' }).done;
      expect(f.id).not.toBe(first);
      expect(same(api.uploads.get(f.id)!.content, other)).toBe(true);
    }
    // The same name and type (the server's sanitised name, lower-cased type) resumes it.
    const resumed = await client.upload(new File([bytes(1000, 1)], 'a.bin', { type: 'Application/Octet-Stream' }), {
      fingerprint: 'fp-1',
    }).done;
    expect(resumed.id).toBe(first);
    expect(same(api.uploads.get(first)!.content, bytes(1000, 1))).toBe(true);
  });

  test('a listed part whose checksum differs from the local bytes is sent again, not skipped', async () => {
    const api = fakeApi({ reportChecksums: true });
    const client = clientOf(api);
    const lastModified = 1_700_000_000_000;
    const first = await interrupted(client, new File([bytes(1000, 1)], 'a.bin', { lastModified }), 3);
    // Same name, size and last-modified (same fingerprint), other bytes in parts 1 and 2, the same in part 3.
    const changed = bytes(1000, 1);
    changed.set(bytes(200, 9), 0);
    const h = client.upload(new File([changed], 'a.bin', { lastModified }));
    const f = await h.done;
    expect(f.id).toBe(first);
    expect(h.stats.partsSkipped).toBe(1);
    expect(h.stats.partsSent.sort((x, y) => x - y)).toEqual([1, 2, 4, 5, 6, 7, 8, 9, 10]);
    expect(same(api.uploads.get(first)!.content, changed)).toBe(true);
  });
});

describe('creating an upload is never repeated blindly', () => {
  test('a 502 after the server created it: the upload is found by fingerprint and discarded, one is left', async () => {
    const api = fakeApi({
      afterCreate: ({ n }) => (n === 1 ? new Response('bad gateway', { status: 502 }) : undefined),
    });
    const client = clientOf(api);
    const data = bytes(100, 4);
    const f = await client.upload(new Blob([data]), { method: 'put' }).done;
    expect(same(api.uploads.get(f.id)!.content, data)).toBe(true);
    const statuses = [...api.uploads.values()].map((u) => u.file.status).sort();
    expect(statuses).toEqual(['available', 'deleted']); // no duplicate left pending (holding quota)
  });

  test('a network error after a multipart create: that upload is continued, not created again', async () => {
    const api = fakeApi({ afterCreate: ({ n }) => (n === 1 ? new TypeError('fetch failed') : undefined) });
    const client = clientOf(api);
    const data = bytes(1000, 5);
    const f = await client.upload(new File([data], 'big.bin', { lastModified: 1_700_000_000_000 }), { method: 'multipart' }).done;
    expect(api.count('POST /v1/uploads')).toBe(1);
    expect(api.uploads.size).toBe(1);
    expect(same(api.uploads.get(f.id)!.content, data)).toBe(true);
  });

  test('resume: false, or a single PUT of a File: an ambiguous create is still found again and not duplicated', async () => {
    for (const opts of [{ fingerprint: 'mine', resume: false }, { method: 'put' as const }, { method: 'post' as const, fingerprint: 'theirs' }]) {
      const api = fakeApi({ afterCreate: ({ n }) => (n === 1 ? new Response('bad gateway', { status: 502 }) : undefined) });
      const client = clientOf(api);
      const data = bytes(100, 1);
      const f = await client.upload(new File([data], 'a.bin', { lastModified: 1_700_000_000_000 }), opts).done;
      expect(same(api.uploads.get(f.id)!.content, data), JSON.stringify(opts)).toBe(true);
      const statuses = [...api.uploads.values()].map((u) => u.file.status).sort();
      expect(statuses, JSON.stringify(opts)).toEqual(['available', 'deleted']);
    }
  });

  test('an ambiguous create that keeps failing ends with its error after the retries; earlier attempts are discarded', async () => {
    const api = fakeApi({ afterCreate: () => new Response('bad gateway', { status: 502 }) });
    const client = clientOf(api);
    const err = await client.upload(new Blob([bytes(100, 1)]), { fingerprint: 'mine', resume: false }).done.catch((e) => e);
    expect(err).toMatchObject({ status: 502 });
    expect([...api.uploads.values()].filter((u) => u.file.status === 'pending')).toHaveLength(1); // the last attempt's
  });

  test('pause() during create does not send it again', async () => {
    const g = gate();
    const api = fakeApi({ afterCreate: async () => (await g.opened, undefined) });
    const client = clientOf(api);
    const h = client.upload(new Blob([bytes(100, 6)]), { method: 'put' });
    await waitFor(() => api.count('POST /v1/uploads') === 1);
    h.pause();
    g.open();
    await new Promise((r) => setTimeout(r, 20));
    h.resume();
    const f = await h.done;
    expect(f.status).toBe('available');
    expect(api.count('POST /v1/uploads')).toBe(1);
    expect(api.uploads.size).toBe(1);
  });

  test('abort() during create discards the upload once the create answer arrives', async () => {
    const g = gate();
    const api = fakeApi({ afterCreate: async () => (await g.opened, undefined) });
    const client = clientOf(api);
    const h = client.upload(new Blob([bytes(100, 7)]), { method: 'put' });
    await waitFor(() => api.count('POST /v1/uploads') === 1);
    const aborting = h.abort();
    expect(isAbortError(await h.done.catch((e) => e))).toBe(true);
    g.open();
    await aborting;
    expect([...api.uploads.values()].map((u) => u.file.status)).toEqual(['deleted']);
  });
});

describe('pause and resume', () => {
  const slowPuts: Hook = async ({ method, path }) => {
    if (method === 'PUT' || path.endsWith('/complete')) await new Promise((r) => setTimeout(r, 15));
    return undefined;
  };

  test('pause() at once followed by resume() while parts are in flight: the parts are sent again', async () => {
    const api = fakeApi({ hook: slowPuts });
    const client = clientOf(api);
    const data = bytes(1000, 8);
    const h = client.upload(new Blob([data]), { method: 'multipart', concurrency: 4 });
    await waitFor(() => api.count('PUT /f1') >= 4);
    h.pause();
    h.resume();
    const f = await h.done;
    expect(f.status).toBe('available');
    expect(same(api.uploads.get(f.id)!.content, data)).toBe(true);
  });

  test('pause() then resume() during completion: completion is asked again', async () => {
    const api = fakeApi({ hook: slowPuts });
    const client = clientOf(api);
    const h = client.upload(new Blob([bytes(100, 9)]), { method: 'put' });
    await waitFor(() => api.count('POST /v1/uploads/f1/complete') === 1);
    h.pause();
    h.resume();
    expect((await h.done).status).toBe('available');
    expect(api.count('POST /v1/uploads/f1/complete')).toBe(2);
  });

  test('a second pause before the first paused step settled still pauses', async () => {
    const api = fakeApi({ hook: slowPuts });
    const client = clientOf(api);
    const h = client.upload(new Blob([bytes(1000, 10)]), { method: 'multipart', concurrency: 2 });
    await waitFor(() => api.count('PUT /f1') >= 2);
    h.pause();
    h.resume();
    h.pause();
    await new Promise((r) => setTimeout(r, 60));
    const puts = api.count('PUT /f1');
    await new Promise((r) => setTimeout(r, 60));
    expect(api.count('PUT /f1')).toBe(puts); // nothing sent while paused
    h.resume();
    expect((await h.done).status).toBe('available');
  });
});

test('the AbortSignal listener is removed once the upload settles', async () => {
  const api = fakeApi();
  const client = clientOf(api);
  const ac = new AbortController();
  await client.upload(new Blob([bytes(100, 11)]), { method: 'put', signal: ac.signal }).done;
  expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  const failing = fakeApi({ hook: ({ method }) => (method === 'PUT' ? new Response('<Error><Code>AccessDenied</Code></Error>', { status: 403 }) : undefined) });
  await clientOf(failing).upload(new Blob([bytes(100, 11)]), { method: 'put', signal: ac.signal }).done.catch(() => undefined);
  expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
});
