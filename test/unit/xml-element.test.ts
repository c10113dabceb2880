// Element serialization and escaping, checked by round trip through the stream parser: what
// toString() writes must parse back to the same name, attributes and text.

import { expect } from 'chai';
import { type Element, x } from '../../src/xml/element.js';
import { StreamParser } from '../../src/xml/parser.js';

const HEADER = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";

/** Parses one serialized top-level element the way a peer would receive it. */
function reparse(xml: string): Element {
  const out: Element[] = [];
  new StreamParser({
    streamStart: () => {},
    stanza: (el) => out.push(el),
    streamEnd: () => {},
    error: (condition, text) => {
      throw new Error(`${condition}: ${text} in ${JSON.stringify(xml)}`);
    },
  }).write(Buffer.from(HEADER + xml));
  expect(out.length, 'one element parsed').to.equal(1);
  return out[0];
}

const VALUES: Array<[string, string]> = [
  ['plain', 'hello'],
  ['empty', ''],
  ['ampersand', 'fish & chips &amp; more'],
  ['angle brackets', '<b>bold</b>'],
  ['double quotes', 'say "hi"'],
  ['apostrophes', "it's"],
  ['CDATA end marker', 'a]]>b'],
  ['multibyte characters', 'é€😀 中文'],
  ['leading and trailing spaces', '  spaced  '],
];

// Whitespace other than spaces survives in attributes only because escapeAttr writes it as
// character references (XML 1.0 §3.3.3 would turn literal tabs and line ends into spaces).
const ATTR_ONLY_VALUES: Array<[string, string]> = [
  ['tab', 'a\tb'],
  ['line feed', 'a\nb'],
  ['carriage return', 'a\rb'],
  ['CRLF', 'a\r\nb'],
];

describe('Element', () => {
  describe('serializes attribute values that parse back unchanged', () => {
    for (const [name, value] of [...VALUES, ...ATTR_ONLY_VALUES]) {
      it(name, () => {
        const el = x('message', { id: value });
        expect(reparse(el.toString()).attrs).to.deep.equal({ id: value });
      });
    }
  });

  describe('serializes text that parses back unchanged', () => {
    for (const [name, value] of [
      ...VALUES,
      ['tab', 'a\tb'] as [string, string],
      ['line feed', 'a\nb'] as [string, string],
    ]) {
      it(name, () => {
        const el = x('message', null, x('body', null, value));
        expect(reparse(el.toString()).getChildText('body')).to.equal(value);
      });
    }

    // escapeText leaves a literal CR in text, which every XML parser turns into LF
    // (XML 1.0 §2.11); it has to be written as &#13; to survive. Reported; enable once fixed.
    it('carriage return', () => {
      const el = x('message', null, x('body', null, 'a\r\nb\rc'));
      expect(reparse(el.toString()).getChildText('body')).to.equal('a\r\nb\rc');
    });
  });

  it('writes exactly the escapes needed', () => {
    const el = x('message', { to: 'a@b', note: `<&>"'\t\n\r` }, x('body', null, `<&>"'`));
    expect(el.toString()).to.equal(
      '<message to="a@b" note="&lt;&amp;&gt;&quot;&apos;&#9;&#10;&#13;"><body>&lt;&amp;&gt;"\'</body></message>',
    );
  });

  it('round-trips a nested stanza with namespaces, prefixes and mixed content', () => {
    const stanza = x(
      'iq',
      { type: 'result', id: 'r1', to: 'romeo@example.net/orchard' },
      x(
        'query',
        { xmlns: 'jabber:iq:roster', ver: 'v1' },
        x('item', { jid: 'juliet@example.com', name: 'Juliet & co' }, x('group', null, 'Friends')),
        x('item', { jid: 'nurse@example.com' }),
      ),
      x('p:x', { 'xmlns:p': 'urn:p', 'p:a': '1' }, 'before', x('p:y'), 'after'),
    );
    const back = reparse(stanza.toString());
    expect(back.toString()).to.equal(stanza.toString());
    expect(back.getChild('query', 'jabber:iq:roster')?.getChildren('item').length).to.equal(2);
    expect(back.getChild('x', 'urn:p')?.getChild('y', 'urn:p')).to.not.equal(undefined);
  });

  it('writes an open tag alone for a stream header', () => {
    const header = x('stream:stream', { xmlns: 'jabber:client', to: 'example.com', version: '1.0' });
    expect(header.openTag()).to.equal('<stream:stream xmlns="jabber:client" to="example.com" version="1.0">');
  });

  it('leaves out undefined attributes and false children', () => {
    expect(x('m', { a: undefined, b: 2 }, false, null, undefined, 'text').toString()).to.equal(
      '<m b="2">text</m>',
    );
  });

  it('clones deeply and detaches the copy', () => {
    const body = x('body', null, 'hi');
    const message = x('message', { xmlns: 'jabber:client' }, body);
    const copy = message.clone().getChild('body')!;
    expect(copy).to.not.equal(body);
    expect(copy.getNS()).to.equal('jabber:client');
    copy.children[0] = 'changed';
    expect(body.text).to.equal('hi');
    const detached = body.clone();
    expect(detached.parent).to.equal(null);
    expect(detached.getNS()).to.equal(undefined);
  });
});
