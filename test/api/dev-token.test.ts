// GET /web/dev-token (the upload page's token under `stowage start`): loopback only, by address AND by the name the
// browser used, so that a page of another origin re-pointed at 127.0.0.1 (DNS rebinding) cannot read it.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { apiTargets } from './support.ts';

function get(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('dev token for the upload page', () => {
  let app: TestApp;
  let stop: () => Promise<void>;
  beforeAll(async () => {
    const s = await apiTargets()[0]!.start();
    stop = s.stop;
    app = await startTestApp({ s3Target: s.target, server: { devPageToken: async () => ({ token: 'dev-token-value', workspace: 'dev' }) } });
  });
  afterAll(async () => {
    await app?.close();
    await stop?.();
  });

  it.each([
    [{ host: '127.0.0.1:3000' }, 200],
    [{ host: 'localhost:3000', 'sec-fetch-site': 'same-origin' }, 200],
    [{ host: '[::1]:3000' }, 200],
    [{ host: 'evil.example:3000' }, 404],
    [{ host: 'localhost.evil.example' }, 404],
    [{ host: '127.0.0.1:3000', 'sec-fetch-site': 'cross-site' }, 404],
  ])('Host / Sec-Fetch-Site %j → %i', async (headers, status) => {
    expect(await get(`${app.baseUrl}/web/dev-token`, headers)).toBe(status);
  });
});
