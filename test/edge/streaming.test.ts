// The edge streams with backpressure: a client that stops reading stops the edge from pulling more from storage.
// Storage is a stand-in S3 client whose GetObject body is generated lazily and counts what was pulled.
import { generateKeyPairSync } from 'node:crypto';
import { request } from 'node:http';
import { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { createEdgeSigner } from '../../src/cdn/edge.ts';
import { startEdge } from '../../src/edge/server.ts';

const MiB = 1024 * 1024;
const SIZE = 512 * MiB;

describe('edge streaming', () => {
  it('never buffers the object: pulled bytes stay bounded while the client does not read', async () => {
    let pulled = 0;
    let destroyed = false;
    const fake = {
      async send() {
        const chunk = Buffer.alloc(64 * 1024, 1);
        let left = SIZE;
        const body = new Readable({
          read() {
            if (left <= 0) return this.push(null);
            left -= chunk.length;
            pulled += chunk.length;
            this.push(chunk);
          },
          destroy(err, cb) {
            destroyed = true;
            cb(err);
          },
        });
        return { Body: body, ContentLength: SIZE, ContentType: 'application/octet-stream', ETag: '"x"' };
      },
      destroy() {},
    } as unknown as S3Client;
    const kp = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    const edge = await startEdge({ s3: { bucket: 'b' }, client: fake, publicKeys: { K1: kp.publicKey } });
    try {
      const { url } = createEdgeSigner({ baseUrl: edge.url, keyPairId: 'K1', privateKey: kp.privateKey }).signSync({
        key: 'big.bin',
        filename: 'big.bin',
        contentType: 'application/octet-stream',
        ttlSeconds: 60,
        now: new Date(),
      });
      await new Promise<void>((resolve, reject) => {
        const req = request(url, (res) => {
          expect(res.statusCode).toBe(200);
          expect(res.headers['content-length']).toBe(String(SIZE));
          let got = 0;
          res.on('data', (c: Buffer) => {
            got += c.length;
            if (got >= 4 * MiB) {
              res.pause();
              // Give the edge every chance to over-read, then check how much it pulled.
              setTimeout(() => {
                try {
                  expect(pulled).toBeLessThan(64 * MiB);
                  res.destroy();
                  resolve();
                } catch (e) {
                  reject(e);
                }
              }, 1500);
            }
          });
        });
        req.on('error', reject);
        req.end();
      });
      // The client went away: the edge tears down the storage stream.
      for (let i = 0; i < 50 && !destroyed; i++) await new Promise((r) => setTimeout(r, 50));
      expect(destroyed).toBe(true);
      expect(pulled).toBeLessThan(SIZE);
    } finally {
      await edge.close();
    }
  });
});
