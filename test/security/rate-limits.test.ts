// Per-workspace rate limits on create/complete/sign: 429 rate_limited with Retry-After, counted in Postgres so that
// two API instances share one limit; other workspaces and other scopes are unaffected; a refusal changes nothing.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestApp, randomWorkspaceId, type TestApp } from '../helpers/app.ts';
import { embeddedTarget } from '../helpers/s3-targets.ts';
import { PNG_1x1 } from '../api/support.ts';
import { rateWindow } from '../../src/domain/rate-limit.ts';
import { loadConfig } from '../../src/config/index.ts';

type Json = any;

describe('rate limits', () => {
  const t = embeddedTarget();
  let a: TestApp;
  let b: TestApp;
  let unlimited: TestApp;
  // A frozen clock in the middle of a window: the test never straddles a window boundary.
  const windowSeconds = 3600;
  const frozen = new Date(rateWindow(new Date(), windowSeconds).start.getTime() + 1800_000);
  const env = {
    RATE_LIMIT_WINDOW_SECONDS: String(windowSeconds),
    RATE_LIMIT_CREATE: '5',
    RATE_LIMIT_COMPLETE: '3',
    RATE_LIMIT_SIGN: '4',
  };

  beforeAll(async () => {
    await t.start();
    const bucket = await t.createBucket('stowage-rl');
    const s3Target = { endpoint: t.endpoint, region: t.region, ...t.credentials, bucket };
    a = await startTestApp({ s3Target, env, now: () => frozen });
    // The second instance shares the first one's secret so the same token works on both.
    b = await startTestApp({ s3Target, env, now: () => frozen, config: { auth: { jwtSecret: a.config.auth.jwtSecret } } });
    unlimited = await startTestApp({ s3Target, env: { RATE_LIMIT_ENABLED: 'false' }, config: { auth: { jwtSecret: a.config.auth.jwtSecret } } });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await unlimited?.close();
    await t.stop();
  });

  async function call(app: TestApp, ws: string, method: string, path: string, json?: unknown) {
    const r = await app.api(ws, path, { method, ...(json !== undefined ? { json } : {}) });
    const text = await r.text();
    return { status: r.status, headers: r.headers, body: (text ? JSON.parse(text) : null) as Json };
  }
  const createBody = { filename: 'a.png', contentType: 'image/png', size: PNG_1x1.length };

  test('config: defaults are on and high, every variable validated', () => {
    const c = loadConfig({}, { requireExternal: false });
    expect(c.rateLimits).toEqual({ enabled: true, windowSeconds: 10, limits: { create: 2000, complete: 2000, sign: 4000 } });
    expect(() => loadConfig({ RATE_LIMIT_CREATE: 'x', RATE_LIMIT_WINDOW_SECONDS: '0', RATE_LIMIT_ENABLED: 'maybe' }, { requireExternal: false }))
      .toThrow(/RATE_LIMIT_CREATE[\s\S]*RATE_LIMIT_ENABLED|RATE_LIMIT_ENABLED[\s\S]*RATE_LIMIT_CREATE/);
  });

  test('creates across two API instances share one limit; the 6th answers 429 with Retry-After; nothing changes', async () => {
    const ws = randomWorkspaceId('rl');
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => call(i % 2 ? a : b, ws, 'POST', '/v1/uploads', createBody)));
    const ok = results.filter((r) => r.status === 201);
    const limited = results.filter((r) => r.status === 429);
    expect(ok).toHaveLength(5);
    expect(limited).toHaveLength(7);
    for (const r of limited) {
      expect(r.body.error.code).toBe('rate_limited');
      expect(r.body.error.details).toMatchObject({ scope: 'create', limit: 5, windowSeconds });
      expect(Number(r.headers.get('retry-after'))).toBe(1800);
      expect(r.headers.get('ratelimit-remaining')).toBe('0');
    }
    const usage = (await call(a, ws, 'GET', '/v1/usage')).body;
    expect(usage.pendingCount).toBe(5);
    expect(usage.reservedBytes).toBe(5 * PNG_1x1.length);
    // Another workspace is not starved.
    expect((await call(a, randomWorkspaceId('rl'), 'POST', '/v1/uploads', createBody)).status).toBe(201);
    // Reads are never limited.
    expect((await call(a, ws, 'GET', '/v1/files')).status).toBe(200);
    // Disabled: no limit.
    expect((await call(unlimited, ws, 'POST', '/v1/uploads', createBody)).status).toBe(201);
  });

  test('complete and sign have their own budgets, independent of create', async () => {
    const ws = randomWorkspaceId('rl');
    const c = await call(a, ws, 'POST', '/v1/uploads', { ...createBody, size: 20 * 1024 * 1024, contentType: 'application/octet-stream', filename: 'big.bin', method: 'multipart' });
    expect(c.status).toBe(201);
    const id = c.body.file.id as string;
    const signs = [];
    for (let i = 0; i < 6; i++) signs.push((await call(i % 2 ? a : b, ws, 'POST', `/v1/uploads/${id}/parts`, { partNumbers: [1] })).status);
    expect(signs).toEqual([200, 200, 200, 200, 429, 429]);
    const completes = [];
    for (let i = 0; i < 5; i++) completes.push((await call(a, ws, 'POST', `/v1/uploads/${id}/complete`)).status);
    // Nothing uploaded yet: 409 until the budget is spent, then 429.
    expect(completes).toEqual([409, 409, 409, 429, 429]);
    expect((await call(a, ws, 'GET', `/v1/files/${id}`)).body.file.status).toBe('pending');
  });

  test('large limits lease tokens in batches: across two instances no more than the limit is ever admitted, and at most (lease − 1) per instance goes unused', async () => {
    const limit = 200; // leaseSize(200) = 2
    const big = { ...env, RATE_LIMIT_COMPLETE: String(limit) };
    const shared = { auth: { jwtSecret: a.config.auth.jwtSecret } };
    const s3Target = { endpoint: t.endpoint, region: t.region, ...t.credentials, bucket: a.config.s3.bucket };
    const c = await startTestApp({ s3Target, env: big, now: () => frozen, config: shared });
    const d = await startTestApp({ s3Target, env: big, now: () => frozen, config: shared });
    try {
      const ws = randomWorkspaceId('rl');
      const unknown = '00000000-0000-4000-8000-000000000000';
      const statuses: number[] = [];
      // 16 concurrent callers per instance, 260 requests in all: every one is counted (404 for the unknown id) or refused.
      let next = 0;
      await Promise.all(Array.from({ length: 32 }, async (_, k) => {
        while (next < 260) {
          next += 1;
          statuses.push((await call(k % 2 ? c : d, ws, 'POST', `/v1/uploads/${unknown}/complete`)).status);
        }
      }));
      const admitted = statuses.filter((s) => s === 404).length;
      expect(statuses.filter((s) => s !== 404 && s !== 429)).toEqual([]);
      expect(admitted).toBeLessThanOrEqual(limit);
      expect(admitted).toBeGreaterThanOrEqual(limit - 2 * (2 - 1));
    } finally {
      await c.close();
      await d.close();
    }
  });
});
