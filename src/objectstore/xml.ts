import { XMLParser } from 'fast-xml-parser';
import { s3err } from './errors.ts';

export const XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';

export function esc(s: string | number | bigint | boolean): string {
  return String(s).replace(/[&<>"']/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&apos;',
  );
}

/** `<Tag>escaped</Tag>`, or '' when the value is undefined. */
export function el(tag: string, value: string | number | bigint | boolean | undefined | null): string {
  return value === undefined || value === null ? '' : `<${tag}>${esc(value)}</${tag}>`;
}

export function doc(root: string, inner: string, ns = true): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root}${ns ? ` xmlns="${XMLNS}"` : ''}>${inner}</${root}>`;
}

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: false,
  removeNSPrefix: true,
  processEntities: true,
  htmlEntities: false,
  ignoreDeclaration: true,
});

export type XmlNode = { [k: string]: unknown };

/** Parses an XML request body; anything unparsable or missing the expected root is MalformedXML. */
export function parseXml(body: Buffer, root: string): XmlNode {
  let parsed: unknown;
  try {
    const text = body.toString('utf8');
    if (!text.trim().startsWith('<')) throw new Error('not xml');
    parsed = parser.parse(text, true);
  } catch {
    throw s3err('MalformedXML');
  }
  const node = (parsed as XmlNode | undefined)?.[root];
  if (node === undefined) throw s3err('MalformedXML');
  if (node === '' || node === null) return {};
  if (typeof node !== 'object') throw s3err('MalformedXML');
  return node as XmlNode;
}

/** Returns the children named `name` as an array (XML lists may have one or many). */
export function list(node: XmlNode | undefined, name: string): unknown[] {
  const v = node?.[name];
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

export function text(node: XmlNode | undefined, name: string): string | undefined {
  const v = node?.[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'object') return Array.isArray(v) ? undefined : '';
  return String(v);
}
