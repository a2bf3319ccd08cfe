import { describe, expect, test } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.ts';

const valid = {
  DATABASE_URL: 'postgres://u:p@localhost:5432/db',
  S3_ENDPOINT: 'http://127.0.0.1:9000',
  S3_ACCESS_KEY_ID: 'k',
  S3_SECRET_ACCESS_KEY: 's',
  AUTH_JWT_SECRET: 'x'.repeat(32),
};

function problems(env: Record<string, string>, requireExternal = true): string[] {
  try {
    loadConfig(env, { requireExternal });
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems.map((p) => p.variable).sort();
  }
}

describe('config', () => {
  test('defaults', () => {
    const c = loadConfig(valid);
    expect(c.port).toBe(3000);
    expect(c.host).toBe('127.0.0.1');
    expect(c.s3.bucket).toBe('stowage');
    expect(c.s3.forcePathStyle).toBe(true);
    expect(c.s3.multiObjectDelete).toBe(true);
    expect(c.auth.workspaceClaim).toBe('workspace_id');
    expect(c.uploads.urlTtlSeconds).toBe(900);
    expect(c.workspaceDefaults.allowedContentTypes).toContain('image/png');
  });

  test('parses values', () => {
    const c = loadConfig({
      ...valid,
      PORT: '8080',
      S3_FORCE_PATH_STYLE: 'false',
      S3_MULTI_OBJECT_DELETE: 'false',
      DEFAULT_ALLOWED_CONTENT_TYPES: 'image/*, Application/PDF',
      AUTH_WORKSPACE_CLAIM: 'org_id',
      DEFAULT_QUOTA_BYTES: '1000',
    });
    expect(c.port).toBe(8080);
    expect(c.s3.forcePathStyle).toBe(false);
    expect(c.s3.multiObjectDelete).toBe(false);
    expect(c.workspaceDefaults.allowedContentTypes).toEqual(['image/*', 'application/pdf']);
    expect(c.auth.workspaceClaim).toBe('org_id');
    expect(c.workspaceDefaults.quotaBytes).toBe(1000);
    expect(c.uploads.multipartPartsSignedAtCreate).toBe(100);
    expect(loadConfig({ ...valid, MULTIPART_PARTS_SIGNED_AT_CREATE: '0' }).uploads.multipartPartsSignedAtCreate).toBe(0);
  });

  test('one error names every bad variable', () => {
    const env = {
      ...valid,
      PORT: 'eighty',
      DATABASE_URL: 'mysql://x',
      S3_ENDPOINT: 'not a url',
      AUTH_JWT_SECRET: 'short',
      LOG_LEVEL: 'loud',
      DEFAULT_ALLOWED_CONTENT_TYPES: 'image/png,nonsense',
      S3_FORCE_PATH_STYLE: 'maybe',
    };
    expect(problems(env)).toEqual(
      ['AUTH_JWT_SECRET', 'DATABASE_URL', 'DEFAULT_ALLOWED_CONTENT_TYPES', 'LOG_LEVEL', 'PORT', 'S3_ENDPOINT', 'S3_FORCE_PATH_STYLE'].sort(),
    );
    try {
      loadConfig(env);
    } catch (err) {
      expect((err as Error).message).toMatch(/PORT: must be a whole number/);
    }
  });

  test.each([
    [{}, ['AUTH_JWT_SECRET', 'DATABASE_URL', 'S3_ENDPOINT']],
    [{ ...valid, AUTH_JWKS_URL: 'https://idp.example/jwks.json' }, ['AUTH_JWKS_URL']],
    [{ ...valid, S3_SECRET_ACCESS_KEY: '' }, ['S3_SECRET_ACCESS_KEY']],
    [{ ...valid, UPLOAD_URL_TTL_SECONDS: '600', UPLOAD_PENDING_TTL_SECONDS: '300' }, ['UPLOAD_PENDING_TTL_SECONDS']],
    [{ ...valid, MULTIPART_PARTS_SIGNED_AT_CREATE: '1001' }, ['MULTIPART_PARTS_SIGNED_AT_CREATE']],
  ])('cross-field rules %#', (env, expected) => {
    expect(problems(env as Record<string, string>)).toEqual(expected);
  });

  test('`start` mode does not require the external services', () => {
    expect(problems({}, false)).toEqual([]);
  });
});
