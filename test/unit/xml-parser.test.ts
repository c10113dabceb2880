// The stream parser, table-driven. Every table row is also fed one byte at a time and in random
// splits, and must give exactly the same events: where a chunk is cut must never matter.

import { expect } from 'chai';
import type { StreamErrorCondition } from '../../src/core/errors.js';
import type { Attrs, Element } from '../../src/xml/element.js';
import { StreamParser, type StreamParserLimits } from '../../src/xml/parser.js';

const NS_STREAM = 'http://etherx.jabber.org/streams';
const HEADER = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='${NS_STREAM}' to='example.com' version='1.0'>`;
const HEADER_ATTRS: Attrs = {
  xmlns: 'jabber:client',
  'xmlns:stream': NS_STREAM,
  to: 'example.com',
  version: '1.0',
};
const START: Expected = ['start', 'stream:stream', HEADER_ATTRS];
/** A minimal header, for tests with small byte budgets. */
const SHORT_HEADER = `<stream:stream xmlns:stream='${NS_STREAM}'>`;
const SHORT_START: Expected = ['start', 'stream:stream', { 'xmlns:stream': NS_STREAM }];

/** A structural copy of an element, checking parent links on the way. */
type Tree = { name: string; attrs: Attrs; children: Array<Tree | string> };

function tree(el: Element): Tree {
  return {
    name: el.name,
    attrs: { ...el.attrs },
    children: el.children.map((child) => {
      if (typeof child === 'string') return child;
      if (child.parent !== el) throw new Error(`<${child.name}> has a wrong parent link`);
      return tree(child);
    }),
  };
}

type Expected =
  | ['start', string, Attrs]
  | ['stanza', string, string | undefined]
  | ['end']
  | ['error', StreamErrorCondition, string];
type Recorded =
  | ['start', string, Attrs]
  | ['stanza', string, string | undefined, Tree]
  | ['end']
  | ['error', StreamErrorCondition, string];

interface Case {
  name: string;
  input: string | Buffer;
  events: Expected[];
  limits?: Partial<StreamParserLimits>;
  /** Called after each stanza is recorded, e.g. to reset or stop the parser. */
  onStanza?: (el: Element, parser: StreamParser) => void;
}

function feed(
  chunks: Buffer[],
  limits?: Partial<StreamParserLimits>,
  onStanza?: (el: Element, parser: StreamParser) => void,
): Recorded[] {
  const events: Recorded[] = [];
  const parser: StreamParser = new StreamParser(
    {
      streamStart: (name, attrs) => events.push(['start', name, { ...attrs }]),
      stanza: (el, ns) => {
        if (el.parent !== null) throw new Error('a top-level element must have no parent');
        events.push(['stanza', el.toString(), ns, tree(el)]);
        onStanza?.(el, parser);
      },
      streamEnd: () => events.push(['end']),
      error: (condition, text) => events.push(['error', condition, text]),
    },
    limits,
  );
  for (const chunk of chunks) parser.write(chunk);
  return events;
}

function project(events: Recorded[]): Expected[] {
  return events.map((e) => (e[0] === 'stanza' ? ['stanza', e[1], e[2]] : e));
}

/** A small seeded generator (mulberry32), so that random splits are the same on every run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function splits(input: Buffer): Array<[string, Buffer[]]> {
  const out: Array<[string, Buffer[]]> = [];
  const bytes: Buffer[] = [];
  for (let k = 0; k < input.length; k++) bytes.push(input.subarray(k, k + 1));
  out.push(['one byte at a time', bytes]);
  for (const [seed, maxSize] of [
    [1, 3],
    [2, 7],
    [3, 16],
    [4, 64],
    [5, 200],
  ]) {
    const next = random(seed);
    const chunks: Buffer[] = [];
    for (let k = 0; k < input.length; ) {
      const size = 1 + Math.floor(next() * maxSize);
      chunks.push(input.subarray(k, k + size));
      k += size;
    }
    out.push([`random split (seed ${seed}, up to ${maxSize} bytes)`, chunks]);
  }
  return out;
}

function runTable(cases: Case[]): void {
  for (const c of cases) {
    it(c.name, () => {
      const input = typeof c.input === 'string' ? Buffer.from(c.input, 'utf8') : c.input;
      const whole = feed([input], c.limits, c.onStanza);
      expect(project(whole)).to.deep.equal(c.events);
      for (const [how, chunks] of splits(input))
        expect(feed(chunks, c.limits, c.onStanza), how).to.deep.equal(whole);
    });
  }
}

const bytes = (...parts: Array<string | number[]>): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));

const nwf = (text: string): Expected => ['error', 'not-well-formed', text];
const restricted = (text: string): Expected => ['error', 'restricted-xml', text];

/** Pads a stanza's body with multibyte characters (2, 3 and 4 bytes) to exactly `total` UTF-8 bytes. */
function stanzaOfBytes(total: number): string {
  const open = '<m>';
  const close = '</m>';
  let body = '';
  let size = open.length + close.length;
  while (size + 9 <= total) {
    body += 'é€😀';
    size += 9;
  }
  body += 'a'.repeat(total - size);
  const stanza = open + body + close;
  if (Buffer.byteLength(stanza) !== total) throw new Error('miscounted');
  return stanza;
}

describe('StreamParser', () => {
  describe('stream header', () => {
    runTable([
      { name: 'reads the header with an XML declaration', input: HEADER, events: [START] },
      {
        name: 'accepts a UTF-8 byte order mark first',
        input: bytes([0xef, 0xbb, 0xbf], HEADER),
        events: [START],
      },
      {
        name: 'reads a header without an XML declaration, with double quotes and spaces around =',
        input: `\n<stream:stream xmlns = "jabber:client"\txmlns:stream="${NS_STREAM}" xml:lang='en' version = '1.0' >`,
        events: [
          [
            'start',
            'stream:stream',
            { xmlns: 'jabber:client', 'xmlns:stream': NS_STREAM, 'xml:lang': 'en', version: '1.0' },
          ],
        ],
      },
      {
        name: 'accepts encoding UTF-8 in any case and standalone',
        input: `<?xml version="1.0" encoding="utf-8" standalone='yes' ?>${SHORT_HEADER}`,
        events: [SHORT_START],
      },
      {
        name: 'accepts a later 1.x version',
        input: `<?xml version='1.1' encoding='UTF-8'?>${SHORT_HEADER}`,
        events: [SHORT_START],
      },
      {
        name: 'rejects another encoding',
        input: `<?xml version='1.0' encoding='ISO-8859-1'?>${SHORT_HEADER}`,
        events: [['error', 'unsupported-encoding', "encoding 'ISO-8859-1' is not supported; use UTF-8"]],
      },
      {
        name: 'rejects XML version 2.0',
        input: `<?xml version='2.0'?>${SHORT_HEADER}`,
        events: [nwf('malformed XML declaration')],
      },
      {
        name: 'rejects a declaration without a version',
        input: `<?xml encoding='UTF-8'?>${SHORT_HEADER}`,
        events: [nwf('malformed XML declaration')],
      },
      {
        name: 'rejects an XML declaration that is not first',
        input: ` <?xml version='1.0'?>${SHORT_HEADER}`,
        events: [restricted('processing instructions are not allowed')],
      },
      {
        name: 'rejects a second XML declaration',
        input: `<?xml version='1.0'?><?xml version='1.0'?>${SHORT_HEADER}`,
        events: [restricted('processing instructions are not allowed')],
      },
      {
        name: 'rejects another processing instruction at the start',
        input: `<?xml-stylesheet href='a'?>${SHORT_HEADER}`,
        events: [restricted('processing instructions are not allowed')],
      },
      {
        name: 'rejects an endless processing instruction at the start',
        input: `<?foo ${'x'.repeat(1000)}`,
        events: [restricted('processing instructions are not allowed')],
      },
      {
        name: 'rejects a DOCTYPE',
        input: `<?xml version='1.0'?><!DOCTYPE stream [<!ENTITY x 'y'>]>${SHORT_HEADER}`,
        events: [restricted('document type declarations are not allowed')],
      },
      {
        name: 'rejects a comment before the header',
        input: `<!-- hi -->${SHORT_HEADER}`,
        events: [restricted('comments are not allowed')],
      },
      {
        name: 'rejects text before the header',
        input: `hello${SHORT_HEADER}`,
        events: [nwf('character data before the stream header')],
      },
      {
        name: 'rejects an end tag before the header',
        input: '</stream:stream>',
        events: [nwf('end tag before the stream header')],
      },
      {
        name: 'rejects an unbound stream prefix',
        input: "<stream:stream xmlns='jabber:client'>",
        events: [nwf("namespace prefix 'stream' is not declared")],
      },
      {
        name: 'reports a self-closing stream element as start and end',
        input: `<stream:stream xmlns:stream='${NS_STREAM}'/>`,
        events: [SHORT_START, ['end']],
      },
    ]);
  });

  describe('stanzas', () => {
    runTable([
      {
        name: 'reads a message with nesting, attributes and text',
        input: `${HEADER}<message to='juliet@example.com' type="chat" id='a1'><body>Art thou not Romeo?</body><thread/></message>`,
        events: [
          START,
          [
            'stanza',
            '<message to="juliet@example.com" type="chat" id="a1"><body>Art thou not Romeo?</body><thread/></message>',
            'jabber:client',
          ],
        ],
      },
      {
        name: 'reads several stanzas separated by whitespace keepalives',
        input: `${HEADER} <presence/>\n\r\n\t<presence type='unavailable'/>   `,
        events: [
          START,
          ['stanza', '<presence/>', 'jabber:client'],
          ['stanza', '<presence type="unavailable"/>', 'jabber:client'],
        ],
      },
      {
        name: 'gives the stream namespace for stream-prefixed top-level elements',
        input: `${HEADER}<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>`,
        events: [
          START,
          [
            'stanza',
            '<stream:features><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/></stream:features>',
            NS_STREAM,
          ],
        ],
      },
      {
        name: "gives a top-level element's own default namespace",
        input: `${HEADER}<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGp1bGlldAByMG0zMG15cjBtMzA=</auth>`,
        events: [
          START,
          [
            'stanza',
            '<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN">AGp1bGlldAByMG0zMG15cjBtMzA=</auth>',
            'urn:ietf:params:xml:ns:xmpp-sasl',
          ],
        ],
      },
      {
        name: 'gives no namespace for xmlns=""',
        input: `${HEADER}<foo xmlns=''/>`,
        events: [START, ['stanza', '<foo xmlns=""/>', undefined]],
      },
      {
        name: 'gives no namespace when neither the element nor the header declares one',
        input: `${SHORT_HEADER}<foo/>`,
        events: [SHORT_START, ['stanza', '<foo/>', undefined]],
      },
      {
        name: "copies the header's other prefix declarations onto each top-level element (dialback)",
        input: `<stream:stream xmlns='jabber:server' xmlns:db='jabber:server:dialback' xmlns:stream='${NS_STREAM}'><db:result from='a.example' to='b.example'>abc</db:result><message/><x xmlns:db='urn:other'/>`,
        events: [
          [
            'start',
            'stream:stream',
            { xmlns: 'jabber:server', 'xmlns:db': 'jabber:server:dialback', 'xmlns:stream': NS_STREAM },
          ],
          [
            'stanza',
            '<db:result from="a.example" to="b.example" xmlns:db="jabber:server:dialback">abc</db:result>',
            'jabber:server:dialback',
          ],
          ['stanza', '<message xmlns:db="jabber:server:dialback"/>', 'jabber:server'],
          ['stanza', '<x xmlns:db="urn:other"/>', 'jabber:server'],
        ],
      },
      {
        name: 'decodes the predefined entities in text and attributes',
        input: `${HEADER}<message id='&lt;&gt;&amp;&apos;&quot;'><body>&lt;b&gt; &amp; &apos;x&apos; &quot;y&quot;</body></message>`,
        events: [
          START,
          [
            'stanza',
            '<message id="&lt;&gt;&amp;&apos;&quot;"><body>&lt;b&gt; &amp; \'x\' "y"</body></message>',
            'jabber:client',
          ],
        ],
      },
      {
        name: 'decodes character references, decimal and hex, in the BMP and beyond',
        input: `${HEADER}<m a='&#65;&#x42;&#x1F600;'>&#65;&#0066;&#x43;&#xe9;&#x1f600;&#8364;</m>`,
        events: [START, ['stanza', '<m a="AB😀">ABCé😀€</m>', 'jabber:client']],
      },
      {
        name: 'merges text, references and CDATA sections into one text child',
        input: `${HEADER}<m>a &amp; <![CDATA[<b>&amp;]]]]><![CDATA[>]]>c</m>`,
        events: [START, ['stanza', '<m>a &amp; &lt;b&gt;&amp;amp;]]&gt;c</m>', 'jabber:client']],
      },
      {
        name: 'keeps an empty CDATA section as no text',
        input: `${HEADER}<m><![CDATA[]]></m>`,
        events: [START, ['stanza', '<m/>', 'jabber:client']],
      },
      {
        name: 'allows ] and > separately in text',
        input: `${HEADER}<m>a]b>c]]d] >e</m>`,
        events: [START, ['stanza', '<m>a]b&gt;c]]d] &gt;e</m>', 'jabber:client']],
      },
      {
        name: 'normalizes line ends in text and CDATA (CRLF and lone CR become LF)',
        input: `${HEADER}<m>a\r\nb\rc\n\r\rd<![CDATA[e\r\nf\rg]]>\r</m>`,
        events: [START, ['stanza', '<m>a\nb\nc\n\n\nd' + 'e\nf\ng\n</m>', 'jabber:client']],
      },
      {
        name: 'normalizes attribute values (whitespace to spaces, references kept)',
        input: `${HEADER}<m a='x\ty\r\nz\rw\nv' b="&#9;&#10;&#13;&#32;" c="it's" d='say "hi"'/>`,
        events: [
          START,
          [
            'stanza',
            '<m a="x y z w v" b="&#9;&#10;&#13; " c="it&apos;s" d="say &quot;hi&quot;"/>',
            'jabber:client',
          ],
        ],
      },
      {
        name: 'reads 2-, 3- and 4-byte characters in names, attributes and text',
        input: `${HEADER}<café ñ='é€😀'>é€😀 ü中𝄞</café>`,
        events: [START, ['stanza', '<café ñ="é€😀">é€😀 ü中𝄞</café>', 'jabber:client']],
      },
      {
        name: 'keeps prefixes and namespace declarations as written',
        input: `${HEADER}<iq type='get' id='1'><p:query xmlns:p='urn:p' p:a='1' xml:lang='en'><p:item/></p:query></iq>`,
        events: [
          START,
          [
            'stanza',
            '<iq type="get" id="1"><p:query xmlns:p="urn:p" p:a="1" xml:lang="en"><p:item/></p:query></iq>',
            'jabber:client',
          ],
        ],
      },
      {
        name: 'keeps whitespace-only text inside stanzas',
        input: `${HEADER}<m>\n  <body> </body>\n</m>`,
        events: [START, ['stanza', '<m>\n  <body> </body>\n</m>', 'jabber:client']],
      },
      {
        name: 'accepts whitespace inside tags',
        input: `${HEADER}<m\n a = 'b'\t/><n ></n\n>`,
        events: [START, ['stanza', '<m a="b"/>', 'jabber:client'], ['stanza', '<n/>', 'jabber:client']],
      },
      {
        name: 'allows an attribute named __proto__ as an ordinary attribute',
        input: `${HEADER}<m __proto__='x' constructor='y'/>`,
        events: [START, ['stanza', '<m __proto__="x" constructor="y"/>', 'jabber:client']],
      },
    ]);
  });

  describe('stream end', () => {
    runTable([
      {
        name: 'reports the end of the stream and accepts whitespace after it',
        input: `${HEADER}<presence/></stream:stream> \n`,
        events: [START, ['stanza', '<presence/>', 'jabber:client'], ['end']],
      },
      {
        name: 'accepts whitespace inside the end tag',
        input: `${HEADER}</stream:stream\n>`,
        events: [START, ['end']],
      },
      {
        name: 'rejects data after the end of the stream',
        input: `${HEADER}</stream:stream><presence/>`,
        events: [START, ['end'], nwf('data after the end of the stream')],
      },
      {
        name: 'rejects an end tag that does not match the stream element',
        input: `${HEADER}</stream>`,
        events: [START, nwf("end tag does not match the start tag 'stream:stream'")],
      },
    ]);
  });

  describe('UTF-8', () => {
    runTable([
      {
        name: 'rejects an invalid continuation byte, after the stanza before it',
        input: bytes(HEADER, '<presence/><m>', [0xc3, 0x28], '</m>'),
        events: [
          START,
          ['stanza', '<presence/>', 'jabber:client'],
          ['error', 'unsupported-encoding', 'the stream is not valid UTF-8'],
        ],
      },
      {
        name: 'rejects an overlong encoding',
        input: bytes(HEADER, '<m>', [0xc0, 0xaf], '</m>'),
        events: [START, ['error', 'unsupported-encoding', 'the stream is not valid UTF-8']],
      },
      {
        name: 'rejects an encoded surrogate',
        input: bytes(HEADER, '<m>', [0xed, 0xa0, 0x80], '</m>'),
        events: [START, ['error', 'unsupported-encoding', 'the stream is not valid UTF-8']],
      },
      {
        name: 'rejects a byte that never occurs in UTF-8',
        input: bytes(HEADER, '<m>', [0xff], '</m>'),
        events: [START, ['error', 'unsupported-encoding', 'the stream is not valid UTF-8']],
      },
      {
        name: 'rejects a code point above U+10FFFF',
        input: bytes(HEADER, '<m>', [0xf4, 0x90, 0x80, 0x80], '</m>'),
        events: [START, ['error', 'unsupported-encoding', 'the stream is not valid UTF-8']],
      },
      {
        name: 'rejects a truncated character followed by ASCII',
        input: bytes(HEADER, '<m>', [0xe2, 0x82], 'x</m>'),
        events: [START, ['error', 'unsupported-encoding', 'the stream is not valid UTF-8']],
      },
      {
        name: 'rejects a byte that never occurs in UTF-8 at once, without waiting for more input',
        input: bytes(HEADER, '<m>', [0xff]),
        events: [START, ['error', 'unsupported-encoding', 'the stream is not valid UTF-8']],
      },
      {
        name: 'rejects a lead byte whose next byte cannot follow it at once (an encoded surrogate)',
        input: bytes(HEADER, '<m>', [0xed, 0xa0]),
        events: [START, ['error', 'unsupported-encoding', 'the stream is not valid UTF-8']],
      },
      {
        name: 'waits for the rest of a character the input ends in the middle of',
        input: bytes(HEADER, '<m>', [0xf0, 0x9f, 0x90]),
        events: [START],
      },
      {
        name: 'rejects UTF-16',
        input: Buffer.from(`\ufeff${SHORT_HEADER}`, 'utf16le'),
        events: [['error', 'unsupported-encoding', 'the stream is not valid UTF-8']],
      },
    ]);
  });

  describe('restricted XML (RFC 6120 §11.1)', () => {
    runTable([
      {
        name: 'rejects a comment inside a stanza',
        input: `${HEADER}<m><!-- x --></m>`,
        events: [START, restricted('comments are not allowed')],
      },
      {
        name: 'rejects a comment between stanzas',
        input: `${HEADER}<!-- x -->`,
        events: [START, restricted('comments are not allowed')],
      },
      {
        name: 'rejects a DOCTYPE after the header',
        input: `${HEADER}<!DOCTYPE m>`,
        events: [START, restricted('document type declarations are not allowed')],
      },
      {
        name: 'rejects other markup declarations',
        input: `${HEADER}<m><!ENTITY x 'y'></m>`,
        events: [START, restricted('markup declarations are not allowed')],
      },
      {
        name: 'rejects a processing instruction inside a stanza',
        input: `${HEADER}<m><?php echo 1 ?></m>`,
        events: [START, restricted('processing instructions are not allowed')],
      },
      {
        name: 'rejects an XML declaration between stanzas',
        input: `${HEADER}<?xml version='1.0'?>`,
        events: [START, restricted('processing instructions are not allowed')],
      },
      {
        name: 'rejects an undeclared entity in text',
        input: `${HEADER}<m>&nbsp;</m>`,
        events: [START, restricted("entity reference '&nbsp;' is not allowed")],
      },
      {
        name: 'rejects an undeclared entity in an attribute',
        input: `${HEADER}<m a='&copy;'/>`,
        events: [START, restricted("entity reference '&copy;' is not allowed")],
      },
    ]);
  });

  describe('well-formedness', () => {
    runTable([
      {
        name: 'rejects a mismatched end tag',
        input: `${HEADER}<m><body></m></body>`,
        events: [START, nwf("end tag does not match the start tag 'body'")],
      },
      {
        name: 'rejects an end tag longer than the start tag',
        input: `${HEADER}<m></mm>`,
        events: [START, nwf("end tag does not match the start tag 'm'")],
      },
      {
        name: 'rejects an empty end tag',
        input: `${HEADER}<m></>`,
        events: [START, nwf("end tag does not match the start tag 'm'")],
      },
      {
        name: 'rejects a duplicate attribute',
        input: `${HEADER}<m a='1' b='2' a='3'/>`,
        events: [START, nwf("duplicate attribute 'a'")],
      },
      {
        name: 'rejects two attributes with the same namespace and local name',
        input: `${HEADER}<m xmlns:p='urn:x' xmlns:q='urn:x' p:a='1' q:a='2'/>`,
        events: [START, nwf("duplicate attribute 'q:a' (same namespace and name)")],
      },
      {
        name: 'rejects < in an attribute value',
        input: `${HEADER}<m a='1<2'/>`,
        events: [START, nwf("'<' is not allowed in an attribute value")],
      },
      {
        name: 'rejects an unquoted attribute value',
        input: `${HEADER}<m a=1/>`,
        events: [START, nwf("value of attribute 'a' is not quoted")],
      },
      {
        name: 'rejects an attribute without a value',
        input: `${HEADER}<m a b='1'/>`,
        events: [START, nwf("attribute 'a' has no value")],
      },
      {
        name: 'rejects attributes not separated by whitespace',
        input: `${HEADER}<m a='1'b='2'/>`,
        events: [START, nwf('attributes must be separated by whitespace')],
      },
      {
        name: 'rejects a name starting with a digit',
        input: `${HEADER}<1m/>`,
        events: [START, nwf("invalid character after '<'")],
      },
      {
        name: 'rejects whitespace after <',
        input: `${HEADER}< m/>`,
        events: [START, nwf("invalid character after '<'")],
      },
      {
        name: 'rejects a name with two colons',
        input: `${HEADER}<a:b:c xmlns:a='urn:a'/>`,
        events: [START, nwf("invalid element name 'a:b:c'")],
      },
      {
        name: 'rejects a name starting with a colon',
        input: `${HEADER}<:m/>`,
        events: [START, nwf("invalid element name ':m'")],
      },
      {
        name: 'rejects an invalid character in an element name',
        input: `${HEADER}<m!/>`,
        events: [START, nwf("invalid character in element name 'm'")],
      },
      {
        name: 'rejects an invalid attribute name',
        input: `${HEADER}<m a:='1'/>`,
        events: [START, nwf("invalid attribute name 'a:'")],
      },
      {
        name: 'rejects an illegal control character in text',
        input: `${HEADER}<m>a\u0001b</m>`,
        events: [START, nwf('illegal character U+0001')],
      },
      {
        name: 'rejects an illegal control character in an attribute',
        input: `${HEADER}<m a='\u000c'/>`,
        events: [START, nwf('illegal character U+000C')],
      },
      {
        name: 'rejects U+FFFE in text',
        input: `${HEADER}<m>\ufffe</m>`,
        events: [START, nwf('illegal character U+FFFE')],
      },
      {
        name: 'rejects U+FFFF in an attribute',
        input: `${HEADER}<m a='\uffff'/>`,
        events: [START, nwf('illegal character U+FFFF')],
      },
      {
        name: 'rejects an illegal character in CDATA',
        input: `${HEADER}<m><![CDATA[\u0000]]></m>`,
        events: [START, nwf('illegal character U+0000')],
      },
      {
        name: 'rejects a character reference to NUL',
        input: `${HEADER}<m>&#0;</m>`,
        events: [START, nwf("character reference '&#0;' is not a legal XML character")],
      },
      {
        name: 'rejects a character reference to a surrogate',
        input: `${HEADER}<m>&#xD800;</m>`,
        events: [START, nwf("character reference '&#xD800;' is not a legal XML character")],
      },
      {
        name: 'rejects a character reference beyond U+10FFFF',
        input: `${HEADER}<m a='&#x110000;'/>`,
        events: [START, nwf("character reference '&#x110000;' is not a legal XML character")],
      },
      {
        name: 'rejects a malformed character reference',
        input: `${HEADER}<m>&#x;</m>`,
        events: [START, nwf("malformed character reference '&#x;'")],
      },
      {
        name: 'rejects an upper-case X in a hex character reference',
        input: `${HEADER}<m>&#X41;</m>`,
        events: [START, nwf("malformed character reference '&#X41;'")],
      },
      {
        name: 'rejects a bare ampersand',
        input: `${HEADER}<m>fish & chips</m>`,
        events: [START, nwf("'&' must start an entity or character reference")],
      },
      {
        name: 'rejects an empty reference',
        input: `${HEADER}<m>&;</m>`,
        events: [START, nwf("malformed entity reference '&;'")],
      },
      {
        name: 'rejects an endless reference',
        input: `${HEADER}<m>&${'a'.repeat(100)};</m>`,
        events: [START, nwf('entity or character reference too long')],
      },
      {
        name: "rejects ']]>' in text",
        input: `${HEADER}<m>a]]>b</m>`,
        events: [START, nwf("']]>' is not allowed in character data")],
      },
      {
        name: 'rejects non-whitespace text between stanzas',
        input: `${HEADER}<presence/>hello`,
        events: [START, ['stanza', '<presence/>', 'jabber:client'], nwf('character data outside a stanza')],
      },
      {
        name: 'rejects a CDATA section between stanzas',
        input: `${HEADER}<![CDATA[ ]]>`,
        events: [START, nwf('CDATA section outside a stanza')],
      },
      {
        name: 'rejects a malformed CDATA opening',
        input: `${HEADER}<m><![CDAT[x]]></m>`,
        events: [START, nwf('malformed CDATA section')],
      },
      {
        name: 'rejects an unbound element prefix',
        input: `${HEADER}<m><x:y/></m>`,
        events: [START, nwf("namespace prefix 'x' is not declared")],
      },
      {
        name: 'rejects an unbound attribute prefix',
        input: `${HEADER}<m x:a='1'/>`,
        events: [START, nwf("namespace prefix 'x' is not declared")],
      },
      {
        name: 'rejects a prefix declared only on a sibling',
        input: `${HEADER}<m><a xmlns:x='urn:x'/><x:b/></m>`,
        events: [START, nwf("namespace prefix 'x' is not declared")],
      },
      {
        name: 'rejects undeclaring a prefix',
        input: `${HEADER}<m xmlns:x=''/>`,
        events: [START, nwf("namespace prefix 'x' cannot be undeclared")],
      },
      {
        name: 'rejects declaring the xmlns prefix',
        input: `${HEADER}<m xmlns:xmlns='urn:x'/>`,
        events: [START, nwf("the prefix 'xmlns' cannot be declared")],
      },
      {
        name: 'rejects binding xml to another namespace',
        input: `${HEADER}<m xmlns:xml='urn:x'/>`,
        events: [START, nwf("the prefix 'xml' cannot be bound to another namespace")],
      },
      {
        name: 'rejects an element in the xmlns prefix',
        input: `${HEADER}<xmlns:m/>`,
        events: [START, nwf("element names cannot use the prefix 'xmlns'")],
      },
      {
        name: 'rejects garbage after /',
        input: `${HEADER}<m/ >`,
        events: [START, nwf("expected '>' after '/'")],
      },
      {
        name: 'rejects garbage in an end tag',
        input: `${HEADER}<m></m x>`,
        events: [START, nwf('invalid character in an end tag')],
      },
    ]);
  });

  describe('byte budget', () => {
    const limit = 100;
    runTable([
      {
        name: 'accepts a stanza of exactly the budget, counted in UTF-8 bytes',
        input: SHORT_HEADER + stanzaOfBytes(limit),
        limits: { maxStanzaBytes: limit },
        events: [SHORT_START, ['stanza', stanzaOfBytes(limit), undefined]],
      },
      {
        name: 'rejects a stanza one byte over',
        input: SHORT_HEADER + stanzaOfBytes(limit + 1),
        limits: { maxStanzaBytes: limit },
        events: [SHORT_START, ['error', 'policy-violation', 'stanza exceeds 100 bytes']],
      },
      {
        name: 'rejects a stanza whose last character crosses the budget',
        input: `${SHORT_HEADER}<m>${'a'.repeat(limit - 3 - 2)}€</m>`,
        limits: { maxStanzaBytes: limit },
        events: [SHORT_START, ['error', 'policy-violation', 'stanza exceeds 100 bytes']],
      },
      {
        name: 'rejects an endless stanza while it is being fed',
        input: `${SHORT_HEADER}<m>${'é'.repeat(1000)}<<<`,
        limits: { maxStanzaBytes: limit },
        events: [SHORT_START, ['error', 'policy-violation', 'stanza exceeds 100 bytes']],
      },
      {
        name: 'reports the budget, not a later syntax error, when both fall in one chunk',
        // 60 characters of 2 bytes each: over budget in bytes, not in characters.
        input: `${SHORT_HEADER}<m>${'é'.repeat(60)}<<`,
        limits: { maxStanzaBytes: limit },
        events: [SHORT_START, ['error', 'policy-violation', 'stanza exceeds 100 bytes']],
      },
      {
        name: 'rejects an endless start tag',
        input: `${SHORT_HEADER}<m a='${'x'.repeat(1000)}`,
        limits: { maxStanzaBytes: limit },
        events: [SHORT_START, ['error', 'policy-violation', 'stanza exceeds 100 bytes']],
      },
      {
        name: 'reports an error that comes before the budget runs out',
        input: `${SHORT_HEADER}<m><</m>${'x'.repeat(1000)}`,
        limits: { maxStanzaBytes: limit },
        events: [SHORT_START, nwf("invalid character after '<'")],
      },
      {
        name: 'counts neither the whitespace before a stanza nor keepalives between stanzas',
        input: `${SHORT_HEADER}${' \r\n\t'.repeat(500)}${stanzaOfBytes(limit)}${' '.repeat(2000)}${stanzaOfBytes(limit)}\n`,
        limits: { maxStanzaBytes: limit },
        events: [
          SHORT_START,
          ['stanza', stanzaOfBytes(limit), undefined],
          ['stanza', stanzaOfBytes(limit), undefined],
        ],
      },
      {
        name: 'gives each stanza its own budget',
        input: SHORT_HEADER + stanzaOfBytes(limit).repeat(5),
        limits: { maxStanzaBytes: limit },
        events: [SHORT_START, ...Array(5).fill(['stanza', stanzaOfBytes(limit), undefined])],
      },
      {
        name: 'accepts a stream header of exactly the budget',
        input: SHORT_HEADER,
        limits: { maxStanzaBytes: Buffer.byteLength(SHORT_HEADER) },
        events: [SHORT_START],
      },
      {
        name: 'rejects a stream header one byte over',
        input: SHORT_HEADER,
        limits: { maxStanzaBytes: Buffer.byteLength(SHORT_HEADER) - 1 },
        events: [
          ['error', 'policy-violation', `stream header exceeds ${Buffer.byteLength(SHORT_HEADER) - 1} bytes`],
        ],
      },
      {
        name: 'rejects endless whitespace before the stream header',
        input: ' '.repeat(1000),
        limits: { maxStanzaBytes: limit },
        events: [['error', 'policy-violation', 'stream header exceeds 100 bytes']],
      },
    ]);
  });

  describe('depth limit', () => {
    runTable([
      {
        name: 'accepts elements nested exactly to the limit (the stream is depth 1)',
        input: `${HEADER}<a><b><c/></b></a>`,
        limits: { maxDepth: 4 },
        events: [START, ['stanza', '<a><b><c/></b></a>', 'jabber:client']],
      },
      {
        name: 'rejects one level deeper',
        input: `${HEADER}<a><b><c><d/></c></b></a>`,
        limits: { maxDepth: 4 },
        events: [START, ['error', 'policy-violation', 'elements nested more than 4 deep']],
      },
      {
        name: 'accepts 31 nested elements in a stanza by default (depth 32)',
        input: `${HEADER}${'<a>'.repeat(31)}${'</a>'.repeat(31)}`,
        events: [START, ['stanza', `${'<a>'.repeat(30)}<a/>${'</a>'.repeat(30)}`, 'jabber:client']],
      },
      {
        name: 'rejects 32 nested elements in a stanza by default (depth 33)',
        input: `${HEADER}${'<a>'.repeat(32)}`,
        events: [START, ['error', 'policy-violation', 'elements nested more than 32 deep']],
      },
    ]);
  });

  describe('attribute limit', () => {
    const attributes = (n: number, prefix = '') =>
      Array.from({ length: n }, (_, k) => ` ${prefix}a${k}='${k}'`).join('');
    runTable([
      {
        name: 'accepts 256 attributes on one element',
        input: `${HEADER}<m${attributes(256)}/>`,
        events: [START, ['stanza', `<m${attributes(256).replaceAll("'", '"')}/>`, 'jabber:client']],
      },
      {
        name: 'rejects a 257th, prefixed or not, before reading further',
        input: `${HEADER}<m xmlns:p='urn:example'${attributes(256, 'p:')} p:a256='' oops`,
        events: [START, ['error', 'policy-violation', 'more than 256 attributes on one element']],
      },
      {
        name: 'counts each element on its own',
        input: `${HEADER}<m${attributes(200)}><c${attributes(200)}/></m>`,
        events: [
          START,
          [
            'stanza',
            `<m${attributes(200).replaceAll("'", '"')}><c${attributes(200).replaceAll("'", '"')}/></m>`,
            'jabber:client',
          ],
        ],
      },
    ]);
  });

  describe('reset and stop from callbacks', () => {
    const sasl = "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>";
    runTable([
      {
        name: 'reset() inside a stanza callback parses the rest of the chunk as a new stream',
        input: `${HEADER}${sasl}${HEADER}<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>`,
        onStanza: (el, parser) => {
          if (el.name === 'success') parser.reset();
        },
        events: [
          START,
          [
            'stanza',
            '<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl"/>',
            'urn:ietf:params:xml:ns:xmpp-sasl',
          ],
          START,
          [
            'stanza',
            '<iq type="set" id="b"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/></iq>',
            'jabber:client',
          ],
        ],
      },
      {
        name: 'reset() forgets the old header: its prefixes no longer apply',
        input: `<stream:stream xmlns:stream='${NS_STREAM}' xmlns:db='urn:db'>${sasl}${SHORT_HEADER}<db:x/>`,
        onStanza: (el, parser) => {
          if (el.name === 'success') parser.reset();
        },
        events: [
          ['start', 'stream:stream', { 'xmlns:stream': NS_STREAM, 'xmlns:db': 'urn:db' }],
          [
            'stanza',
            '<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl" xmlns:db="urn:db"/>',
            'urn:ietf:params:xml:ns:xmpp-sasl',
          ],
          SHORT_START,
          nwf("namespace prefix 'db' is not declared"),
        ],
      },
      {
        name: 'stop() inside a stanza callback discards the rest (STARTTLS)',
        input: bytes(
          HEADER,
          "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
          [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03],
          '<m>',
        ),
        onStanza: (_el, parser) => parser.stop(),
        events: [
          START,
          [
            'stanza',
            '<starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"/>',
            'urn:ietf:params:xml:ns:xmpp-tls',
          ],
        ],
      },
    ]);

    it('stop() inside streamStart discards the rest', () => {
      const events: string[] = [];
      const parser = new StreamParser({
        streamStart: () => {
          events.push('start');
          parser.stop();
        },
        stanza: () => events.push('stanza'),
        streamEnd: () => events.push('end'),
        error: () => events.push('error'),
      });
      parser.write(Buffer.from(`${HEADER}<presence/>garbage`));
      parser.write(Buffer.from('<more/>'));
      expect(events).to.deep.equal(['start']);
    });

    it('reset() between writes expects a new header', () => {
      const events = feedWithReset([`${HEADER}<presence/>`, `${HEADER}<presence/>`]);
      expect(events).to.deep.equal(['start', 'stanza', 'start', 'stanza']);
    });
  });

  describe('after an error', () => {
    it('ignores all further input, and reset() does not revive the parser', () => {
      const events: Expected[] = [];
      const parser = new StreamParser({
        streamStart: (name, attrs) => events.push(['start', name, { ...attrs }]),
        stanza: (el, ns) => events.push(['stanza', el.toString(), ns]),
        streamEnd: () => events.push(['end']),
        error: (condition, text) => events.push(['error', condition, text]),
      });
      parser.write(Buffer.from(`${HEADER}<m>&bogus;</m><presence/>`));
      parser.write(Buffer.from('<presence/>'));
      parser.reset();
      parser.write(Buffer.from(`${HEADER}<presence/>`));
      expect(events).to.deep.equal([START, restricted("entity reference '&bogus;' is not allowed")]);
    });
  });

  describe('elements built', () => {
    function stanzas(input: string): Array<[Element, string | undefined]> {
      const out: Array<[Element, string | undefined]> = [];
      new StreamParser({
        streamStart: () => {},
        stanza: (el, ns) => out.push([el, ns]),
        streamEnd: () => {},
        error: (condition, text) => {
          throw new Error(`${condition}: ${text}`);
        },
      }).write(Buffer.from(input));
      return out;
    }

    it('resolves getNS() on children through the stanza', () => {
      const [[iq, ns]] = stanzas(
        `${HEADER}<iq type='result' id='r'><query xmlns='jabber:iq:roster'><item jid='a@b'><group>g</group></item></query><p:x xmlns:p='urn:p'><p:y/></p:x></iq>`,
      );
      expect(ns).to.equal('jabber:client');
      const query = iq.getChild('query', 'jabber:iq:roster')!;
      expect(query.getNS()).to.equal('jabber:iq:roster');
      expect(query.getChild('item')!.getNS()).to.equal('jabber:iq:roster');
      expect(query.getChild('item')!.getChild('group')!.text).to.equal('g');
      expect(iq.getChild('x')!.getChild('y')!.getNS()).to.equal('urn:p');
    });

    it('resolves a header-declared prefix on a child of a top-level element', () => {
      const [[result]] = stanzas(
        `<stream:stream xmlns='jabber:server' xmlns:db='jabber:server:dialback' xmlns:stream='${NS_STREAM}'><message><db:x/></message>`,
      );
      expect(result.getChild('x')!.getNS()).to.equal('jabber:server:dialback');
      expect(result.clone().getChild('x')!.getNS()).to.equal('jabber:server:dialback');
    });

    it('merges adjacent text into one string child and keeps text around children apart', () => {
      const [[m]] = stanzas(`${HEADER}<m>a&amp;b<![CDATA[c]]>d<x/>e&#x66;</m>`);
      expect(m.children.length).to.equal(3);
      expect(m.children[0]).to.equal('a&bcd');
      expect((m.children[1] as Element).name).to.equal('x');
      expect(m.children[2]).to.equal('ef');
    });
  });

  describe('limits', () => {
    it('rejects nonsensical limits', () => {
      const handler = { streamStart() {}, stanza() {}, streamEnd() {}, error() {} };
      expect(() => new StreamParser(handler, { maxStanzaBytes: 0 })).to.throw(RangeError);
      expect(() => new StreamParser(handler, { maxDepth: 1.5 })).to.throw(RangeError);
    });
  });
});

function feedWithReset(chunks: string[]): string[] {
  const events: string[] = [];
  const parser = new StreamParser({
    streamStart: () => events.push('start'),
    stanza: () => events.push('stanza'),
    streamEnd: () => events.push('end'),
    error: (condition) => events.push(condition),
  });
  for (const chunk of chunks) {
    parser.write(Buffer.from(chunk));
    parser.reset();
  }
  return events;
}

describe('StreamParser throughput (prints a rate, asserts no time)', () => {
  it('parses 10 MB of small message stanzas', () => {
    const stanza =
      "<message to='juliet@capulet.example/balcony' from='romeo@montague.example/orchard' type='chat' id='ktx72v49'><body>Art thou not Romeo, and a Montague? &amp; more</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>\n";
    const count = Math.ceil((10 * 1024 * 1024) / stanza.length);
    const input = Buffer.from(HEADER + stanza.repeat(count));
    const chunks: Buffer[] = [];
    for (let k = 0; k < input.length; k += 65536) chunks.push(input.subarray(k, k + 65536));
    let seen = 0;
    const parser = new StreamParser({
      streamStart: () => {},
      stanza: () => {
        seen++;
      },
      streamEnd: () => {},
      error: (condition, text) => {
        throw new Error(`${condition}: ${text}`);
      },
    });
    const started = process.hrtime.bigint();
    for (const chunk of chunks) parser.write(chunk);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    expect(seen).to.equal(count);
    const mb = input.length / (1024 * 1024);
    console.log(
      `      ${mb.toFixed(1)} MB, ${count} stanzas in ${ms.toFixed(0)} ms: ` +
        `${(mb / (ms / 1000)).toFixed(0)} MB/s, ${Math.round(count / (ms / 1000))} stanzas/s`,
    );
  });
});
