import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.ts';

const base = { DATABASE_URL: 'postgres://x@localhost/db', S3_ENDPOINT: 'http://127.0.0.1:9000', AUTH_JWT_SECRET: 'x'.repeat(32) };

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig({ ...base, ...env });
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems.map((p) => p.variable);
  }
}

describe('config: downloads', () => {
  it('defaults to the edge on 127.0.0.1:8788 with a 1 h TTL and 5 min window', () => {
    const c = loadConfig(base);
    expect(c.downloads).toMatchObject({
      strategy: 'edge',
      ttlSeconds: 3600,
      windowSeconds: 300,
      cdnBaseUrl: 'http://127.0.0.1:8788',
      algorithm: 'SHA1',
      edge: { host: '127.0.0.1', port: 8788 },
    });
  });

  it('cloudfront needs a base URL, key pair id and private key — all named at once', () => {
    expect(problems({ DOWNLOAD_STRATEGY: 'cloudfront' })).toEqual(
      expect.arrayContaining(['CDN_BASE_URL', 'CLOUDFRONT_KEY_PAIR_ID', 'CLOUDFRONT_PRIVATE_KEY']),
    );
    const c = loadConfig({
      ...base,
      DOWNLOAD_STRATEGY: 'CloudFront',
      CDN_BASE_URL: 'https://d1.cloudfront.net',
      CLOUDFRONT_KEY_PAIR_ID: 'K1',
      CLOUDFRONT_PRIVATE_KEY_FILE: '/run/secrets/cf.pem',
      DOWNLOAD_URL_TTL_SECONDS: '900',
      DOWNLOAD_URL_WINDOW_SECONDS: '60',
    });
    expect(c.downloads).toMatchObject({ strategy: 'cloudfront', cdnBaseUrl: 'https://d1.cloudfront.net', keyPairId: 'K1', ttlSeconds: 900, windowSeconds: 60 });
  });

  it('rejects bad values', () => {
    expect(problems({ DOWNLOAD_STRATEGY: 'ftp', DOWNLOAD_URL_TTL_SECONDS: '0', CDN_BASE_URL: 'nope', EDGE_PORT: '70000' })).toEqual(
      expect.arrayContaining(['DOWNLOAD_STRATEGY', 'DOWNLOAD_URL_TTL_SECONDS', 'CDN_BASE_URL', 'EDGE_PORT']),
    );
    expect(problems({ DOWNLOAD_STRATEGY: 's3', DOWNLOAD_URL_TTL_SECONDS: String(7 * 86400) })).toContain('DOWNLOAD_URL_TTL_SECONDS');
    expect(problems({ CLOUDFRONT_PRIVATE_KEY: 'a', CLOUDFRONT_PRIVATE_KEY_FILE: 'b' })).toContain('CLOUDFRONT_PRIVATE_KEY_FILE');
  });
});
