// The CloudFront signed-URL format, shared by the signers (src/cdn) and the verifying edge (src/edge). Pure.
// https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-signed-urls.html

/** Query parameters (and, prefixed with `CloudFront-`, cookies) that carry the signature; never part of the resource. */
export const SIGNING_PARAMS = ['Expires', 'Policy', 'Signature', 'Key-Pair-Id', 'Hash-Algorithm'] as const;
export type SigningParam = (typeof SIGNING_PARAMS)[number];
const SIGNING_PARAM_SET: ReadonlySet<string> = new Set(SIGNING_PARAMS);
export function isSigningParam(name: string): name is SigningParam {
  return SIGNING_PARAM_SET.has(name);
}

/** CloudFront's URL-safe base64: `+` → `-`, `=` → `_`, `/` → `~`. */
export function cfBase64Encode(data: Buffer | string): string {
  const b = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return b.toString('base64').replace(/[+=/]/g, (c) => (c === '+' ? '-' : c === '=' ? '_' : '~'));
}

/** Inverse of cfBase64Encode; returns null for anything that is not strictly CloudFront base64. */
export function cfBase64Decode(text: string): Buffer | null {
  if (!/^[A-Za-z0-9\-~]*_{0,2}$/.test(text) || text.length % 4 !== 0) return null;
  const std = text.replace(/[-_~]/g, (c) => (c === '-' ? '+' : c === '_' ? '=' : '/'));
  const buf = Buffer.from(std, 'base64');
  // Reject non-canonical encodings (would let two strings carry the same bytes).
  if (buf.toString('base64') !== std) return null;
  return buf;
}

/** The canned policy exactly as CloudFront (and botocore) serialise it: no whitespace, this key order. */
export function cannedPolicy(resource: string, expiresEpoch: number): string {
  return JSON.stringify({
    Statement: [{ Resource: resource, Condition: { DateLessThan: { 'AWS:EpochTime': expiresEpoch } } }],
  });
}

export interface CustomPolicyOptions {
  /** Resource pattern; `*` matches any run of characters, `?` exactly one. Defaults to the exact URL. */
  resource?: string;
  /** Not valid before this instant (DateGreaterThan). */
  notBefore?: Date;
  /** IPv4/IPv6 address or CIDR the request must come from (IpAddress / AWS:SourceIp). */
  sourceIp?: string;
}

/** A custom policy statement (one statement, as CloudFront requires). */
export function customPolicy(resource: string, expiresEpoch: number, opts: Omit<CustomPolicyOptions, 'resource'> = {}): string {
  const condition: Record<string, unknown> = { DateLessThan: { 'AWS:EpochTime': expiresEpoch } };
  if (opts.sourceIp) {
    const ip = opts.sourceIp.includes('/') ? opts.sourceIp : `${opts.sourceIp}/${opts.sourceIp.includes(':') ? 128 : 32}`;
    condition.IpAddress = { 'AWS:SourceIp': ip };
  }
  if (opts.notBefore) condition.DateGreaterThan = { 'AWS:EpochTime': Math.floor(opts.notBefore.getTime() / 1000) };
  return JSON.stringify({ Statement: [{ Resource: resource, Condition: condition }] });
}

/** Percent-encodes a path (each segment with encodeURIComponent, `/` kept). Idempotent with the AWS SDK's encoder. */
export function encodeKeyPath(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

/** Query component encoding that the AWS SDK's cloudfront-signer leaves unchanged (encodeURIComponent + `'`). */
export function encodeQueryComponent(value: string): string {
  return encodeURIComponent(value).replace(/'/g, '%27');
}

/**
 * The resource URL for an object key: `<base>/<encoded key>[?name=value&…]`. `base` may carry a path prefix.
 * Query parameters are appended in the given order and become part of what is signed.
 */
export function resourceUrl(baseUrl: string, key: string, query: ReadonlyArray<readonly [string, string]> = []): string {
  const base = baseUrl.replace(/\/+$/, '');
  const qs = query.map(([k, v]) => `${encodeQueryComponent(k)}=${encodeQueryComponent(v)}`).join('&');
  return `${base}/${encodeKeyPath(key)}${qs ? `?${qs}` : ''}`;
}

/** Appends signing parameters in the order AWS documents (and botocore emits). */
export function appendSigningParams(
  resource: string,
  p: { expires?: number; policy?: string; signature: string; keyPairId: string; hashAlgorithm?: string },
): string {
  const parts: string[] = [];
  if (p.expires !== undefined) parts.push(`Expires=${p.expires}`);
  if (p.policy !== undefined) parts.push(`Policy=${p.policy}`);
  parts.push(`Signature=${p.signature}`, `Key-Pair-Id=${encodeQueryComponent(p.keyPairId)}`);
  if (p.hashAlgorithm) parts.push(`Hash-Algorithm=${encodeQueryComponent(p.hashAlgorithm)}`);
  return resource + (resource.includes('?') ? '&' : '?') + parts.join('&');
}

/** Does `resource` match a policy Resource pattern (`*` any run, `?` one character)? Linear two-pointer glob. */
export function matchesResourcePattern(pattern: string, resource: string): boolean {
  const p = Array.from(pattern);
  const s = Array.from(resource);
  let pi = 0;
  let si = 0;
  let star = -1;
  let mark = 0;
  while (si < s.length) {
    if (pi < p.length && (p[pi] === '?' || p[pi] === s[si])) {
      pi++;
      si++;
    } else if (pi < p.length && p[pi] === '*') {
      star = pi++;
      mark = si;
    } else if (star !== -1) {
      pi = star + 1;
      si = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}
