// Filename sanitising. The filename is only ever metadata (never part of a key), but it is shown to people and
// put in Content-Disposition headers, so it must be harmless: no control or bidi-override characters, no paths,
// bounded length.

export const MAX_FILENAME_BYTES = 255;

// C0, DEL, C1 controls; bidi embeddings/overrides/isolates; zero-width and other invisible formatting characters;
// line/paragraph separators; BOM.
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/gu;

function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** Truncates to at most `maxBytes` of UTF-8 without splitting a code point. */
function truncateUtf8(s: string, maxBytes: number): string {
  if (utf8Length(s) <= maxBytes) return s;
  let out = '';
  let bytes = 0;
  for (const ch of s) {
    const b = utf8Length(ch);
    if (bytes + b > maxBytes) break;
    out += ch;
    bytes += b;
  }
  return out;
}

export function sanitizeFilename(raw: unknown, fallback = 'file'): string {
  if (typeof raw !== 'string') return fallback;
  // Bound the work on absurd inputs before any regex runs.
  let s = raw.length > 4096 ? raw.slice(raw.length - 4096) : raw;
  s = s.normalize('NFC');
  // Lone surrogates are not valid text.
  s = s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '');
  s = s.replace(FORBIDDEN, '');
  // Keep only the last path segment (both separators), so "../../x" becomes "x".
  const segments = s.split(/[/\\]/);
  s = segments[segments.length - 1] ?? '';
  // Characters that are awkward in headers and on common file systems.
  s = s.replace(/["*:<>?|]/g, '_');
  s = s.replace(/\s+/g, ' ').trim();
  // No leading dots (hidden files, "." and "..") and no trailing dots or spaces (Windows).
  s = s.replace(/^[.\s]+/, '').replace(/[.\s]+$/, '');
  if (s === '') return fallback;
  if (utf8Length(s) > MAX_FILENAME_BYTES) {
    const dot = s.lastIndexOf('.');
    const ext = dot > 0 && s.length - dot <= 16 ? s.slice(dot) : '';
    const base = ext ? s.slice(0, dot) : s;
    s = truncateUtf8(base, MAX_FILENAME_BYTES - utf8Length(ext)).trimEnd() + ext;
  }
  return s;
}
