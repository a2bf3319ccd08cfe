// Content-Disposition for downloads (RFC 6266 + RFC 8187 `filename*`). Pure: no I/O, no clock.
//
// Rules:
// - `attachment` always for active or unknown types (HTML, SVG, XML, JavaScript, anything not on SAFE_INLINE_TYPES).
// - `inline` for safe images, PDF, audio and video, unless the caller asks for `attachment`.
// - The header carries an ASCII `filename="…"` fallback and the exact (sanitised) name in `filename*=UTF-8''…`.

export type DispositionType = 'inline' | 'attachment';

/** Types a browser renders without executing anything. Everything else is downloaded. */
export const SAFE_INLINE_TYPES: ReadonlySet<string> = new Set([
  'image/png',
  'image/jpeg',
  'image/pjpeg',
  'image/gif',
  'image/webp',
  'image/avif',
  'image/apng',
  'image/bmp',
  'image/x-icon',
  'image/vnd.microsoft.icon',
  'application/pdf',
]);

const MEDIA_SUBTYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;

/** Lower-cased media type without parameters (`Text/HTML; charset=utf-8` → `text/html`). */
export function essence(contentType: string): string {
  const semi = contentType.indexOf(';');
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

/** True when the type may be shown inline: safe images, PDF, audio/*, video/*. */
export function isSafeInline(contentType: string): boolean {
  const type = essence(contentType);
  if (SAFE_INLINE_TYPES.has(type)) return true;
  const slash = type.indexOf('/');
  if (slash <= 0) return false;
  const top = type.slice(0, slash);
  const sub = type.slice(slash + 1);
  if ((top === 'audio' || top === 'video') && MEDIA_SUBTYPE.test(sub)) {
    // Container formats that can carry markup or scripts are not media.
    return !sub.includes('xml') && !sub.includes('html') && !sub.includes('javascript');
  }
  return false;
}

/** The disposition type that will be sent: the request can only make it stricter, never looser. */
export function dispositionType(contentType: string, requested?: DispositionType | null): DispositionType {
  if (requested === 'attachment') return 'attachment';
  return isSafeInline(contentType) ? 'inline' : 'attachment';
}

const MAX_NAME_CODEPOINTS = 200;
const MAX_FALLBACK_CHARS = 150;
const DEFAULT_NAME = 'download';

// C0/C1 controls, DEL, bidi embeddings/overrides/isolates, zero-width and other invisible format characters,
// line/paragraph separators, BOM.
// eslint-disable-next-line no-control-regex
const UNSAFE_CHARS = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/g;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Cleans a user-supplied filename for use in a header: no path parts, no control or bidi characters, no leading
 * dots, bounded length (extension kept), never empty.
 */
export function cleanFilename(raw: string): string {
  let name = String(raw ?? '')
    .replace(LONE_SURROGATE, '\ufffd')
    .normalize('NFC')
    .replace(UNSAFE_CHARS, '');
  // Keep the last path component only (both separators).
  const lastSep = Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\'));
  if (lastSep !== -1) name = name.slice(lastSep + 1);
  name = name.replace(/\s+/g, ' ').trim().replace(/^[.\s]+/, '').replace(/[.\s]+$/, '');
  if (name === '') return DEFAULT_NAME;
  const cps = Array.from(name);
  if (cps.length > MAX_NAME_CODEPOINTS) {
    const dot = name.lastIndexOf('.');
    const ext = dot > 0 ? Array.from(name.slice(dot)) : [];
    const keepExt = ext.length > 0 && ext.length <= 16 ? ext : [];
    name = cps.slice(0, MAX_NAME_CODEPOINTS - keepExt.length).join('') + keepExt.join('');
  }
  return name;
}

/** ASCII-only fallback for `filename="…"`: diacritics stripped, everything else outside a safe set becomes `_`. */
export function asciiFallback(name: string): string {
  let out = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z0-9 !#$&'()+,\-.=@\[\]^_`{}~]/g, '_')
    .replace(/_{2,}/g, '_')
    .trim();
  out = out.replace(/^[.\s]+/, '');
  if (out.length > MAX_FALLBACK_CHARS) {
    const dot = out.lastIndexOf('.');
    const ext = dot > 0 && out.length - dot <= 16 ? out.slice(dot) : '';
    out = out.slice(0, MAX_FALLBACK_CHARS - ext.length) + ext;
  }
  if (out === '' || /^[_.\s]*$/.test(out.replace(/\.[A-Za-z0-9]+$/, ''))) {
    const ext = /\.[A-Za-z0-9]{1,16}$/.exec(out)?.[0] ?? '';
    return DEFAULT_NAME + ext;
  }
  return out;
}

/** RFC 8187 ext-value encoding (`attr-char` kept, everything else percent-encoded UTF-8). */
export function encodeRfc8187(value: string): string {
  return encodeURIComponent(value.replace(LONE_SURROGATE, '\ufffd')).replace(
    /['()*]/g,
    (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase(),
  );
}

/** Builds the header value: `attachment; filename="report.pdf"; filename*=UTF-8''r%C3%A9port.pdf`. */
export function formatContentDisposition(type: DispositionType, filename: string): string {
  const clean = cleanFilename(filename);
  const fallback = asciiFallback(clean);
  return `${type}; filename="${fallback}"; filename*=UTF-8''${encodeRfc8187(clean)}`;
}

export interface DispositionInput {
  filename: string;
  contentType: string;
  /** What the caller asked for; `inline` is only honoured for safe types. */
  requested?: DispositionType | null;
}

export interface Disposition {
  type: DispositionType;
  /** Full Content-Disposition header value. */
  header: string;
}

export function contentDisposition(input: DispositionInput): Disposition {
  const type = dispositionType(input.contentType, input.requested);
  return { type, header: formatContentDisposition(type, input.filename) };
}

// ---- where the disposition comes from, per download strategy (docs/downloads.md "Which header goes where") ----------

export type DownloadStrategyName = 'edge' | 'cloudfront' | 's3';

/**
 * True when downloads are served with the object's STORED Content-Disposition, so uploads must store it: CloudFront
 * in front of an S3 origin returns what the origin returns. `edge` and `s3` set it per URL (signed `response-*`
 * parameters) and store nothing. A configuration without a downloads section behaves as `s3`.
 */
export function storesDisposition(strategy: DownloadStrategyName | undefined): boolean {
  return strategy === 'cloudfront';
}

/**
 * The Content-Disposition a new object must carry (signed into the presigned PUT, pinned by the POST policy, set at
 * CreateMultipartUpload, and checked at completion), or null when the strategy stores none. Always the default
 * disposition of the type: inline for safe types, attachment otherwise. `filename` is the file's stored (sanitised)
 * name and `contentType` its normalised type — the values the row keeps, so completion recomputes the same header.
 */
export function storedContentDisposition(
  strategy: DownloadStrategyName | undefined,
  file: { filename: string; contentType: string },
): string | null {
  if (!storesDisposition(strategy)) return null;
  return contentDisposition({ filename: file.filename, contentType: file.contentType }).header;
}

/**
 * For a download served with the stored disposition: the header to put in a signed `response-content-disposition`
 * because the request asks for something stricter than what is stored (`?disposition=attachment` on a safe-inline
 * type), or null when the stored value is already right.
 */
export function dispositionOverride(input: DispositionInput): string | null {
  const wanted = contentDisposition(input);
  const stored = dispositionType(input.contentType);
  return wanted.type === stored ? null : wanted.header;
}
