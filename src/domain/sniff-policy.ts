// Magic-byte policy (pure): given the declared type, the first bytes of the object and what a magic-byte detector
// (file-type) found, decide whether the content contradicts the declaration.

import { essenceOf, isActiveContentType } from './content-types.ts';

/** How many leading bytes the verifier reads (file-type's recommended sample size). */
export const SNIFF_BYTES = 4100;

export type SniffVerdict =
  | { ok: true; detected?: string }
  | { ok: false; reason: 'content_type_mismatch' | 'active_content' | 'executable_content'; detected?: string; message: string };

const EXECUTABLE_MIMES = new Set([
  'application/x-msdownload',
  'application/vnd.microsoft.portable-executable',
  'application/x-elf',
  'application/x-mach-binary',
  'application/x-sharedlib',
  'application/x-executable',
  'application/wasm',
  'application/x-msi',
  'application/java-vm',
  'application/x-java-applet',
  'application/vnd.android.package-archive',
]);

/** Declared types for which a detector must find exactly this type (aliases allowed). */
const STRICT: Record<string, readonly string[]> = {
  'image/png': ['image/png', 'image/apng'],
  'image/jpeg': ['image/jpeg'],
  'image/gif': ['image/gif'],
  'image/webp': ['image/webp'],
  'image/avif': ['image/avif'],
  'image/bmp': ['image/bmp'],
  'image/tiff': ['image/tiff'],
  'image/heic': ['image/heic', 'image/heif', 'image/heic-sequence', 'image/heif-sequence'],
  'image/heif': ['image/heic', 'image/heif', 'image/heic-sequence', 'image/heif-sequence'],
  'image/x-icon': ['image/x-icon', 'image/vnd.microsoft.icon'],
  'image/vnd.microsoft.icon': ['image/x-icon', 'image/vnd.microsoft.icon'],
  'application/pdf': ['application/pdf'],
  'application/zip': ['application/zip'],
  'application/gzip': ['application/gzip'],
  'video/mp4': ['video/mp4', 'video/quicktime', 'video/x-m4v', 'audio/mp4', 'audio/x-m4a'],
  'video/webm': ['video/webm', 'video/x-matroska', 'audio/webm'],
  'video/quicktime': ['video/quicktime', 'video/mp4'],
  'audio/mpeg': ['audio/mpeg'],
  'audio/ogg': ['audio/ogg', 'audio/opus', 'video/ogg'],
  'audio/flac': ['audio/flac', 'audio/x-flac'],
  'audio/wav': ['audio/wav', 'audio/vnd.wave', 'audio/x-wav'],
  'audio/x-wav': ['audio/wav', 'audio/vnd.wave', 'audio/x-wav'],
  'font/woff': ['font/woff'],
  'font/woff2': ['font/woff2'],
};

/** OOXML/ODF/EPUB documents are zip files; file-type may report either. */
const ZIP_CONTAINERS = new Set([
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  'application/vnd.oasis.opendocument.text',
  'application/epub+zip',
]);

const BINARY_FAMILIES = new Set(['image', 'video', 'audio', 'font']);

function decodeHead(head: Uint8Array): string {
  // latin1 keeps a 1:1 byte→char mapping, enough for ASCII markup checks; also handle UTF-16 BOMs crudely.
  let bytes = head;
  if (bytes.length >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))) {
    const filtered = bytes.filter((b) => b !== 0);
    bytes = filtered;
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/** Does the text begin (after whitespace/BOM/comments) with markup a browser would render as HTML, SVG or XML? */
export function looksLikeMarkup(head: Uint8Array): 'html' | 'svg' | 'xml' | null {
  const text = decodeHead(head).replace(/^\ufeff|^\xef\xbb\xbf/, '');
  const lower = text.toLowerCase();
  const trimmed = lower.replace(/^[\s\x00]+/, '');
  if (/<svg[\s>/]/.test(lower) && (trimmed.startsWith('<') || lower.includes('<?xml'))) return 'svg';
  // The WHATWG sniffing table's HTML signatures, anywhere in the sample once the content starts with a tag.
  const htmlSignatures = [
    '<!doctype html', '<html', '<head', '<script', '<iframe', '<h1', '<div', '<font', '<table', '<a ', '<style',
    '<title', '<b>', '<body', '<br', '<p>', '<p ', '<!--', '<img', '<object', '<embed', '<meta', '<form', '<svg',
  ];
  if (trimmed.startsWith('<')) {
    if (htmlSignatures.some((sig) => trimmed.startsWith(sig))) return 'html';
    if (trimmed.startsWith('<?xml')) return 'xml';
  }
  // Script or HTML anywhere in a sample that is otherwise text-like is still dangerous for old sniffers.
  if (/<(script|iframe|object|embed|html|body)[\s>/]/.test(lower) || /javascript:/.test(lower)) return 'html';
  return null;
}

function looksLikeScript(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x23 && head[1] === 0x21; // "#!"
}

export function evaluateSniff(input: {
  declared: string;
  head: Uint8Array;
  detected?: { mime: string; ext?: string } | undefined;
}): SniffVerdict {
  const declared = essenceOf(input.declared);
  const detected = input.detected?.mime?.toLowerCase();
  const family = declared.split('/')[0] ?? '';

  // Executables are refused under any declaration except an explicit octet-stream.
  if (detected && EXECUTABLE_MIMES.has(detected) && declared !== 'application/octet-stream' && declared !== detected) {
    return { ok: false, reason: 'executable_content', detected, message: `Content is an executable (${detected}), declared ${declared}` };
  }
  if (looksLikeScript(input.head) && (BINARY_FAMILIES.has(family) || declared === 'application/pdf')) {
    return { ok: false, reason: 'active_content', message: `Content is a script, declared ${declared}` };
  }

  // Declared active types (HTML, SVG, XML) are what they say; the allow-list decides whether they may be uploaded.
  if (isActiveContentType(declared)) return { ok: true, detected };

  const strict = STRICT[declared];
  if (strict) {
    if (detected && strict.includes(detected)) return { ok: true, detected };
    const markup = looksLikeMarkup(input.head);
    if (markup) {
      return { ok: false, reason: 'active_content', detected: markup, message: `Content is ${markup.toUpperCase()}, declared ${declared}` };
    }
    return {
      ok: false,
      reason: 'content_type_mismatch',
      detected,
      message: detected ? `Content is ${detected}, declared ${declared}` : `Content is not ${declared}`,
    };
  }

  if (ZIP_CONTAINERS.has(declared)) {
    if (detected === declared || detected === 'application/zip') return { ok: true, detected };
    return { ok: false, reason: 'content_type_mismatch', detected, message: `Content is not ${declared}` };
  }

  if (BINARY_FAMILIES.has(family) || declared === 'application/pdf') {
    // Media we have no exact signature for: refuse markup and a detected type from another family.
    const markup = looksLikeMarkup(input.head);
    if (markup) {
      return { ok: false, reason: 'active_content', detected: markup, message: `Content is ${markup.toUpperCase()}, declared ${declared}` };
    }
    if (detected && detected.split('/')[0] !== family) {
      return { ok: false, reason: 'content_type_mismatch', detected, message: `Content is ${detected}, declared ${declared}` };
    }
    return { ok: true, detected };
  }

  if (family === 'text' || declared === 'application/json' || declared === 'application/csv') {
    // Text is served as text with nosniff; binary media or documents masquerading as text are refused.
    if (detected && (BINARY_FAMILIES.has(detected.split('/')[0] ?? '') || detected === 'application/pdf')) {
      return { ok: false, reason: 'content_type_mismatch', detected, message: `Content is ${detected}, declared ${declared}` };
    }
    return { ok: true, detected };
  }

  // application/octet-stream and anything else: served as an attachment; only executables were refused above.
  return { ok: true, detected };
}
