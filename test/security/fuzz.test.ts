// Hostile input: property-based fuzzing (fast-check) of every JSON endpoint and query string, plus header abuse.
// Properties: no 5xx; every refusal is the documented {"error":{code,message,details?}}; a refusal changes nothing
// (usage counters and the workspace's rows before/after); Object.prototype is never polluted.
// FUZZ_RUNS sets the cases per property (CI: a few hundred in all; `npm run soak` sets ≥ 10,000 in all).
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestApp, randomWorkspaceId, type TestApp } from '../helpers/app.ts';
import { embeddedTarget } from '../helpers/s3-targets.ts';
import { isErrorShape, raw, type RawAnswer } from './helpers.ts';
import { recordSoakCounts } from '../soak/counts.ts';

type Json = any;
const RUNS = Number(process.env.FUZZ_RUNS ?? 60);
const EVENTS_SECRET = 'fuzz-events-secret-0123456789';

describe('hostile input', () => {
  const t = embeddedTarget();
  let app: TestApp;
  const ws = randomWorkspaceId('fuzz');
  let token = '';
  let multipartId = '';
  let cases = 0;
  let violations = 0;
  let checks = 0;

  beforeAll(async () => {
    await t.start();
    const bucket = await t.createBucket('stowage-fuzz');
    app = await startTestApp({
      s3Target: { endpoint: t.endpoint, region: t.region, ...t.credentials, bucket },
      env: {
        EVENTS_SECRET,
        RATE_LIMIT_ENABLED: 'false',
        DEFAULT_MAX_PENDING: '1000000',
        DEFAULT_QUOTA_BYTES: String(50 * 1024 * 1024 * 1024),
        DEFAULT_MAX_FILE_SIZE: String(10 * 1024 * 1024 * 1024),
      },
    });
    token = await app.tokenFor(ws);
    const mp = await send('POST', '/v1/uploads', JSON.stringify({ filename: 'm.bin', contentType: 'application/octet-stream', size: 64 * 1024 * 1024, method: 'multipart' }));
    expect(mp.status).toBe(201);
    multipartId = JSON.parse(mp.body).file.id;
  });
  afterAll(async () => {
    recordSoakCounts('fuzz', { cases, checks, violations });
    await app?.close();
    await t.stop();
  });

  function send(method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<RawAnswer> {
    return raw(app.baseUrl, {
      method,
      path,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body,
    });
  }

  async function snapshot(): Promise<unknown> {
    const u = await send('GET', '/v1/usage');
    const rows = await app.deps.db.query(
      `SELECT status, count(*)::int AS n, coalesce(sum(size),0)::bigint AS bytes FROM files WHERE workspace_id = $1 GROUP BY status ORDER BY status`,
      [ws],
    );
    return { usage: JSON.parse(u.body), rows: rows.rows };
  }

  /** Sends one case and checks the properties; returns the answer. */
  async function check(method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<RawAnswer> {
    cases++;
    const before = await snapshot();
    const a = await send(method, path, body, headers);
    checks++;
    const problems: string[] = [];
    if (a.status >= 500) problems.push(`status ${a.status}`);
    if (a.status >= 400) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(a.body);
      } catch {
        parsed = undefined;
      }
      if (!isErrorShape(parsed)) problems.push(`refusal not in the documented shape: ${a.body.slice(0, 200)}`);
      const after = await snapshot();
      checks++;
      if (JSON.stringify(after) !== JSON.stringify(before)) problems.push(`a refusal changed state: ${JSON.stringify(before)} → ${JSON.stringify(after)}`);
    }
    if (Object.keys(Object.prototype).length > 0 || ({} as Json).polluted !== undefined) problems.push('Object.prototype polluted');
    checks++;
    if (problems.length) {
      violations++;
      throw new Error(`${method} ${path} ${typeof body === 'string' ? body.slice(0, 300) : ''}\n → ${a.status} ${a.body.slice(0, 300)}\n${problems.join('\n')}`);
    }
    return a;
  }

  // ---- arbitraries ----
  const hostileString = fc.oneof(
    fc.string(),
    fc.string({ unit: 'grapheme' }),
    fc.string({ unit: 'binary' }),
    fc.constantFrom('../../etc/passwd', '..\\..\\boot.ini', 'a\u0000b', '%00', '\u202etxt.exe', 'CON', '.', '', ' ', 'x'.repeat(70_000), '<script>alert(1)</script>', "'; DROP TABLE files; --", '__proto__', 'constructor'),
  );
  const hostileNumber = fc.oneof(
    fc.integer(),
    fc.double(),
    fc.bigInt().map((b) => Number(b)),
    fc.constantFrom(0, -1, 1, 2 ** 53, 2 ** 53 + 2, 1e308, -1e308, 5e-324, 5 * 1024 ** 3, 5 * 1024 ** 3 + 1, 10 * 1024 ** 4),
  );
  const anyValue = fc.oneof(hostileString, hostileNumber, fc.boolean(), fc.constant(null), fc.jsonValue({ maxDepth: 3 }));
  const createBody = fc.record(
    {
      filename: fc.oneof(hostileString, anyValue),
      contentType: fc.oneof(fc.constantFrom('image/png', 'application/pdf', 'text/html', 'IMAGE/PNG', 'image/png; charset=utf-8', 'application/x-msdownload', '*/*'), hostileString, anyValue),
      size: fc.oneof(hostileNumber, anyValue),
      checksumSha256: fc.oneof(fc.base64String(), hostileString, anyValue),
      metadata: fc.oneof(fc.dictionary(hostileString, anyValue, { maxKeys: 5 }), anyValue),
      method: fc.oneof(fc.constantFrom('put', 'post', 'multipart', 'PUT', 'Multipart'), hostileString, anyValue),
      fingerprint: fc.oneof(hostileString, anyValue),
      [randomUUID()]: anyValue,
    },
    { requiredKeys: [] },
  );
  const partsBody = fc.record(
    {
      partNumbers: fc.oneof(fc.array(fc.oneof(fc.integer({ min: -5, max: 10_005 }), hostileNumber), { maxLength: 20 }), anyValue),
      checksumsSha256: fc.oneof(fc.dictionary(fc.oneof(fc.integer({ min: -1, max: 10_001 }).map(String), hostileString), fc.oneof(fc.base64String(), hostileString), { maxKeys: 5 }), anyValue),
    },
    { requiredKeys: [] },
  );

  test('POST /v1/uploads: arbitrary bodies', async () => {
    await fc.assert(fc.asyncProperty(createBody, async (b) => void (await check('POST', '/v1/uploads', JSON.stringify(b)))), { numRuns: RUNS });
  });

  test('POST /v1/uploads: arbitrary JSON values and raw text (malformed JSON)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.jsonValue().map((v) => JSON.stringify(v) ?? 'null'), fc.string({ unit: 'binary' })), async (s) => void (await check('POST', '/v1/uploads', s))),
      { numRuns: RUNS },
    );
  });

  test('POST /v1/uploads/:id/parts: arbitrary bodies on a real and an unknown upload', async () => {
    await fc.assert(
      fc.asyncProperty(partsBody, fc.boolean(), async (b, real) => void (await check('POST', `/v1/uploads/${real ? multipartId : randomUUID()}/parts`, JSON.stringify(b)))),
      { numRuns: RUNS },
    );
  });

  test('query strings and path ids of every GET/DELETE/complete route', async () => {
    const keys = fc.constantFrom('status', 'cursor', 'limit', 'fingerprint', 'redirect', 'disposition', '__proto__', 'constructor', 'status[]', 'limit[$gt]');
    // Values are capped: a URL over Node's 16 KiB header limit is refused by the HTTP layer (431), tested below.
    const query = fc.dictionary(keys, fc.oneof(hostileString.map((s) => s.slice(0, 2000)), hostileNumber.map(String)), { maxKeys: 4 });
    const route = fc.constantFrom('GET /v1/files', 'GET /v1/uploads', 'GET /v1/files/{id}', 'GET /v1/files/{id}/download', 'GET /v1/uploads/{id}/parts', 'POST /v1/uploads/{id}/complete', 'DELETE /v1/uploads/{id}', 'DELETE /v1/files/{id}', 'GET /v1/usage');
    const id = fc.oneof(fc.uuid().map(String), fc.string({ maxLength: 200 }), fc.constant(multipartId));
    await fc.assert(
      fc.asyncProperty(route, id, query, async (r, i, q) => {
        const [method, tpl] = r.split(' ') as [string, string];
        // Never abort or delete the one real upload the parts property uses.
        const safeId = i === multipartId && method === 'DELETE' ? randomUUID() : i;
        const qs = new URLSearchParams(q as Record<string, string>).toString();
        const path = tpl.replace('{id}', encodeURIComponent(safeId)) + (qs ? `?${qs}` : '');
        await check(method, path, method === 'POST' ? '{}' : undefined);
      }),
      { numRuns: RUNS },
    );
  });

  test('POST /v1/events/s3: arbitrary notifications', async () => {
    const record = fc.record(
      {
        eventName: fc.oneof(fc.constantFrom('ObjectCreated:Put', 'ObjectRemoved:Delete', 's3:ObjectCreated:CompleteMultipartUpload'), hostileString),
        s3: fc.oneof(
          fc.record({ bucket: fc.record({ name: fc.oneof(fc.constant(app?.config.s3.bucket ?? 'b'), hostileString) }), object: fc.record({ key: fc.oneof(fc.constant(`workspaces/${ws}/files/${randomUUID()}.png`), hostileString), size: fc.oneof(hostileNumber, anyValue) }, { requiredKeys: [] }) }, { requiredKeys: [] }),
          anyValue,
        ),
      },
      { requiredKeys: [] },
    );
    const body = fc.oneof(fc.record({ Records: fc.oneof(fc.array(record, { maxLength: 5 }), anyValue) }), fc.jsonValue().map((v) => v));
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const a = await check('POST', `/v1/events/s3?secret=${EVENTS_SECRET}`, JSON.stringify(b) ?? 'null');
        expect(a.status).toBeLessThan(500);
      }),
      { numRuns: Math.max(20, Math.floor(RUNS / 2)) },
    );
  });

  // ---- header and body abuse (example-based) ----
  const valid = JSON.stringify({ filename: 'a.png', contentType: 'image/png', size: 10 });
  test('prototype pollution keys are refused or ignored, never applied', async () => {
    for (const body of [
      `{"__proto__":{"polluted":1},"filename":"a.png","contentType":"image/png","size":10}`,
      `{"constructor":{"prototype":{"polluted":1}},"filename":"a.png","contentType":"image/png","size":10}`,
      `{"filename":"a.png","contentType":"image/png","size":10,"metadata":{"__proto__":{"polluted":1}}}`,
      `{"filename":"a.png","contentType":"image/png","size":10,"metadata":{"constructor":{"prototype":{"polluted":1}}}}`,
      `{"partNumbers":[1],"checksumsSha256":{"__proto__":"x"}}`,
    ]) {
      const a = await check('POST', body.includes('partNumbers') ? `/v1/uploads/${multipartId}/parts` : '/v1/uploads', body);
      expect(a.status).toBeLessThan(500);
    }
    expect(({} as Json).polluted).toBeUndefined();
  });

  test('JSON bombs, huge numbers, invalid UTF-8, wrong and missing content types, oversized bodies', async () => {
    const deepArr = '['.repeat(100_000) + ']'.repeat(100_000);
    const deepObj = '{"a":'.repeat(40_000) + '1' + '}'.repeat(40_000);
    const deepMeta = `{"filename":"a.png","contentType":"image/png","size":10,"metadata":{"x":${'['.repeat(50_000)}${']'.repeat(50_000)}}}`;
    const deepMeta2 = `{"filename":"a.png","contentType":"image/png","size":10,"metadata":{"x":${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}}}`;
    const wideMeta = JSON.stringify({ filename: 'a.png', contentType: 'image/png', size: 10, metadata: Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, i])) });
    const cases: [string, string | Buffer, Record<string, string>?][] = [
      ['deep array', deepArr],
      ['deep object', deepObj],
      ['deep metadata array', deepMeta],
      ['deep metadata object', deepMeta2],
      ['wide metadata', wideMeta],
      ['huge number', `{"filename":"a.png","contentType":"image/png","size":1${'0'.repeat(400)}}`],
      ['negative huge', `{"filename":"a.png","contentType":"image/png","size":-1e400}`],
      ['float size', `{"filename":"a.png","contentType":"image/png","size":10.5}`],
      ['exponent size', `{"filename":"a.png","contentType":"image/png","size":1e1}`],
      ['invalid UTF-8 in a string', Buffer.concat([Buffer.from('{"filename":"a'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('.png","contentType":"image/png","size":10}')])],
      ['overlong UTF-8 slash', Buffer.concat([Buffer.from('{"filename":"..'), Buffer.from([0xc0, 0xaf]), Buffer.from('x.png","contentType":"image/png","size":10}')])],
      ['lone surrogate escape', `{"filename":"\\ud800.png","contentType":"image/png","size":10}`],
      ['NUL escape', `{"filename":"a\\u0000.png","contentType":"image/png","size":10,"metadata":{"k\\u0000":"v\\u0000"}}`],
      ['UTF-16 BOM', Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(valid)])],
      ['UTF-8 BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(valid)])],
      ['text/plain', valid, { 'content-type': 'text/plain' }],
      ['form', 'filename=a.png&size=10', { 'content-type': 'application/x-www-form-urlencoded' }],
      ['multipart', '--x\r\n\r\n', { 'content-type': 'multipart/form-data; boundary=x' }],
      ['json utf-16 charset', valid, { 'content-type': 'application/json; charset=utf-16' }],
      ['json garbage params', valid, { 'content-type': 'application/json;;;===;charset' }],
      ['empty body', '', {}],
      ['whitespace body', '   \n', {}],
      ['null body', 'null', {}],
      ['array body', '[]', {}],
      ['string body', '"x"', {}],
      ['duplicate keys', `{"size":10,"size":-1,"filename":"a.png","contentType":"image/png"}`],
      ['oversized body (1 MiB)', JSON.stringify({ filename: 'a.png', contentType: 'image/png', size: 10, metadata: { x: 'y'.repeat(1024 * 1024) } })],
    ];
    for (const [name, body, headers] of cases) {
      const a = await check('POST', '/v1/uploads', body, headers ?? {});
      expect(a.status, name).toBeLessThan(500);
    }
  });

  test('oversized, duplicated and broken headers: no 5xx, nothing changes', async () => {
    const answers: [string, number][] = [];
    const tryRaw = async (name: string, headers: Record<string, string | string[]>, body: string = valid) => {
      cases++;
      let a: RawAnswer;
      const snap = await snapshot();
      try {
        a = await raw(app.baseUrl, { method: 'POST', path: '/v1/uploads', headers: { 'content-type': 'application/json', ...headers }, body });
      } catch (err) {
        // The server may close the connection on a header it refuses at the HTTP layer: not a crash.
        answers.push([name, -1]);
        expect(String(err), name).toMatch(/socket hang up|ECONNRESET|EPIPE|Parse Error/);
        return;
      }
      answers.push([name, a.status]);
      if (a.status >= 400) expect(await snapshot(), `${name} changed state`).toEqual(snap);
      if (a.status >= 400) expect(isErrorShape(JSON.parse(a.body)), `${name}: ${a.status} ${a.body}`).toBe(true);
    };
    await tryRaw('20 KiB header', { authorization: `Bearer ${token}`, 'x-big': 'a'.repeat(20 * 1024) });
    await tryRaw('20 KiB bearer', { authorization: `Bearer ${'a'.repeat(20 * 1024)}` });
    await tryRaw('8 KiB bearer', { authorization: `Bearer ${'a'.repeat(8 * 1024)}` });
    await tryRaw('two authorizations', { authorization: [`Bearer ${token}`, `Bearer ${token}`] });
    await tryRaw('basic auth', { authorization: 'Basic dXNlcjpwYXNz' });
    await tryRaw('bearer latin-1', { authorization: `Bearer ${token}\u00ff` });
    await tryRaw('lying content-length', { authorization: `Bearer ${token}`, 'content-length': '5' });
    await tryRaw('x-request-id injection', { authorization: `Bearer ${token}`, 'x-request-id': 'a'.repeat(8000) });
    cases++;
    const longUrl = await raw(app.baseUrl, { method: 'GET', path: `/v1/files?status=${'x'.repeat(20_000)}`, headers: { authorization: `Bearer ${token}` } }).catch(() => ({ status: -1 }));
    expect([431, 414, 400, -1]).toContain(longUrl.status);
    await tryRaw('many headers', { authorization: `Bearer ${token}`, ...Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`x-h${i}`, 'v'])) });
    for (const [name, status] of answers) expect(status, name).toBeLessThan(500);
    // The server still answers normally.
    expect((await send('GET', '/v1/usage')).status).toBe(200);
  });
});
