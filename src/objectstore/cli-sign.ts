// Creates a bucket at startup (`--bucket`) with a SigV4-signed PUT; 409 BucketAlreadyOwnedByYou is fine.
import { createHash, createHmac } from 'node:crypto';
import { toAmzDate } from './sigv4.ts';

export async function sign(endpoint: string, region: string, c: { accessKeyId: string; secretAccessKey: string }, bucket: string): Promise<void> {
  const u = new URL(endpoint);
  const amzDate = toAmzDate(Date.now());
  const day = amzDate.slice(0, 8);
  const empty = createHash('sha256').update('').digest('hex');
  const creq = ['PUT', `/${bucket}`, '', `host:${u.host}\nx-amz-content-sha256:${empty}\nx-amz-date:${amzDate}\n`, 'host;x-amz-content-sha256;x-amz-date', empty].join('\n');
  const scope = `${day}/${region}/s3/aws4_request`;
  const sts = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(creq).digest('hex')].join('\n');
  const h = (k: string | Buffer, d: string) => createHmac('sha256', k).update(d).digest();
  const key = h(h(h(h('AWS4' + c.secretAccessKey, day), region), 's3'), 'aws4_request');
  const sig = createHmac('sha256', key).update(sts).digest('hex');
  const res = await fetch(`${endpoint}/${bucket}`, {
    method: 'PUT',
    headers: {
      'x-amz-date': amzDate,
      'x-amz-content-sha256': empty,
      authorization: `AWS4-HMAC-SHA256 Credential=${c.accessKeyId}/${scope}, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=${sig}`,
    },
  });
  await res.arrayBuffer();
  if (res.status !== 200 && res.status !== 409) throw new Error(`creating bucket ${bucket}: HTTP ${res.status}`);
}
