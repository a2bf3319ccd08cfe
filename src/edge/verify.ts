// Verification of CloudFront-format signed URLs and signed cookies. No I/O; the clock is passed in.
import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import {
  cannedPolicy,
  cfBase64Decode,
  isSigningParam,
  matchesResourcePattern,
  type SigningParam,
} from '../cdn/cloudfront-format.ts';

export type PublicKeyMap = ReadonlyMap<string, KeyObject>;

/** Accepts PEM public keys (SPKI or PKCS#1) or private keys (the public half is derived). */
export function loadPublicKeys(keys: Record<string, string | Buffer>): PublicKeyMap {
  const map = new Map<string, KeyObject>();
  for (const [id, pem] of Object.entries(keys)) {
    const key = createPublicKey(pem);
    if (key.asymmetricKeyType !== 'rsa') throw new Error(`edge: key ${id} is not an RSA key`);
    map.set(id, key);
  }
  return map;
}

export interface SplitUrl {
  /** Raw path as received (percent-encoded). */
  rawPath: string;
  /** Raw query without the signing parameters, in the original order (no leading `?`). */
  rawQuery: string;
  /** Signing parameters from the query string (decoded). null when one is repeated. */
  signing: Partial<Record<SigningParam, string>> | null;
}

/** Splits a request target (`/path?query`) into the resource part and the signing parameters. */
export function splitRequestTarget(target: string): SplitUrl {
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const query = q === -1 ? '' : target.slice(q + 1);
  const kept: string[] = [];
  let signing: Partial<Record<SigningParam, string>> | null = {};
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const rawName = eq === -1 ? part : part.slice(0, eq);
    let name: string;
    try {
      name = decodeURIComponent(rawName);
    } catch {
      kept.push(part);
      continue;
    }
    if (isSigningParam(name)) {
      if (signing && name in signing) signing = null;
      let value = eq === -1 ? '' : part.slice(eq + 1);
      try {
        value = decodeURIComponent(value);
      } catch {
        signing = null;
      }
      if (signing) signing[name] = value;
    } else {
      kept.push(part);
    }
  }
  return { rawPath, rawQuery: kept.join('&'), signing };
}

export interface Credentials {
  expires?: string;
  policy?: string;
  signature?: string;
  keyPairId?: string;
  hashAlgorithm?: string;
}

export type VerifyResult =
  | {
      ok: true;
      expiresEpoch: number;
      keyPairId: string;
      /**
       * The signature covers this exact URL, query string included: a canned policy, or a custom policy whose
       * Resource is the URL itself. False when a wildcard (`*`, `?`) let the URL match: then nothing in the query
       * string (e.g. `response-*` parameters) was signed, and it must not be trusted.
       */
      exact: boolean;
    }
  | { ok: false; reason: string };

function deny(reason: string): VerifyResult {
  return { ok: false, reason };
}

function epochOf(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && /^\d{1,12}$/.test(v)) return Number(v);
  return null;
}

function ipAllowed(cidr: string, clientIp: string | undefined): boolean {
  if (!clientIp) return false;
  const ip = clientIp.startsWith('::ffff:') && isIP(clientIp.slice(7)) === 4 ? clientIp.slice(7) : clientIp;
  const fam = isIP(ip);
  if (!fam) return false;
  const [addr, prefixText] = cidr.split('/');
  const addrFam = isIP(addr ?? '');
  if (!addrFam || addrFam !== fam) return false;
  const prefix = prefixText === undefined ? (fam === 4 ? 32 : 128) : Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > (fam === 4 ? 32 : 128)) return false;
  const bl = new BlockList();
  bl.addSubnet(addr!, prefix, fam === 4 ? 'ipv4' : 'ipv6');
  return bl.check(ip, fam === 4 ? 'ipv4' : 'ipv6');
}

/**
 * Verifies credentials (from the query string or cookies) for `resource`, the full request URL without signing
 * parameters. Canned policy: the policy is rebuilt from `resource` and Expires, so any change to the URL breaks the
 * signature. Custom policy: the signature covers the policy, whose Resource pattern must match `resource`.
 */
export function verifySignedRequest(
  args: (
    | { resource: string }
    | {
        /** `scheme://host[:port]`, no path (the caller validates the host). */
        origin: string;
        /** Raw path (starting with `/`) plus `?query` when there is one: the part that names the object. */
        path: string;
      }
  ) & {
    creds: Credentials;
    keys: PublicKeyMap;
    now: Date;
    clientIp?: string;
  },
): VerifyResult {
  const { creds, keys, now } = args;
  const target = 'resource' in args ? splitResource(args.resource) : { origin: args.origin, path: args.path };
  const resource = target.origin + target.path;
  if (!creds.signature || !creds.keyPairId) return deny('missing signature');
  const key = keys.get(creds.keyPairId);
  if (!key) return deny('unknown key pair id');
  const sig = cfBase64Decode(creds.signature);
  if (!sig || sig.length === 0) return deny('malformed signature');
  const alg = creds.hashAlgorithm === undefined || creds.hashAlgorithm === '' ? 'SHA1' : creds.hashAlgorithm;
  if (alg !== 'SHA1' && alg !== 'SHA256') return deny('unsupported hash algorithm');
  const nowEpoch = now.getTime() / 1000;

  if (creds.policy !== undefined && creds.expires !== undefined) return deny('both Policy and Expires');
  if (creds.policy === undefined) {
    if (creds.expires === undefined) return deny('missing Expires or Policy');
    const expires = epochOf(creds.expires);
    if (expires === null) return deny('malformed Expires');
    const policy = cannedPolicy(resource, expires);
    if (!cryptoVerify(alg === 'SHA1' ? 'RSA-SHA1' : 'RSA-SHA256', Buffer.from(policy, 'utf8'), key, sig)) {
      return deny('bad signature');
    }
    if (nowEpoch >= expires) return deny('expired');
    return { ok: true, expiresEpoch: expires, keyPairId: creds.keyPairId, exact: true };
  }

  const policyBytes = cfBase64Decode(creds.policy);
  if (!policyBytes) return deny('malformed policy');
  if (!cryptoVerify(alg === 'SHA1' ? 'RSA-SHA1' : 'RSA-SHA256', policyBytes, key, sig)) return deny('bad signature');
  let doc: unknown;
  try {
    doc = JSON.parse(policyBytes.toString('utf8'));
  } catch {
    return deny('malformed policy');
  }
  const statements = (doc as { Statement?: unknown })?.Statement;
  if (!Array.isArray(statements) || statements.length !== 1) return deny('policy must have exactly one statement');
  const st = statements[0] as { Resource?: unknown; Condition?: Record<string, Record<string, unknown>> };
  // A policy without Resource would grant every object; this edge requires one.
  if (typeof st?.Resource !== 'string' || st.Resource === '') return deny('policy without Resource');
  // Origin and path are matched separately: a `*` in the host part of the pattern can never absorb a path, and the
  // path part always comes from the path actually requested (which alone decides the object key).
  const pattern = splitResource(st.Resource);
  if (!matchesResourcePattern(pattern.origin, target.origin) || !matchesResourcePattern(pattern.path, target.path)) {
    return deny('resource not covered by policy');
  }
  const cond = st.Condition ?? {};
  const known = new Set(['DateLessThan', 'DateGreaterThan', 'IpAddress']);
  for (const k of Object.keys(cond)) if (!known.has(k)) return deny(`unsupported condition ${k}`);
  const dlt = epochOf(cond.DateLessThan?.['AWS:EpochTime']);
  if (dlt === null) return deny('policy without DateLessThan');
  if (nowEpoch >= dlt) return deny('expired');
  if (cond.DateGreaterThan !== undefined) {
    const dgt = epochOf(cond.DateGreaterThan['AWS:EpochTime']);
    if (dgt === null) return deny('malformed DateGreaterThan');
    if (nowEpoch < dgt) return deny('not yet valid');
  }
  if (cond.IpAddress !== undefined) {
    const cidr = cond.IpAddress['AWS:SourceIp'];
    if (typeof cidr !== 'string' || !ipAllowed(cidr, args.clientIp)) return deny('source ip not allowed');
  }
  return { ok: true, expiresEpoch: dlt, keyPairId: creds.keyPairId, exact: st.Resource === resource };
}

/**
 * Splits a URL (or a Resource pattern) into origin (`scheme://authority`) and path (`/…?query`, possibly empty) at
 * the first `/` after `://`. A pattern whose authority part ends in `*` and that has no path (`https://*`) keeps
 * that `*` for the path as well, as a whole-URL match would (so a pattern `*` still means everything).
 */
export function splitResource(url: string): { origin: string; path: string } {
  const sep = url.indexOf('://');
  const slash = url.indexOf('/', sep === -1 ? 0 : sep + 3);
  if (slash === -1) return { origin: url, path: url.endsWith('*') ? '*' : '' };
  return { origin: url.slice(0, slash), path: url.slice(slash) };
}

/** Parses a Cookie header into name → value (first occurrence wins; duplicates of CloudFront cookies → null). */
export function cloudFrontCookies(header: string | undefined): Credentials | null {
  if (!header) return null;
  const found: Record<string, string> = {};
  let dup = false;
  for (const piece of header.split(';')) {
    const eq = piece.indexOf('=');
    if (eq === -1) continue;
    const name = piece.slice(0, eq).trim();
    if (!name.startsWith('CloudFront-')) continue;
    const value = piece.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    if (name in found) dup = true;
    found[name] = value;
  }
  if (!('CloudFront-Signature' in found)) return null;
  if (dup) return { signature: '' };
  return {
    expires: found['CloudFront-Expires'],
    policy: found['CloudFront-Policy'],
    signature: found['CloudFront-Signature'],
    keyPairId: found['CloudFront-Key-Pair-Id'],
    hashAlgorithm: found['CloudFront-Hash-Algorithm'],
  };
}
