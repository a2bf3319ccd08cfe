// Conformance through Debian's awscli (/usr/bin/aws): cp with multipart, ls, rm --recursive, presign — embedded + RGW.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import type { S3Target } from '../helpers/s3-targets.ts';
import { forEachTarget } from './targets.ts';

const AWS = '/usr/bin/aws';
const haveAws = existsSync(AWS);
if (!haveAws) console.log(`awscli cases skipped: ${AWS} not found (apt-get install awscli)`);
const run = promisify(execFile);
const MiB = 1024 * 1024;

describe.skipIf(!haveAws)('awscli', () => {
  forEachTarget('awscli', (t: S3Target) => {
    let dir: string;
    let bucket: string;
    let env: NodeJS.ProcessEnv;
    const aws = async (...args: string[]) => (await run(AWS, ['--endpoint-url', t.endpoint, ...args], { env, maxBuffer: 16 * MiB })).stdout;
    beforeAll(async () => {
      await t.start();
      bucket = await t.createBucket('conf-cli');
      dir = await mkdtemp(path.join(tmpdir(), 'stowage-awscli-'));
      await writeFile(
        path.join(dir, 'config'),
        '[default]\nregion = ' + t.region + '\ns3 =\n  addressing_style = path\n  multipart_threshold = 5MB\n  multipart_chunksize = 5MB\n',
      );
      env = {
        PATH: process.env.PATH,
        HOME: dir,
        AWS_CONFIG_FILE: path.join(dir, 'config'),
        AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'nocreds'),
        AWS_ACCESS_KEY_ID: t.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: t.credentials.secretAccessKey,
        AWS_DEFAULT_REGION: t.region,
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_PAGER: '',
      };
    });
    afterAll(async () => {
      await t.stop();
      await rm(dir, { recursive: true, force: true });
    });

    // awscli starts slowly (seconds per invocation): one invocation per verb.
    it('cp uploads with multipart (ETag …-3), ls shows prefixes, presign serves GET, rm --recursive batch-deletes', async () => {
      const s3 = t.client();
      const data = randomBytes(10 * MiB + 4096);
      const src = path.join(dir, 'big.bin');
      await writeFile(src, data);
      await aws('s3', 'cp', src, `s3://${bucket}/cli/big.bin`, '--only-show-errors');
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'cli/big.bin' }));
      expect(head.ContentLength).toBe(data.length);
      const parts = [data.subarray(0, 5 * MiB), data.subarray(5 * MiB, 10 * MiB), data.subarray(10 * MiB)];
      const expected = createHash('md5').update(Buffer.concat(parts.map((p) => createHash('md5').update(p).digest()))).digest('hex') + '-3';
      expect(head.ETag).toBe(`"${expected}"`);
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'cli/big.bin' }));
      expect(Buffer.from(await got.Body!.transformToByteArray()).equals(data)).toBe(true);
      await Promise.all(Array.from({ length: 12 }, (_, i) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: `cli/sub dir/k${i}`, Body: `v${i}` }))));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'keep/me', Body: 'x' }));
      const ls = await aws('s3', 'ls', `s3://${bucket}/cli/`);
      expect(ls).toMatch(/PRE sub dir\//);
      expect(ls).toMatch(/big\.bin/);
      const url = (await aws('s3', 'presign', `s3://${bucket}/cli/sub dir/k3`, '--expires-in', '120')).trim();
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('v3');
      await aws('s3', 'rm', '--recursive', `s3://${bucket}/cli/`, '--only-show-errors');
      expect((await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'cli/' }))).KeyCount).toBe(0);
      expect((await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'keep/' }))).KeyCount).toBe(1);
    });
  });
});
