import type { CorsRule } from './store.ts';
import { s3err } from './errors.ts';
import { list, parseXml, text, type XmlNode, el } from './xml.ts';

function wildcardMatch(pattern: string, value: string): boolean {
  const i = pattern.indexOf('*');
  if (i < 0) return pattern === value;
  const pre = pattern.slice(0, i);
  const post = pattern.slice(i + 1);
  return value.length >= pre.length + post.length && value.startsWith(pre) && value.endsWith(post);
}

export function parseCors(body: Buffer): CorsRule[] {
  const root = parseXml(body, 'CORSConfiguration');
  const rules = list(root, 'CORSRule') as XmlNode[];
  if (rules.length === 0 || rules.length > 100) throw s3err('MalformedXML');
  return rules.map((r) => {
    const strs = (n: string) => list(r, n).map((v) => String(v).trim());
    const rule: CorsRule = {
      id: text(r, 'ID'),
      allowedOrigins: strs('AllowedOrigin'),
      allowedMethods: strs('AllowedMethod'),
      allowedHeaders: strs('AllowedHeader').map((h) => h.toLowerCase()),
      exposeHeaders: strs('ExposeHeader'),
    };
    const max = text(r, 'MaxAgeSeconds');
    if (max !== undefined) {
      if (!/^\d+$/.test(max.trim())) throw s3err('MalformedXML');
      rule.maxAgeSeconds = Number(max.trim());
    }
    if (!rule.allowedOrigins.length || !rule.allowedMethods.length) throw s3err('MalformedXML');
    for (const m of rule.allowedMethods) {
      if (!['GET', 'PUT', 'HEAD', 'POST', 'DELETE'].includes(m)) {
        throw s3err('InvalidRequest', `Found unsupported HTTP method in CORS config. Unsupported method is ${m}`);
      }
    }
    for (const o of rule.allowedOrigins) {
      if (o.split('*').length > 2) throw s3err('InvalidRequest', `AllowedOrigin "${o}" can not have more than one wildcard.`);
    }
    return rule;
  });
}

export function corsXml(rules: CorsRule[]): string {
  return rules
    .map(
      (r) =>
        '<CORSRule>' +
        el('ID', r.id) +
        r.allowedHeaders.map((h) => el('AllowedHeader', h)).join('') +
        r.allowedMethods.map((h) => el('AllowedMethod', h)).join('') +
        r.allowedOrigins.map((h) => el('AllowedOrigin', h)).join('') +
        r.exposeHeaders.map((h) => el('ExposeHeader', h)).join('') +
        el('MaxAgeSeconds', r.maxAgeSeconds) +
        '</CORSRule>',
    )
    .join('');
}

/** The first rule that allows origin + method (+ the requested headers, for a preflight). */
export function matchCors(rules: CorsRule[] | undefined, origin: string, method: string, requestHeaders: string[] = []): CorsRule | undefined {
  if (!rules) return undefined;
  return rules.find(
    (r) =>
      r.allowedOrigins.some((o) => wildcardMatch(o, origin)) &&
      r.allowedMethods.includes(method) &&
      requestHeaders.every((h) => r.allowedHeaders.some((p) => wildcardMatch(p, h.toLowerCase()))),
  );
}

/** CORS response headers for a matched rule (as S3 sends them). */
export function corsHeaders(rule: CorsRule, origin: string, preflight: { headers: string[] } | undefined): Record<string, string> {
  const h: Record<string, string> = {};
  const anyOrigin = rule.allowedOrigins.includes('*');
  h['Access-Control-Allow-Origin'] = anyOrigin ? '*' : origin;
  if (!anyOrigin) h['Access-Control-Allow-Credentials'] = 'true';
  h['Vary'] = 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method';
  h['Access-Control-Allow-Methods'] = rule.allowedMethods.join(', ');
  if (preflight && preflight.headers.length) h['Access-Control-Allow-Headers'] = preflight.headers.join(', ');
  if (rule.exposeHeaders.length) h['Access-Control-Expose-Headers'] = rule.exposeHeaders.join(', ');
  if (rule.maxAgeSeconds !== undefined) h['Access-Control-Max-Age'] = String(rule.maxAgeSeconds);
  return h;
}
