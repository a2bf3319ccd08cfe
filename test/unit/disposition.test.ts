import { describe, expect, it } from 'vitest';
import {
  asciiFallback,
  cleanFilename,
  contentDisposition,
  dispositionType,
  encodeRfc8187,
  isSafeInline,
} from '../../src/domain/disposition.ts';

/** Minimal RFC 6266 parser for the header we produce: returns {type, filename, filenameStar}. */
function parse(header: string): { type: string; filename?: string; filenameStar?: string } {
  const [type, ...params] = header.split(/;\s*/);
  const out: { type: string; filename?: string; filenameStar?: string } = { type: type! };
  for (const p of params) {
    const eq = p.indexOf('=');
    const k = p.slice(0, eq);
    const v = p.slice(eq + 1);
    if (k === 'filename') out.filename = v.replace(/^"(.*)"$/, '$1');
    if (k === 'filename*') {
      expect(v.startsWith("UTF-8''")).toBe(true);
      out.filenameStar = decodeURIComponent(v.slice(7));
    }
  }
  return out;
}

describe('disposition type', () => {
  it.each([
    ['text/html', 'attachment'],
    ['text/html; charset=utf-8', 'attachment'],
    ['TEXT/HTML', 'attachment'],
    ['image/svg+xml', 'attachment'],
    ['application/xml', 'attachment'],
    ['text/xml', 'attachment'],
    ['application/xhtml+xml', 'attachment'],
    ['application/javascript', 'attachment'],
    ['text/javascript', 'attachment'],
    ['application/octet-stream', 'attachment'],
    ['text/plain', 'attachment'],
    ['application/json', 'attachment'],
    ['', 'attachment'],
    ['garbage', 'attachment'],
    ['image/png', 'inline'],
    ['image/jpeg', 'inline'],
    ['image/webp', 'inline'],
    ['image/gif', 'inline'],
    ['application/pdf', 'inline'],
    ['audio/mpeg', 'inline'],
    ['video/mp4', 'inline'],
    ['video/webm; codecs="vp9"', 'inline'],
    ['video/x-ms-asx+xml', 'attachment'],
  ])('%s → %s', (type, expected) => {
    expect(dispositionType(type)).toBe(expected);
    expect(isSafeInline(type)).toBe(expected === 'inline');
  });

  it('attachment request always wins; inline request never loosens active types', () => {
    expect(dispositionType('image/png', 'attachment')).toBe('attachment');
    expect(dispositionType('text/html', 'inline')).toBe('attachment');
    expect(dispositionType('image/svg+xml', 'inline')).toBe('attachment');
    expect(dispositionType('application/pdf', 'inline')).toBe('inline');
  });
});

describe('filename encoding', () => {
  it('plain ASCII name', () => {
    expect(contentDisposition({ filename: 'report.pdf', contentType: 'application/pdf' }).header).toBe(
      `inline; filename="report.pdf"; filename*=UTF-8''report.pdf`,
    );
  });

  it('unicode names round-trip through filename* with an ASCII fallback', () => {
    for (const name of ['résumé.pdf', '日本語のファイル.png', 'Ünïcödé 🎉 party.mp4', 'Ελληνικά.txt', 'naïve café.jpg']) {
      const h = contentDisposition({ filename: name, contentType: 'image/png' }).header;
      expect(h).toMatch(/^[\x20-\x7e]+$/); // the header itself is pure ASCII
      const p = parse(h);
      expect(p.filenameStar).toBe(name.normalize('NFC'));
      expect(p.filename).toMatch(/^[\x20-\x7e]+$/);
      expect(p.filename).not.toMatch(/["\\%;/]/);
    }
    expect(parse(contentDisposition({ filename: 'résumé.pdf', contentType: 'application/pdf' }).header).filename).toBe('resume.pdf');
    expect(parse(contentDisposition({ filename: '日本語.png', contentType: 'image/png' }).header).filename).toBe('download.png');
  });

  it('hostile names cannot inject headers, parameters or paths', () => {
    const hostile = [
      'evil"; filename*=UTF-8\'\'pwn.html',
      'a\r\nSet-Cookie: x=1.txt',
      '../../etc/passwd',
      '..\\..\\windows\\system32\\cmd.exe',
      'invoice\u202Efdp.exe',
      '\u0000\u0007bell.txt',
      '....',
      '   ',
      '',
      'x'.repeat(1000) + '.pdf',
      '%2e%2e%2fsecret.txt',
      "it's (a) *test*.txt",
      '\ud800lone.txt',
    ];
    for (const name of hostile) {
      const h = contentDisposition({ filename: name, contentType: 'text/html' }).header;
      expect(h).toMatch(/^attachment; filename="[^"\\]*"; filename\*=UTF-8''[A-Za-z0-9!#$&+\-.^_`|~%]+$/);
      expect(h).not.toMatch(/[\r\n\0]/);
      const p = parse(h);
      expect(p.filenameStar).not.toMatch(/[\/\\\u0000-\u001f\u202e]/);
      expect(p.filenameStar!.length).toBeGreaterThan(0);
      expect(Array.from(p.filenameStar!).length).toBeLessThanOrEqual(200);
      expect(p.filename!.length).toBeLessThanOrEqual(150);
    }
    expect(cleanFilename('../../etc/passwd')).toBe('passwd');
    expect(cleanFilename('invoice\u202Efdp.exe')).toBe('invoicefdp.exe');
    expect(cleanFilename('....')).toBe('download');
    expect(cleanFilename('x'.repeat(1000) + '.pdf').endsWith('.pdf')).toBe(true);
    expect(asciiFallback('%2e%2e%2fsecret.txt')).not.toContain('%');
  });

  it('RFC 8187 encoding leaves only attr-chars unescaped', () => {
    expect(encodeRfc8187("a b'(c)*.txt")).toBe('a%20b%27%28c%29%2A.txt');
    expect(encodeRfc8187('€')).toBe('%E2%82%AC');
  });
});
