// Content-type policy: syntax, normalisation, and the safe content-type → key extension mapping.

const TOKEN = "[a-z0-9][a-z0-9!#$&^_.+-]{0,126}";
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}$`);

/**
 * Normalises a declared content type: lower-cased, trimmed, parameters dropped except a `charset` on text types.
 * Returns null when it is not a syntactically valid `type/subtype`.
 */
export function normalizeContentType(raw: unknown): string | null {
  if (typeof raw !== 'string' || raw.length > 255) return null;
  const [essenceRaw, ...params] = raw.split(';');
  const essence = (essenceRaw ?? '').trim().toLowerCase();
  if (!MEDIA_TYPE.test(essence)) return null;
  if (essence.startsWith('text/')) {
    for (const p of params) {
      const m = /^\s*charset\s*=\s*"?([A-Za-z0-9._-]{1,40})"?\s*$/.exec(p);
      if (m) return `${essence}; charset=${m[1]!.toLowerCase()}`;
    }
  }
  return essence;
}

/** The `type/subtype` part without parameters. */
export function essenceOf(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase();
}

const EXTENSIONS: Record<string, string> = {
  'image/png': '.png',
  'image/jpeg': '.jpg',
  'image/gif': '.gif',
  'image/webp': '.webp',
  'image/avif': '.avif',
  'image/heic': '.heic',
  'image/heif': '.heif',
  'image/bmp': '.bmp',
  'image/tiff': '.tif',
  'image/x-icon': '.ico',
  'image/vnd.microsoft.icon': '.ico',
  'image/svg+xml': '.svg',
  'application/pdf': '.pdf',
  'application/json': '.json',
  'application/zip': '.zip',
  'application/gzip': '.gz',
  'application/x-tar': '.tar',
  'application/msword': '.doc',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': '.docx',
  'application/vnd.ms-excel': '.xls',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': '.xlsx',
  'application/vnd.ms-powerpoint': '.ppt',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation': '.pptx',
  'application/vnd.oasis.opendocument.text': '.odt',
  'application/rtf': '.rtf',
  'application/epub+zip': '.epub',
  'text/plain': '.txt',
  'text/csv': '.csv',
  'text/markdown': '.md',
  'text/html': '.html',
  'text/css': '.css',
  'text/xml': '.xml',
  'application/xml': '.xml',
  'video/mp4': '.mp4',
  'video/webm': '.webm',
  'video/quicktime': '.mov',
  'video/x-matroska': '.mkv',
  'audio/mpeg': '.mp3',
  'audio/mp4': '.m4a',
  'audio/ogg': '.ogg',
  'audio/wav': '.wav',
  'audio/x-wav': '.wav',
  'audio/webm': '.weba',
  'audio/flac': '.flac',
  'font/woff': '.woff',
  'font/woff2': '.woff2',
  'font/ttf': '.ttf',
  'font/otf': '.otf',
};

/** The key extension for a content type: from a fixed table, never from user text. '' when unknown. */
export function extensionFor(contentType: string): string {
  return EXTENSIONS[essenceOf(contentType)] ?? '';
}

/** Types a browser could execute or render as a document when served inline from our origin. */
export function isActiveContentType(contentType: string): boolean {
  const e = essenceOf(contentType);
  return (
    e === 'text/html' ||
    e === 'application/xhtml+xml' ||
    e === 'image/svg+xml' ||
    e === 'text/xml' ||
    e === 'application/xml' ||
    e === 'text/javascript' ||
    e === 'application/javascript' ||
    e === 'application/ecmascript' ||
    e.endsWith('+xml')
  );
}
