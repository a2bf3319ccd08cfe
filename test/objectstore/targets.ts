// Runs a block of conformance cases against the embedded store and (when RGW_ENDPOINT is set) Ceph RGW.
import { describe } from 'vitest';
import { embeddedTarget, rgwTarget, RGW_SKIP_MESSAGE, type S3Target } from '../helpers/s3-targets.ts';
import type { ObjectStoreOptions } from '../../src/objectstore/index.ts';

let skipLogged = false;

export function forEachTarget(title: string, body: (t: S3Target) => void, embeddedOptions: Partial<ObjectStoreOptions> = {}): void {
  const rgw = rgwTarget();
  if (!rgw && !skipLogged) {
    skipLogged = true;
    console.log(RGW_SKIP_MESSAGE);
  }
  describe(`${title} [embedded]`, () => body(embeddedTarget(embeddedOptions)));
  describe.skipIf(!rgw)(`${title} [rgw]`, () => {
    if (rgw) body(rgw);
  });
}

/** Records a place where Ceph RGW 16 departs from AWS S3 (the case asserts RGW's behaviour in its branch). */
export function rgwDeviation(t: S3Target, what: string): void {
  if (t.name === 'rgw') console.warn(`RGW deviation: ${what}`);
}

export interface S3ErrorLike {
  name?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number; requestId?: string };
}

/** Awaits a promise expected to reject with an S3 error; returns {code, status}. */
export async function s3Error(p: Promise<unknown>): Promise<{ code: string; status: number; requestId?: string }> {
  try {
    await p;
  } catch (e) {
    const err = e as S3ErrorLike;
    return { code: err.Code ?? err.name ?? 'unknown', status: err.$metadata?.httpStatusCode ?? 0, requestId: err.$metadata?.requestId };
  }
  throw new Error('expected the S3 call to fail');
}

/**
 * Expects an S3 refusal. On RGW a different answer is recorded as a deviation instead of failing; on the embedded store
 * (which follows AWS) it must match exactly.
 */
export async function expectRefusal(t: { name: string }, p: Promise<unknown>, expected: { status: number; code?: string }, what: string) {
  let got: { code: string; status: number };
  try {
    await p;
    got = { code: '(accepted)', status: 200 };
  } catch (e) {
    const err = e as S3ErrorLike;
    got = { code: err.Code ?? err.name ?? 'unknown', status: err.$metadata?.httpStatusCode ?? 0 };
  }
  if (t.name === 'rgw' && (got.status !== expected.status || (expected.code && got.code !== expected.code))) {
    console.warn(`RGW deviation: ${what}: ${got.status} ${got.code} (AWS: ${expected.status} ${expected.code ?? ''})`);
    return got;
  }
  const { expect } = await import('vitest');
  expect(got).toMatchObject(expected);
  return got;
}
