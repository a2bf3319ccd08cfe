// /openapi.json is a structurally valid OpenAPI 3.1 document listing every route the server registered (compared with
// Fastify's own route table), and /docs renders it as a self-contained page.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { embeddedTarget } from '../helpers/s3-targets.ts';

let app: TestApp;
let stopTarget: (() => Promise<void>) | undefined;

beforeAll(async () => {
  const t = embeddedTarget();
  await t.start();
  stopTarget = () => t.stop();
  app = await startTestApp({ s3Target: { endpoint: t.endpoint, region: t.region, ...t.credentials } });
});
afterAll(async () => {
  await app?.close();
  await stopTarget?.();
});

/** Every METHOD + path in Fastify's route table (printRoutes with methods), HEAD-for-GET left out. */
function fastifyRoutes(a: TestApp['app']): Set<string> {
  const out = new Set<string>();
  const text = a.printRoutes({ includeMeta: false });
  const stack: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^([\s│]*)(?:[├└]── )(.*)$/.exec(line);
    if (!m) continue;
    const depth = Math.round(m[1]!.replace(/│/g, ' ').length / 4);
    const rest = m[2]!;
    const mm = /^(.*?)(?: \(([A-Z, ]+)\))?$/.exec(rest)!;
    stack.length = depth;
    stack[depth] = mm[1]!;
    if (mm[2]) {
      const path = stack.join('');
      for (const method of mm[2].split(',').map((s) => s.trim())) out.add(`${method} ${path}`);
    }
  }
  return out;
}

const toOpenApi = (p: string) => p.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\*$/, '{wildcard}');

describe('OpenAPI', () => {
  test('/openapi.json is OpenAPI 3.1 with every registered route', async () => {
    const res = await fetch(`${app.baseUrl}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    const spec = (await res.json()) as {
      openapi: string;
      info: { title: string; version: string };
      paths: Record<string, Record<string, { responses: Record<string, { description: string }>; operationId: string; parameters?: Array<{ name: string; in: string }> }>>;
      components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
    };
    // Structure (OpenAPI 3.1: openapi 3.1.x, info.title + info.version, paths keys start with '/', every operation
    // has responses with descriptions, operationIds unique, path templates declared as path parameters).
    expect(spec.openapi).toMatch(/^3\.1\.\d+$/);
    expect(spec.info.title).toBeTruthy();
    expect(spec.info.version).toBeTruthy();
    const ids = new Set<string>();
    for (const [path, ops] of Object.entries(spec.paths)) {
      expect(path.startsWith('/')).toBe(true);
      for (const [method, op] of Object.entries(ops)) {
        expect(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']).toContain(method);
        expect(Object.keys(op.responses).length).toBeGreaterThan(0);
        for (const r of Object.values(op.responses)) expect(typeof r.description).toBe('string');
        expect(ids.has(op.operationId)).toBe(false);
        ids.add(op.operationId);
        for (const name of [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1])) {
          expect(op.parameters?.some((p) => p.in === 'path' && p.name === name), `${method} ${path}: {${name}}`).toBe(true);
        }
      }
    }
    // Every $ref resolves.
    const text = JSON.stringify(spec);
    for (const m of text.matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)) expect(spec.components.schemas).toHaveProperty(m[1]!);

    // Coverage: every route Fastify knows (HEAD twins of GET routes aside) is in the document.
    const routes = fastifyRoutes(app.app);
    expect(routes.size).toBeGreaterThan(10);
    expect(routes.has('GET /v1/files/:id/download')).toBe(true); // the parser rebuilds full paths
    const documented = new Set(
      Object.entries(spec.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)),
    );
    const missing = [...routes]
      .filter((r) => !r.startsWith('HEAD ') || !routes.has(`GET ${r.slice(5)}`))
      // CORS preflight catch-alls (OPTIONS …/*) are not API operations; the route-table parser also flattens them.
      .filter((r) => !(r.startsWith('OPTIONS ') && r.includes('*')))
      .map((r) => {
        const [method, path] = r.split(' ');
        return `${method} ${toOpenApi(path!)}`;
      })
      .filter((r) => !documented.has(r));
    expect(missing).toEqual([]);
    for (const r of ['POST /v1/uploads', 'GET /v1/files/{id}', 'GET /v1/usage', 'GET /openapi.json', 'GET /docs', 'GET /']) {
      expect(documented.has(r), r).toBe(true);
    }
  });

  test('request schemas come from the validators', async () => {
    const spec = (await (await fetch(`${app.baseUrl}/openapi.json`)).json()) as any;
    const create = spec.paths['/v1/uploads'].post;
    const body = create.requestBody.content['application/json'].schema;
    expect(body.required).toEqual(expect.arrayContaining(['filename', 'contentType', 'size']));
    expect(body.properties.size.type).toBe('integer');
    expect(create.security).toEqual([{ bearerAuth: [] }]);
    expect(spec.paths['/healthz'].get.security).toEqual([]);
  });

  test('/docs is a self-contained HTML page listing the operations', async () => {
    const res = await fetch(`${app.baseUrl}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const html = await res.text();
    expect(html).toContain('/v1/uploads');
    expect(html).toContain('FileView');
    expect(html).not.toMatch(/<script[^>]+src=|https?:\/\/cdn/i);
  });
});
