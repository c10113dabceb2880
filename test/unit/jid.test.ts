import { expect } from 'chai';
import {
  JID,
  JidError,
  jid,
  parseJID,
  prepareDomainpart,
  prepareLocalpart,
  prepareResourcepart,
  tryParseJID,
} from '../../src/jid.js';

type Parts = [local: string, domain: string, resource: string];

function parts(input: string): Parts {
  const parsed = parseJID(input);
  return [parsed.local, parsed.domain, parsed.resource];
}

function reason(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    if (err instanceof JidError) return err.reason;
    throw err;
  }
  throw new Error('expected a JidError');
}

function validTable(rows: ReadonlyArray<[string, Parts, string]>): void {
  for (const [input, expected, note] of rows) {
    it(`${JSON.stringify(input)}: ${note}`, () => {
      expect(parts(input)).to.deep.equal(expected);
    });
  }
}

function invalidTable(rows: ReadonlyArray<[string, string, string]>): void {
  for (const [input, expected, note] of rows) {
    it(`${JSON.stringify(input)}: ${note}`, () => {
      expect(reason(() => parseJID(input))).to.equal(expected);
      expect(tryParseJID(input)).to.equal(undefined);
    });
  }
}

describe('jid', () => {
  describe('the valid examples of RFC 7622 §3.5', () => {
    validTable([
      ['juliet@example.com', ['juliet', 'example.com', ''], '1: a bare JID'],
      ['juliet@example.com/foo', ['juliet', 'example.com', 'foo'], '2: a full JID'],
      ['juliet@example.com/foo bar', ['juliet', 'example.com', 'foo bar'], '3: a space in the resourcepart'],
      ['juliet@example.com/foo@bar', ['juliet', 'example.com', 'foo@bar'], '4: an "@" in the resourcepart'],
      ['foo\\20bar@example.com', ['foo\\20bar', 'example.com', ''], '5: XEP-0106 escaping in the localpart'],
      ['fussball@example.com', ['fussball', 'example.com', ''], '6: plain ASCII'],
      ['fu\u00DFball@example.com', ['fu\u00DFball', 'example.com', ''], '7: sharp s is kept'],
      ['\u03C0@example.com', ['\u03C0', 'example.com', ''], '8: Greek small pi'],
      ['\u03A3@example.com/foo', ['\u03C3', 'example.com', 'foo'], '9: capital sigma, lower-cased'],
      ['\u03C3@example.com/foo', ['\u03C3', 'example.com', 'foo'], '10: small sigma'],
      ['\u03C2@example.com/foo', ['\u03C2', 'example.com', 'foo'], '11: final sigma'],
      ['king@example.com/\u265A', ['king', 'example.com', '\u265A'], '12: a symbol in the resourcepart'],
      ['example.com', ['', 'example.com', ''], '13: a domainpart alone'],
      ['example.com/foobar', ['', 'example.com', 'foobar'], '14: a domainpart and a resourcepart'],
      ['a.example.com/b@example.net', ['', 'a.example.com', 'b@example.net'], '15: "@" after the first "/"'],
    ]);
  });

  describe('the invalid examples of RFC 7622 §3.5', () => {
    invalidTable([
      ['"juliet"@example.com', 'localpart: disallowed character U+0022', '16: quotation marks'],
      ['foo bar@example.com', 'localpart: disallowed character U+0020', '17: a space in the localpart'],
      ['juliet@example.com/', 'resourcepart: empty', '18: an empty resourcepart'],
      ['@example.com/', 'localpart: empty', '19: an empty localpart'],
      ['henry\u2163@example.com', 'localpart: disallowed character U+2173', '20: a Roman numeral'],
      ['\u265A@example.com', 'localpart: disallowed character U+265A', '21: a symbol in the localpart'],
      ['juliet@', 'domainpart: empty', '22: no domainpart after "@"'],
      ['/foobar', 'domainpart: empty', '23: no domainpart before "/"'],
    ]);
  });

  describe('splitting (RFC 7622 §3.1)', () => {
    validTable([
      ['a@b/c/d', ['a', 'b', 'c/d'], 'the first "/" ends the domainpart'],
      ['b/c@d', ['', 'b', 'c@d'], 'an "@" after the first "/" belongs to the resourcepart'],
      ['a@b/c@d/e', ['a', 'b', 'c@d/e'], 'both separators in the resourcepart'],
    ]);
    invalidTable([
      ['a@', 'domainpart: empty', 'a localpart and an empty domainpart'],
      ['@b', 'localpart: empty', 'an empty localpart'],
      ['b/', 'resourcepart: empty', 'an empty resourcepart'],
      ['', 'domainpart: empty', 'nothing at all'],
      ['@', 'localpart: empty', 'a lone "@"'],
      ['/', 'domainpart: empty', 'a lone "/"'],
      ['a@b@c', 'domainpart: disallowed character U+0040', 'a second "@" lands in the domainpart'],
    ]);
  });

  describe('case and width', () => {
    validTable([
      [
        'Juliet@Example.COM/Balcony',
        ['juliet', 'example.com', 'Balcony'],
        'local and domain fold, resource does not',
      ],
      ['JULIET@EXAMPLE.COM/BALCONY', ['juliet', 'example.com', 'BALCONY'], 'all capitals'],
      [
        '\u03A3\u039F\u03A6\u0399\u0391@example.com',
        ['\u03C3\u03BF\u03C6\u03B9\u03B1', 'example.com', ''],
        'Greek',
      ],
      [
        '\uFF2A\uFF35\uFF2C\uFF29\uFF25\uFF34@example.com',
        ['juliet', 'example.com', ''],
        'fullwidth localpart',
      ],
      [
        'juliet@\uFF45\uFF58\uFF41\uFF4D\uFF50\uFF4C\uFF45.com',
        ['juliet', 'example.com', ''],
        'fullwidth domain',
      ],
      [
        'juliet@example.com/\uFF21\uFF22',
        ['juliet', 'example.com', '\uFF21\uFF22'],
        'fullwidth resource kept',
      ],
      ['juliet@example.com/a\u00A0b', ['juliet', 'example.com', 'a b'], 'non-ASCII space in the resource'],
      ['juliet@example.com/A\u030A', ['juliet', 'example.com', '\u00C5'], 'NFC in the resource'],
    ]);

    it('compares equal after folding', () => {
      expect(parseJID('Juliet@Example.com').equals(parseJID('juliet@example.com'))).to.equal(true);
      expect(parseJID('juliet@example.com/Balcony').equals(parseJID('juliet@example.com/balcony'))).to.equal(
        false,
      );
    });
  });

  describe('internationalized domain names', () => {
    validTable([
      ['B\u00FCcher.example', ['', 'b\u00FCcher.example', ''], 'U-labels are lower-cased'],
      ['xn--bcher-kva.example', ['', 'b\u00FCcher.example', ''], 'A-labels become U-labels'],
      ['XN--BCHER-KVA.EXAMPLE', ['', 'b\u00FCcher.example', ''], 'A-labels in capitals'],
      ['user@B\u00DCCHER.example/r', ['user', 'b\u00FCcher.example', 'r'], 'capital umlaut'],
      ['fu\u00DFball.example', ['', 'fu\u00DFball.example', ''], 'sharp s kept (non-transitional)'],
      ['b\u00FCcher\u3002example', ['', 'b\u00FCcher.example', ''], 'ideographic full stop separates labels'],
      ['\u4F8B\u3048.\u30C6\u30B9\u30C8', ['', '\u4F8B\u3048.\u30C6\u30B9\u30C8', ''], 'Japanese'],
    ]);
    invalidTable([
      ['xn--a.example', 'domainpart: not a valid internationalized domain name', 'bad Punycode'],
      ['a\u200Db.example', 'domainpart: not a valid internationalized domain name', 'a joiner in a label'],
      ['b\u00FCcher%2Eexample', 'domainpart: disallowed character U+0025', 'no percent-decoding'],
      ['exa\tmple.com', 'domainpart: disallowed character U+0009', 'no tabs dropped silently'],
      ['exa\\mple.com', 'domainpart: disallowed character U+005C', 'no backslash'],
      ['ex ample.com', 'domainpart: disallowed character U+0020', 'no spaces'],
      ['-example.com', "domainpart: bad label '-example'", 'a leading hyphen'],
      ['example-.com', "domainpart: bad label 'example-'", 'a trailing hyphen'],
      ['example..com', 'domainpart: empty label', 'an empty label'],
      ['.example.com', 'domainpart: empty label', 'a leading dot'],
      ['example.com..', 'domainpart: empty label', 'two final dots'],
      ['.', 'domainpart: empty', 'only a dot'],
      ['example.123', 'domainpart: neither a domain name nor an IP address', 'a numeric top-level label'],
      ['b\u00FCcher.123', 'domainpart: neither a domain name nor an IP address', 'numeric after an IDN'],
    ]);

    it('compares a U-label domain and its A-label form equal', () => {
      const unicode = parseJID('juliet@B\u00FCcher.example');
      const ascii = parseJID('juliet@xn--bcher-kva.example');
      expect(unicode.equals(ascii)).to.equal(true);
      expect(unicode.full).to.equal('juliet@b\u00FCcher.example');
    });

    it('keeps ß and ss apart', () => {
      expect(parseJID('fu\u00DFball.example').equals(parseJID('fussball.example'))).to.equal(false);
    });

    it('strips one final dot (§3.2)', () => {
      expect(parts('juliet@example.com./balcony')).to.deep.equal(['juliet', 'example.com', 'balcony']);
      expect(parts('b\u00FCcher.example\u3002')).to.deep.equal(['', 'b\u00FCcher.example', '']);
    });

    it("accepts '_' in labels (COMPAT with stringprep-era servers)", () => {
      expect(parts('bot@my_component.example')).to.deep.equal(['bot', 'my_component.example', '']);
    });
  });

  describe('IP literals', () => {
    validTable([
      ['127.0.0.1', ['', '127.0.0.1', ''], 'IPv4'],
      ['juliet@192.0.2.1/balcony', ['juliet', '192.0.2.1', 'balcony'], 'IPv4 in a full JID'],
      ['juliet@[::1]/balcony', ['juliet', '[::1]', 'balcony'], 'IPv6 in brackets'],
      ['[2001:DB8:0:0:0:0:0:1]', ['', '[2001:db8::1]', ''], 'IPv6 in canonical form'],
      ['[0:0::1]', ['', '[::1]', ''], 'equal IPv6 addresses compare equal'],
    ]);
    invalidTable([
      ['256.1.1.1', 'domainpart: neither a domain name nor an IP address', 'an octet over 255'],
      ['1.2.3', 'domainpart: neither a domain name nor an IP address', 'three numbers'],
      ['01.2.3.4', 'domainpart: neither a domain name nor an IP address', 'a leading zero'],
      ['0x7f.1', 'domainpart: neither a domain name nor an IP address', 'hexadecimal'],
      ['::1', 'domainpart: disallowed character U+003A', 'IPv6 without brackets'],
      ['[::1', 'domainpart: not a valid IPv6 address', 'no closing bracket'],
      ['[1.2.3.4]', 'domainpart: not a valid IPv6 address', 'IPv4 in brackets'],
      ['[fe80::1%eth0]', 'domainpart: not a valid IPv6 address', 'a zone ID'],
      ['[]', 'domainpart: not a valid IPv6 address', 'empty brackets'],
    ]);
  });

  describe('length limits', () => {
    it('allows a localpart of 1023 bytes and refuses 1024', () => {
      expect(parseJID(`${'a'.repeat(1023)}@example.com`).local).to.have.length(1023);
      expect(reason(() => parseJID(`${'a'.repeat(1024)}@example.com`))).to.equal(
        'localpart: longer than 1023 bytes',
      );
    });

    it('counts the localpart in UTF-8 bytes, not characters', () => {
      const at1023 = '\u00E9'.repeat(511) + 'a'; // 511 × 2 + 1 bytes
      expect(prepareLocalpart(at1023)).to.equal(at1023);
      expect(reason(() => prepareLocalpart(at1023 + 'a'))).to.equal('localpart: longer than 1023 bytes');
    });

    it('allows a resourcepart of 1023 bytes and refuses 1024', () => {
      const at1023 = '\u20AC'.repeat(341); // 341 × 3 bytes
      expect(parseJID(`juliet@example.com/${at1023}`).resource).to.equal(at1023);
      expect(reason(() => parseJID(`juliet@example.com/${at1023}x`))).to.equal(
        'resourcepart: longer than 1023 bytes',
      );
      expect(prepareResourcepart('r'.repeat(1023))).to.have.length(1023);
      expect(reason(() => prepareResourcepart('r'.repeat(1024)))).to.equal(
        'resourcepart: longer than 1023 bytes',
      );
    });

    it('allows a domainpart of 1023 bytes and refuses 1024', () => {
      const label = 'a'.repeat(63);
      const at1023 = Array(16).fill(label).join('.'); // 16 × 63 + 15 dots
      const at1024 = [...Array(15).fill(label), 'a'.repeat(62), 'b'].join('.'); // 15 × 63 + 62 + 1 + 16 dots
      expect(at1023).to.have.length(1023);
      expect(at1024).to.have.length(1024);
      expect(parseJID(`juliet@${at1023}`).domain).to.equal(at1023);
      expect(reason(() => parseJID(`juliet@${at1024}`))).to.equal('domainpart: longer than 1023 bytes');
    });

    it('allows a label of 63 bytes and refuses 64', () => {
      expect(prepareDomainpart(`${'a'.repeat(63)}.example`)).to.equal(`${'a'.repeat(63)}.example`);
      expect(reason(() => prepareDomainpart(`${'a'.repeat(64)}.example`))).to.equal(
        'domainpart: label longer than 63 bytes',
      );
      // An IDN label counts in its A-label form: 61 bytes of UTF-8, but more than 63 as 'xn--…'.
      expect(reason(() => prepareDomainpart(`\u00FC${'a'.repeat(59)}.example`))).to.equal(
        'domainpart: label longer than 63 bytes',
      );
    });

    it('refuses huge input before preparing it', () => {
      expect(reason(() => prepareResourcepart('\u00E9'.repeat(5000)))).to.equal(
        'resourcepart: longer than 1023 bytes',
      );
      expect(reason(() => prepareDomainpart('a.'.repeat(3000)))).to.equal(
        'domainpart: longer than 1023 bytes',
      );
    });
  });

  describe('characters RFC 7622 §3.3.1 excludes from localparts', () => {
    for (const ch of ['"', '&', "'", '/', ':', '<', '>', '@']) {
      const name = 'U+' + ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
      it(`refuses ${ch} (${name})`, () => {
        expect(reason(() => prepareLocalpart(`a${ch}b`))).to.equal(`localpart: disallowed character ${name}`);
        expect(reason(() => jid(`a${ch}b`, 'example.com'))).to.equal(
          `localpart: disallowed character ${name}`,
        );
      });
    }

    it('refuses them after width mapping too', () => {
      expect(reason(() => prepareLocalpart('a\uFF20b'))).to.equal('localpart: disallowed character U+0040');
    });

    it('allows the rest of printable ASCII', () => {
      const rest = '!#$%()*+,-.0123456789;=?[\\]^_`{|}~';
      expect(prepareLocalpart(rest)).to.equal(rest);
      expect(parseJID(`${rest}@example.com`).local).to.equal(rest);
    });
  });

  describe('the JID object', () => {
    it('precomputes bare and full', () => {
      const full = parseJID('Juliet@Example.com/Balcony');
      expect(full.bare).to.equal('juliet@example.com');
      expect(full.full).to.equal('juliet@example.com/Balcony');
      expect(full.toString()).to.equal('juliet@example.com/Balcony');
      expect(JSON.stringify({ to: full })).to.equal('{"to":"juliet@example.com/Balcony"}');
      const domain = parseJID('example.com/x');
      expect(domain.bare).to.equal('example.com');
      expect(domain.full).to.equal('example.com/x');
    });

    it('knows whether it is bare', () => {
      expect(parseJID('juliet@example.com').isBare()).to.equal(true);
      expect(parseJID('example.com').isBare()).to.equal(true);
      expect(parseJID('juliet@example.com/balcony').isBare()).to.equal(false);
    });

    it('returns itself as its bare JID when bare, and one shared bare JID otherwise', () => {
      const bare = parseJID('juliet@example.com');
      expect(bare.bareJID()).to.equal(bare);
      const full = parseJID('juliet@example.com/orchard');
      const fromFull = full.bareJID();
      expect(fromFull.full).to.equal('juliet@example.com');
      expect(fromFull.isBare()).to.equal(true);
      expect(fromFull).to.equal(bare);
      expect(parseJID('juliet@example.com/balcony').bareJID()).to.equal(fromFull);
    });

    it('prepares the resource given to withResource', () => {
      const bare = parseJID('juliet@example.com');
      const full = bare.withResource('Balcony\u3000Scene');
      expect(full.full).to.equal('juliet@example.com/Balcony Scene');
      expect(full.local).to.equal('juliet');
      expect(bare.isBare()).to.equal(true);
      expect(reason(() => bare.withResource(''))).to.equal('resourcepart: empty');
      expect(reason(() => bare.withResource('a\u0000'))).to.equal(
        'resourcepart: disallowed character U+0000',
      );
    });

    it('compares by value', () => {
      const a = parseJID('juliet@example.com/balcony');
      expect(a.equals(a)).to.equal(true);
      expect(a.equals(jid('Juliet', 'EXAMPLE.com', 'balcony'))).to.equal(true);
      expect(a.equals(parseJID('juliet@example.com'))).to.equal(false);
      expect(a.equals(parseJID('romeo@example.com/balcony'))).to.equal(false);
    });

    it('is immutable', () => {
      const j = parseJID('juliet@example.com/balcony');
      expect(Object.isFrozen(j)).to.equal(true);
      expect(() => {
        (j as { local: string }).local = 'romeo';
      }).to.throw(TypeError);
      expect(j.local).to.equal('juliet');
    });

    it('cannot be constructed around the preparation', () => {
      const Unchecked = JID as unknown as new (...args: unknown[]) => JID;
      expect(() => new Unchecked(Symbol('prepared JID parts'), 'Juliet', 'Example.com', '')).to.throw(
        TypeError,
      );
    });
  });

  describe('jid() from parts', () => {
    it('prepares every part', () => {
      const j = jid('Juliet', 'B\u00FCcher.example', 'Balcony');
      expect([j.local, j.domain, j.resource]).to.deep.equal(['juliet', 'b\u00FCcher.example', 'Balcony']);
    });

    it('treats an empty localpart or resourcepart as absent', () => {
      expect(jid('', 'example.com').full).to.equal('example.com');
      expect(jid('juliet', 'example.com', '').full).to.equal('juliet@example.com');
      expect(jid('juliet', 'example.com').isBare()).to.equal(true);
    });

    it('refuses an empty domainpart', () => {
      expect(reason(() => jid('juliet', ''))).to.equal('domainpart: empty');
    });
  });

  describe('the parse cache', () => {
    it('returns the same object for the same input', () => {
      const first = parseJID('cached@example.com/one');
      expect(parseJID('cached@example.com/one')).to.equal(first);
      expect(tryParseJID('cached@example.com/one')).to.equal(first);
    });

    it('still returns a recent address after many others', () => {
      const kept = parseJID('kept@example.com');
      for (let i = 0; i < 20_000; i++) {
        parseJID(`user${i}@example.com`);
        if (i % 1000 === 0) expect(parseJID('kept@example.com')).to.equal(kept);
      }
      expect(parseJID('kept@example.com')).to.equal(kept);
    });

    it('gives an equal JID again after eviction', () => {
      const first = parseJID('evicted@example.com');
      for (let i = 0; i < 20_000; i++) parseJID(`other${i}@example.com`);
      const again = parseJID('evicted@example.com');
      expect(again).to.not.equal(first);
      expect(again.equals(first)).to.equal(true);
    });

    it('parses the canonical form of a JID back to an equal JID', () => {
      for (const input of [
        'Juliet@B\u00FCcher.example/Balcony',
        'xn--bcher-kva.example',
        '[0:0::1]/r',
        'L\u00B7L@x',
      ]) {
        const parsed = parseJID(input);
        expect(parseJID(parsed.full).full).to.equal(parsed.full);
      }
    });
  });

  it('JidError carries its reason', () => {
    const err = new JidError('localpart: empty');
    expect(err).to.be.instanceOf(Error);
    expect(err.name).to.equal('JidError');
    expect(err.reason).to.equal('localpart: empty');
    expect(err.message).to.equal('localpart: empty');
  });
});
