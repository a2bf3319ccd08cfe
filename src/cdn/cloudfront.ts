// CloudFront signed URLs and cookies (also used, with a different base URL and key, for the local edge).
import { getSignedCookies, getSignedUrl } from '@aws-sdk/cloudfront-signer';
import { contentDisposition, dispositionOverride } from '../domain/disposition.ts';
import {
  appendSigningParams,
  customPolicy,
  encodeKeyPath,
  resourceUrl,
  type CustomPolicyOptions,
} from './cloudfront-format.ts';
import { roundExpiry } from './expiry.ts';
import type { DownloadSigner, SignDownloadInput, SignedDownload } from './signer.ts';

export interface CloudFrontSignerOptions {
  /** Distribution (or edge) base URL, e.g. https://d111111abcdef8.cloudfront.net (a path prefix is allowed). */
  baseUrl: string;
  keyPairId: string;
  /** PEM (PKCS#1 or PKCS#8) of the RSA private key registered with the key group. */
  privateKey: string | Buffer;
  passphrase?: string;
  /** Expiry rounding window in seconds (default 300). */
  windowSeconds?: number;
  /**
   * Put `response-content-disposition` / `response-content-type` into the signed URL (covered by the signature).
   * The local edge honours them. On CloudFront they only take effect if the distribution forwards the query string
   * to an OAC-signed S3 origin; otherwise the object's stored Content-Disposition metadata is what is served.
   *
   * Without it (strategy `cloudfront`) the object's stored Content-Disposition (the type's default, set at upload)
   * is served, and the URL carries a signed `response-content-disposition` in ONE case only: the request asks for
   * something stricter than what is stored (`?disposition=attachment` on a safe-inline type). That parameter takes
   * effect only when the distribution's origin request policy forwards the query string to the S3 origin.
   */
  responseParams?: boolean;
  algorithm?: 'SHA1' | 'SHA256';
  strategy?: 'cloudfront' | 'edge';
}

export interface SignedCookies {
  /** Cookie name → value (CloudFront-Policy, CloudFront-Signature, CloudFront-Key-Pair-Id). */
  cookies: Record<string, string>;
  /** Resource pattern the policy allows (`<base>/<prefix>*`). */
  resource: string;
  expiresAt: Date;
  /** Ready-made Set-Cookie header values. */
  setCookie(attrs?: { domain?: string; path?: string; secure?: boolean; sameSite?: 'Strict' | 'Lax' | 'None' }): string[];
}

export interface SignCookiesInput {
  /** Key prefix the cookies grant (e.g. the workspace's prefix `ws/<id>/`). */
  prefix: string;
  ttlSeconds: number;
  now: Date;
  notBefore?: Date;
  sourceIp?: string;
}

function extractParam(signed: string, name: string): string | undefined {
  const q = signed.slice(signed.indexOf('?') + 1);
  for (const part of q.split('&')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq) === name) return decodeURIComponent(part.slice(eq + 1));
  }
  return undefined;
}

export class CloudFrontSigner implements DownloadSigner {
  readonly strategy: 'cloudfront' | 'edge';
  readonly baseUrl: string;
  private readonly windowSeconds: number;

  constructor(private readonly opts: CloudFrontSignerOptions) {
    if (!opts.keyPairId) throw new Error('CloudFrontSigner: keyPairId is required');
    if (!opts.privateKey) throw new Error('CloudFrontSigner: privateKey is required');
    const u = new URL(opts.baseUrl);
    if (u.search || u.hash) throw new Error('CloudFrontSigner: baseUrl must not have a query or fragment');
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.windowSeconds = opts.windowSeconds ?? 300;
    this.strategy = opts.strategy ?? 'cloudfront';
  }

  /** The URL that gets signed (without signing parameters). */
  resourceFor(input: Pick<SignDownloadInput, 'key' | 'filename' | 'contentType' | 'disposition'>): string {
    const query: Array<[string, string]> = [];
    if (this.opts.responseParams) {
      const disp = contentDisposition({ filename: input.filename, contentType: input.contentType, requested: input.disposition });
      query.push(['response-content-disposition', disp.header], ['response-content-type', input.contentType]);
    } else if (this.strategy === 'cloudfront') {
      const override = dispositionOverride({ filename: input.filename, contentType: input.contentType, requested: input.disposition });
      if (override !== null) query.push(['response-content-disposition', override]);
    }
    return resourceUrl(this.baseUrl, input.key, query);
  }

  /** Expands a policy resource: full URL patterns as given, otherwise a key pattern under the base URL. */
  policyResource(pattern: string): string {
    if (/^[a-z*][a-z0-9+.*-]*:\/\//i.test(pattern)) return pattern;
    const encoded = encodeKeyPath(pattern.replace(/^\/+/, '')).replace(/%3F/g, '?');
    return `${this.baseUrl}/${encoded}`;
  }

  signResource(resource: string, expiresEpoch: number, policy?: CustomPolicyOptions): string {
    const creds = {
      keyPairId: this.opts.keyPairId,
      privateKey: this.opts.privateKey,
      passphrase: this.opts.passphrase,
      algorithm: this.opts.algorithm,
    };
    let signed: string;
    let policyParam: string | undefined;
    if (policy) {
      const policyJson = customPolicy(policy.resource ? this.policyResource(policy.resource) : resource, expiresEpoch, policy);
      signed = getSignedUrl({ ...creds, url: resource, policy: policyJson });
      policyParam = extractParam(signed, 'Policy');
    } else {
      signed = getSignedUrl({ ...creds, url: resource, dateLessThan: new Date(expiresEpoch * 1000) });
    }
    const sep = resource.includes('?') ? '&' : '?';
    if (!signed.startsWith(resource + sep)) {
      // The SDK re-encodes URLs; our resource is built to be a fixed point of that encoding. Never sign one thing
      // and hand out another.
      throw new Error(`CloudFrontSigner: SDK changed the resource URL (${resource} → ${signed.slice(0, resource.length)})`);
    }
    const signature = extractParam(signed, 'Signature');
    if (!signature) throw new Error('CloudFrontSigner: SDK returned no signature');
    return appendSigningParams(resource, {
      expires: policy ? undefined : expiresEpoch,
      policy: policyParam,
      signature,
      keyPairId: this.opts.keyPairId,
      hashAlgorithm: this.opts.algorithm === 'SHA256' ? 'SHA256' : undefined,
    });
  }

  async sign(input: SignDownloadInput): Promise<SignedDownload> {
    return this.signSync(input);
  }

  signSync(input: SignDownloadInput): SignedDownload {
    const { expiresEpoch, expiresAt } = roundExpiry(input.now, input.ttlSeconds, this.windowSeconds);
    const url = this.signResource(this.resourceFor(input), expiresEpoch, input.policy);
    return { url, expiresAt };
  }

  /** Signed cookies (custom policy) that grant every object under `prefix`, for pages that show many files. */
  signCookies(input: SignCookiesInput): SignedCookies {
    const { expiresEpoch, expiresAt } = roundExpiry(input.now, input.ttlSeconds, this.windowSeconds);
    const prefix = input.prefix.replace(/^\/+/, '');
    if (!prefix || !prefix.endsWith('/') || prefix.includes('*') || prefix.includes('?')) {
      // Without the trailing slash `ws/a*` would also grant `ws/ab/…`.
      throw new Error('signCookies: prefix must be a non-empty literal ending in "/"');
    }
    const resource = `${this.baseUrl}/${encodeKeyPath(prefix)}*`;
    const policy = customPolicy(resource, expiresEpoch, { notBefore: input.notBefore, sourceIp: input.sourceIp });
    const out = getSignedCookies({
      keyPairId: this.opts.keyPairId,
      privateKey: this.opts.privateKey,
      passphrase: this.opts.passphrase,
      algorithm: this.opts.algorithm,
      policy,
    });
    const cookies: Record<string, string> = {};
    for (const [k, v] of Object.entries(out)) if (v !== undefined) cookies[k] = String(v);
    const basePath = new URL(this.baseUrl).pathname.replace(/\/+$/, '');
    const prefixPath = `${basePath}/${encodeKeyPath(prefix)}`;
    const cookiePath = prefixPath.slice(0, prefixPath.lastIndexOf('/') + 1) || '/';
    return {
      cookies,
      resource,
      expiresAt,
      setCookie(attrs = {}) {
        const parts = [`Path=${attrs.path ?? cookiePath}`, `Expires=${expiresAt.toUTCString()}`, 'HttpOnly'];
        if (attrs.domain) parts.push(`Domain=${attrs.domain}`);
        if (attrs.secure ?? true) parts.push('Secure');
        parts.push(`SameSite=${attrs.sameSite ?? 'Lax'}`);
        return Object.entries(cookies).map(([k, v]) => `${k}=${v}; ${parts.join('; ')}`);
      },
    };
  }
}

export function createCloudFrontSigner(opts: CloudFrontSignerOptions): CloudFrontSigner {
  return new CloudFrontSigner(opts);
}
