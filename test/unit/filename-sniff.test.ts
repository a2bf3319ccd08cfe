import { describe, expect, test } from 'vitest';
import { fileTypeFromBuffer } from 'file-type';
import { sanitizeFilename, MAX_FILENAME_BYTES } from '../../src/domain/filename.ts';
import { evaluateSniff, looksLikeMarkup } from '../../src/domain/sniff-policy.ts';

describe('sanitizeFilename', () => {
  test.each([
    ['report.pdf', 'report.pdf'],
    ['../../x', 'x'],
    ['/etc/passwd', 'passwd'],
    ['C:\\Users\\me\\cv.docx', 'cv.docx'],
    ['a\u0000b', 'ab'],
    ['evil\u202Efdp.exe', 'evilfdp.exe'],
    ['zero\u200Bwidth', 'zerowidth'],
    ['line\r\nbreak', 'linebreak'],
    ['  spaced   out  ', 'spaced out'],
    ['.hidden', 'hidden'],
    ['..', 'file'],
    ['', 'file'],
    ['trailing...', 'trailing'],
    ['q"u<o>t|e?s*:.txt', 'q_u_o_t_e_s__.txt'],
    ['😀.png', '😀.png'],
    ['e\u0301te.txt', 'éte.txt'],
    ['lone\ud800surrogate', 'lonesurrogate'],
  ])('%j → %j', (raw, expected) => {
    expect(sanitizeFilename(raw)).toBe(expected);
  });

  test('non-strings fall back', () => {
    expect(sanitizeFilename(undefined)).toBe('file');
    expect(sanitizeFilename(42)).toBe('file');
  });

  test('long names are cut to 255 UTF-8 bytes, keeping the extension and whole code points', () => {
    const long = '😀'.repeat(5000) + '.jpeg';
    const s = sanitizeFilename(long);
    expect(Buffer.byteLength(s)).toBeLessThanOrEqual(MAX_FILENAME_BYTES);
    expect(s.endsWith('.jpeg')).toBe(true);
    expect(s).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/);
    expect(sanitizeFilename('a'.repeat(10_000))).toHaveLength(255);
  });
});

async function verdict(declared: string, bytes: Uint8Array) {
  return evaluateSniff({ declared, head: bytes, detected: await fileTypeFromBuffer(bytes) });
}

const PNG = Buffer.from(
  '89504e470d0a1a0a0000000d4948445200000001000000010806000000' +
    '1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082',
  'hex',
);
const JPEG = Buffer.concat([Buffer.from('ffd8ffe000104a46494600010100000100010000', 'hex'), Buffer.alloc(64)]);
const PDF = Buffer.from('%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n');
const ELF = Buffer.concat([Buffer.from('7f454c4602010100', 'hex'), Buffer.alloc(120)]);
const MZ = (() => {
  const b = Buffer.alloc(256);
  b.write('MZ', 0, 'latin1');
  b.writeUInt32LE(0x80, 0x3c);
  b.write('PE\0\0', 0x80, 'latin1');
  return b;
})();
const HTML = Buffer.from('<!doctype html><html><body><script>alert(1)</script></body></html>');
const SVG = Buffer.from('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');

describe('sniff policy', () => {
  test.each([
    ['image/png', PNG, true, undefined],
    ['image/jpeg', JPEG, true, undefined],
    ['application/pdf', PDF, true, undefined],
    ['text/plain', Buffer.from('hello'), true, undefined],
    ['text/csv', Buffer.from('a,b\n1,2\n'), true, undefined],
    ['application/json', Buffer.from('{"a":1}'), true, undefined],
    ['application/octet-stream', ELF, true, undefined],
    ['image/png', HTML, false, 'active_content'],
    ['image/png', SVG, false, 'active_content'],
    ['image/jpeg', PNG, false, 'content_type_mismatch'],
    ['image/png', Buffer.from('plain words'), false, 'content_type_mismatch'],
    ['application/pdf', ELF, false, 'executable_content'],
    ['application/pdf', MZ, false, 'executable_content'],
    ['application/pdf', HTML, false, 'active_content'],
    ['image/png', Buffer.from('#!/bin/sh\nrm -rf /\n'), false, 'active_content'],
    ['text/plain', PNG, false, 'content_type_mismatch'],
    ['text/plain', ELF, false, 'executable_content'],
    ['video/x-custom', HTML, false, 'active_content'],
    ['text/html', HTML, true, undefined],
  ] as const)('declared %s, content %#', async (declared, bytes, ok, reason) => {
    const v = await verdict(declared, bytes);
    expect(v.ok).toBe(ok);
    if (!v.ok) expect(v.reason).toBe(reason);
  });

  test.each([
    ['  \n<!DOCTYPE HTML>', 'html'],
    ['<html>', 'html'],
    ['<?xml version="1.0"?><svg>', 'svg'],
    ['<svg xmlns="x">', 'svg'],
    ['<?xml version="1.0"?><root/>', 'xml'],
    ['hello <script>x</script>', 'html'],
    ['plain text', null],
    ['a < b and c > d', null],
  ])('looksLikeMarkup(%j) = %j', (text, expected) => {
    expect(looksLikeMarkup(Buffer.from(text))).toBe(expected);
  });
});
