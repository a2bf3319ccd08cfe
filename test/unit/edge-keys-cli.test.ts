import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { edgeOptionsFrom } from '../../src/edge/cli.ts';
import { ensureEdgeKeyPair } from '../../src/edge/keys.ts';
import { keyFromPath } from '../../src/edge/server.ts';

const dirs: string[] = [];
async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'stowage-edge-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('ensureEdgeKeyPair', () => {
  it('creates the key pair once (0600) and returns the same one afterwards, also under concurrency', async () => {
    const dir = join(await tmp(), 'data');
    const all = await Promise.all([ensureEdgeKeyPair(dir), ensureEdgeKeyPair(dir), ensureEdgeKeyPair(dir)]);
    expect(new Set(all.map((k) => k.keyPairId)).size).toBe(1);
    expect(all[0]!.keyPairId).toMatch(/^K[A-Z0-9]{13}$/);
    expect(all[0]!.privateKeyPem).toContain('PRIVATE KEY');
    const again = await ensureEdgeKeyPair(dir);
    expect(again).toEqual(all[0]);
    expect((await stat(join(dir, 'edge-keypair.json'))).mode & 0o777).toBe(0o600);
  });

  it('refuses a damaged key file', async () => {
    const dir = await tmp();
    await writeFile(join(dir, 'edge-keypair.json'), '{"keyPairId":"K1"}');
    await expect(ensureEdgeKeyPair(dir)).rejects.toThrow(/malformed/);
  });
});

describe('stowage edge options', () => {
  it('names every problem at once', async () => {
    await expect(edgeOptionsFrom(['--port', 'x'], { CLOUDFRONT_KEY_PAIR_ID: 'K1', EDGE_PUBLIC_URL: 'nope' })).rejects.toThrow(
      /EDGE_PORT[\s\S]*EDGE_PUBLIC_URL[\s\S]*S3_ENDPOINT[\s\S]*CLOUDFRONT_PUBLIC_KEY/,
    );
  });

  it('falls back to the data-directory key pair', async () => {
    const dir = await tmp();
    const o = await edgeOptionsFrom([], { S3_ENDPOINT: 'http://127.0.0.1:9000', STOWAGE_DATA_DIR: dir });
    const pair = await ensureEdgeKeyPair(dir);
    expect(Object.keys(o.publicKeys)).toEqual([pair.keyPairId]);
    expect(o.port).toBe(8788);
    expect(o.s3.bucket).toBe('stowage');
  });

  it('reads --key files and CloudFront variables', async () => {
    const dir = await tmp();
    const pair = await ensureEdgeKeyPair(dir);
    const f = join(dir, 'pub.pem');
    await writeFile(f, pair.publicKeyPem);
    const o = await edgeOptionsFrom(['--key', `KA=${f}`, '--port', '0'], {
      S3_ENDPOINT: 'http://x',
      CLOUDFRONT_KEY_PAIR_ID: 'KB',
      CLOUDFRONT_PUBLIC_KEY_FILE: f,
    });
    expect(Object.keys(o.publicKeys).sort()).toEqual(['KA', 'KB']);
  });
});

describe('keyFromPath', () => {
  it('maps canonical paths and refuses the rest', () => {
    expect(keyFromPath('/a/b%20c/d.txt', '')).toBe('a/b c/d.txt');
    expect(keyFromPath('/files/a/b', '/files')).toBe('a/b');
    expect(keyFromPath('/other/a/b', '/files')).toBeNull();
    expect(keyFromPath('/', '')).toBeNull();
    expect(keyFromPath('/a/../b', '')).toBeNull();
    expect(keyFromPath('/a/%2E%2E/b', '')).toBeNull();
    expect(keyFromPath('/a%2Fb', '')).toBeNull();
    expect(keyFromPath('/a/%00', '')).toBeNull();
    expect(keyFromPath('/a/%E0%A4%A', '')).toBeNull();
  });
});
