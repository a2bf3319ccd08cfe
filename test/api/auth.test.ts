// Auth variants through the real server: JWKS (asymmetric keys), a custom workspace claim, issuer/audience.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createServer, type Server } from 'node:http';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { startTestApp, randomWorkspaceId, type TestApp } from '../helpers/app.ts';
import { embeddedTarget, type S3Target } from '../helpers/s3-targets.ts';

describe('JWKS auth with a custom workspace claim, issuer and audience', () => {
  let target: S3Target;
  let app: TestApp;
  let jwks: Server;
  let keys: Awaited<ReturnType<typeof generateKeyPair>>;
  let other: Awaited<ReturnType<typeof generateKeyPair>>;

  beforeAll(async () => {
    keys = await generateKeyPair('ES256');
    other = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    jwks = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
    const port = (jwks.address() as { port: number }).port;
    target = embeddedTarget();
    await target.start();
    app = await startTestApp({
      s3Target: { endpoint: target.endpoint, region: target.region, ...target.credentials },
      config: {
        auth: {
          jwtSecret: undefined,
          jwksUrl: `http://127.0.0.1:${port}/.well-known/jwks.json`,
          workspaceClaim: 'org',
          issuer: 'https://idp.example',
          audience: 'stowage',
        },
      },
    });
  });
  afterAll(async () => {
    await app?.close();
    await target?.stop();
    await new Promise((r) => jwks?.close(r));
  });

  async function sign(claims: Record<string, unknown>, opts: { key?: CryptoKey; iss?: string; aud?: string; exp?: number } = {}) {
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setSubject('user-1')
      .setIssuer(opts.iss ?? 'https://idp.example')
      .setAudience(opts.aud ?? 'stowage')
      .setIssuedAt()
      .setExpirationTime(opts.exp ?? Math.floor(Date.now() / 1000) + 600)
      .sign(opts.key ?? keys.privateKey);
  }

  async function usage(token: string) {
    return fetch(`${app.baseUrl}/v1/usage`, { headers: { authorization: `Bearer ${token}` } });
  }

  test('a token signed by the JWKS key with the configured claim is accepted; the uploader is `sub`', async () => {
    const ws = randomWorkspaceId();
    const token = await sign({ org: ws });
    expect((await usage(token)).status).toBe(200);
    const r = await fetch(`${app.baseUrl}/v1/uploads`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ filename: 'a.txt', contentType: 'text/plain', size: 3 }),
    });
    expect(r.status).toBe(201);
    const id = ((await r.json()) as { file: { id: string } }).file.id;
    const row = await app.deps.db.query('SELECT workspace_id, uploader FROM files WHERE id = $1', [id]);
    expect(row.rows[0]).toEqual({ workspace_id: ws, uploader: 'user-1' });
  });

  test.each([
    ['the default claim instead of the configured one', async () => sign({ workspace_id: 'acme' })],
    ['another key', async () => sign({ org: 'acme' }, { key: other.privateKey })],
    ['another issuer', async () => sign({ org: 'acme' }, { iss: 'https://evil.example' })],
    ['another audience', async () => sign({ org: 'acme' }, { aud: 'someone-else' })],
    ['expired', async () => sign({ org: 'acme' }, { exp: Math.floor(Date.now() / 1000) - 120 })],
    ['an HS256 token', async () => app.tokenFor('acme')],
  ])('%s → 401', async (_name, make) => {
    const r = await usage(await make());
    expect(r.status).toBe(401);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
  });
});

describe('verified tokens are remembered only until they expire', () => {
  let target: S3Target;
  let app: TestApp;
  beforeAll(async () => {
    target = embeddedTarget();
    await target.start();
    app = await startTestApp({ s3Target: { endpoint: target.endpoint, region: target.region, ...target.credentials } });
  });
  afterAll(async () => {
    await app?.close();
    await target?.stop();
  });

  test('a token accepted a moment ago is refused once its exp passes; a changed signature is never accepted', async () => {
    const ws = randomWorkspaceId();
    const exp = Math.floor(Date.now() / 1000) + 2;
    const token = await app.tokenFor(ws, { ttlSeconds: exp - Math.floor(Date.now() / 1000) });
    const usage = (t: string) => fetch(`${app.baseUrl}/v1/usage`, { headers: { authorization: `Bearer ${t}` } });
    expect((await usage(token)).status).toBe(200);
    expect((await usage(token)).status).toBe(200);
    const [head, body, sig] = token.split('.');
    const tampered = `${head}.${body}.${sig!.slice(0, -2)}${sig!.endsWith('AA') ? 'BB' : 'AA'}`;
    expect((await usage(tampered)).status).toBe(401);
    await new Promise((r) => setTimeout(r, exp * 1000 - Date.now() + 50));
    const late = await usage(token);
    expect(late.status).toBe(401);
    expect(((await late.json()) as { error: { message: string } }).error.message).toMatch(/expired/i);
  });
});
