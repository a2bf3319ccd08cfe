// When storage is unreachable: /readyz says so (503) and requests that need storage answer 503 dependency_unavailable.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestApp, randomWorkspaceId, type TestApp } from '../helpers/app.ts';
import { embeddedTarget, type S3Target } from '../helpers/s3-targets.ts';
import { PNG_1x1 } from './support.ts';

describe('storage unavailable', () => {
  let target: S3Target;
  let app: TestApp;
  beforeAll(async () => {
    target = embeddedTarget();
    await target.start();
    app = await startTestApp({ s3Target: { endpoint: target.endpoint, region: target.region, ...target.credentials } });
  });
  afterAll(async () => {
    await app?.close();
    await target?.stop().catch(() => {});
  });

  test('readyz 503 and complete 503 dependency_unavailable; the upload stays pending and usage unchanged', async () => {
    const ws = randomWorkspaceId();
    const created = await app.api(ws, '/v1/uploads', {
      method: 'POST',
      json: { filename: 'x.png', contentType: 'image/png', size: PNG_1x1.length },
    });
    expect(created.status).toBe(201);
    const { file } = (await created.json()) as { file: { id: string } };
    expect((await fetch(`${app.baseUrl}/readyz`)).status).toBe(200);

    await target.stop();

    const ready = await fetch(`${app.baseUrl}/readyz`);
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as { status: string; checks: Record<string, string> };
    expect(body.status).toBe('unavailable');
    expect(body.checks.database).toBe('ok');
    expect(body.checks.storage).not.toBe('ok');

    const done = await app.api(ws, `/v1/uploads/${file.id}/complete`, { method: 'POST' });
    expect(done.status).toBe(503);
    expect(((await done.json()) as { error: { code: string } }).error.code).toBe('dependency_unavailable');

    const after = (await (await app.api(ws, `/v1/files/${file.id}`)).json()) as { file: { status: string } };
    expect(after.file.status).toBe('pending');
    const usage = (await (await app.api(ws, '/v1/usage')).json()) as { reservedBytes: number; pendingCount: number };
    expect(usage).toMatchObject({ reservedBytes: PNG_1x1.length, pendingCount: 1 });
  });
});
