// The embedded store's request-document parser (src/objectstore/xml.ts): shape and strictness.
import { describe, expect, it } from 'vitest';
import { parseXml } from '../../src/objectstore/xml.ts';

const p = (x: string, root = 'D') => parseXml(Buffer.from(x), root);

describe('objectstore XML parser', () => {
  it('gives leaf elements as text, repeated names as arrays, drops namespace prefixes and attributes', () => {
    expect(p('<?xml version="1.0" encoding="UTF-8"?>\n<D xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><O><K>a</K></O><O a="1" b=\'2\'><s3:K>b</s3:K></O><Q>true</Q><E/><F></F></D>\n'))
      .toEqual({ O: [{ K: 'a' }, { K: 'b' }], Q: 'true', E: '', F: '' });
    expect(p('<D/>')).toEqual({});
    expect(p('<D>\n  <K>  x  </K>\n</D>')).toEqual({ K: '  x  ', '#text': '\n  \n' });
  });

  it('decodes the predefined entities, numeric references (as the AWS SDKs write newlines) and CDATA', () => {
    expect(p('<D><K>a &amp; b &lt;&gt;&quot;&apos; &#65;&#x42;&#x0A;&#x2028;</K></D>')).toEqual({ K: 'a & b <>"\' AB\n\u2028' });
    expect(p('<D><K><![CDATA[a<b&c]]>d</K><!-- note --><?pi x?></D>')).toEqual({ K: 'a<b&cd' });
  });

  it('refuses malformed documents as MalformedXML', () => {
    for (const bad of [
      '', 'D', '<D>', '<D><K>x</K>', '<D><K>x</k></D>', '<D><K>a&b</K></D>', '<D><K>a&foo;</K></D>', '<D><K>&#0;</K></D>',
      '<D><K>x<</K></D>', '<D></D><E/>', '<D/>junk', '<D><K a="1"b="2">x</K></D>', '<D><K a=1>x</K></D>',
      '<!DOCTYPE D [<!ENTITY e "zz">]><D><K>&e;</K></D>', '<D><!DOCTYPE x></D>', '<D><!-- x </D>', '<D><![CDATA[x</D>',
    ]) {
      expect(() => p(bad), bad).toThrow(expect.objectContaining({ code: 'MalformedXML' }));
    }
    expect(() => p('<E/>')).toThrow(expect.objectContaining({ code: 'MalformedXML' })); // wrong root
  });

  it('keeps names like __proto__ as plain data', () => {
    const r = p('<D><__proto__>x</__proto__></D>');
    expect(r['__proto__']).toBe('x');
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
});
