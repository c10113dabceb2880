// XEP-0115 §5.1 verification strings: the two worked examples of §5.2 and §5.3, and the
// i;octet collation (RFC 4790 §9.3) that the sorting steps require.

import { expect } from 'chai';
import { x } from '../../src/xml/element.js';
import { compareOctets, verificationInput, verificationString } from '../../xeps/0115-caps/verification.js';

const DISCO_FEATURES = [
  'http://jabber.org/protocol/caps',
  'http://jabber.org/protocol/disco#info',
  'http://jabber.org/protocol/disco#items',
  'http://jabber.org/protocol/muc',
];

function field(name: string, values: string[], type?: string) {
  return x(
    'field',
    { var: name, type },
    values.map((v) => x('value', null, v)),
  );
}

describe('XEP-0115 verification string', () => {
  it('§5.2 simple example', () => {
    // Features given out of order: the input is sorted, whatever order disco lists them in.
    const input = verificationInput(
      [{ category: 'client', type: 'pc', name: 'Exodus 0.9.1' }],
      [DISCO_FEATURES[3]!, DISCO_FEATURES[1]!, DISCO_FEATURES[0]!, DISCO_FEATURES[2]!],
      [],
    );
    expect(input).to.equal(
      'client/pc//Exodus 0.9.1<http://jabber.org/protocol/caps<http://jabber.org/protocol/disco#info<' +
        'http://jabber.org/protocol/disco#items<http://jabber.org/protocol/muc<',
    );
    expect(verificationString(input)).to.equal('QgayPKawpkPSDYmwT/WM94uAlu0=');
  });

  it('§5.3 complex example: identities with xml:lang, a XEP-0128 form', () => {
    const form = x(
      'x',
      { xmlns: 'jabber:x:data', type: 'result' },
      field('FORM_TYPE', ['urn:xmpp:dataforms:softwareinfo'], 'hidden'),
      // Fields and values out of order, to exercise the sorting of steps 7.2 and 7.3.1.
      field('software_version', ['0.11']),
      field('ip_version', ['ipv6', 'ipv4'], 'text-multi'),
      field('os', ['Mac']),
      field('software', ['Psi']),
      field('os_version', ['10.5.1']),
    );
    const input = verificationInput(
      [
        { category: 'client', type: 'pc', lang: 'en', name: 'Psi 0.11' },
        { category: 'client', type: 'pc', lang: 'el', name: 'Ψ 0.11' },
      ],
      DISCO_FEATURES,
      [form],
    );
    expect(input).to.equal(
      'client/pc/el/Ψ 0.11<client/pc/en/Psi 0.11<http://jabber.org/protocol/caps<' +
        'http://jabber.org/protocol/disco#info<http://jabber.org/protocol/disco#items<' +
        'http://jabber.org/protocol/muc<urn:xmpp:dataforms:softwareinfo<ip_version<ipv4<ipv6<os<Mac<' +
        'os_version<10.5.1<software<Psi<software_version<0.11<',
    );
    expect(verificationString(input)).to.equal('q07IKJEyjvHSyhy//CH0CxmKi8w=');
  });

  it('sorts identities by category, then type, not by the joined string', () => {
    // Joined, 'a-b/x//<' sorts before 'a/x//<' ('-' < '/'); by category 'a' comes first.
    const input = verificationInput(
      [
        { category: 'a-b', type: 'x' },
        { category: 'a', type: 'y' },
        { category: 'a', type: 'x' },
      ],
      [],
      [],
    );
    expect(input).to.equal('a/x//<a/y//<a-b/x//<');
  });

  it('orders forms by FORM_TYPE and leaves out a form without one', () => {
    const input = verificationInput(
      [{ category: 'server', type: 'im' }],
      [],
      [
        x('x', { xmlns: 'jabber:x:data', type: 'result' }, field('FORM_TYPE', ['urn:b'], 'hidden')),
        x('x', { xmlns: 'jabber:x:data', type: 'result' }, field('loose', ['value'])),
        x(
          'x',
          { xmlns: 'jabber:x:data', type: 'result' },
          field('FORM_TYPE', ['urn:a'], 'hidden'),
          field('f', []),
        ),
      ],
    );
    expect(input).to.equal('server/im//<urn:a<f<urn:b<');
  });
});

describe('i;octet collation', () => {
  // [a, b, sign of compare(a, b)]: UTF-8 byte order, which is code point order.
  const cases: Array<[string, string, -1 | 0 | 1]> = [
    ['', '', 0],
    ['a', 'a', 0],
    ['a', 'b', -1],
    ['a', 'ab', -1],
    ['B', 'a', -1], // uppercase letters have the lower bytes
    ['z', 'é', -1],
    ['\uffff', '\u{10000}', -1], // U+FFFF (EF BF BF) before U+10000 (F0 90 80 80), unlike UTF-16 units
    ['\ue000', '\ud7ff', 1],
    ['\u{1f600}', '\u{1f601}', -1],
    ['\u{10000}', '\ufb01', 1],
  ];
  for (const [a, b, sign] of cases) {
    it(`${JSON.stringify(a)} ${sign < 0 ? '<' : sign > 0 ? '>' : '='} ${JSON.stringify(b)}`, () => {
      expect(Math.sign(compareOctets(a, b))).to.equal(sign);
      expect(Math.sign(compareOctets(b, a))).to.equal(-sign);
      // The definition itself, as a check on the table.
      expect(Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b)))).to.equal(sign);
    });
  }
});
