// XEP-0160 §3 / XEP-0085 §5.5 / XEP-0334 §4: which messages for an offline user are stored,
// and the stored form with its XEP-0203 notation.

import { expect } from 'chai';
import { parseStored } from '../../src/xml/fragment.js';
import { type OfflineFate, offlineFate } from '../../xeps/0160-offline/policy.js';
import { storedForm } from '../../xeps/0160-offline/stored-stanza.js';

const CHATSTATES = 'http://jabber.org/protocol/chatstates';
const HINTS = 'urn:xmpp:hints';

/** A message as it comes off a client stream: in jabber:client, without its own xmlns. */
const message = (xml: string) => parseStored(xml);

describe('offline storage policy', () => {
  const cases: Array<[string, string, OfflineFate]> = [
    ['a chat message with a body', `<message type='chat'><body>hi</body></message>`, 'store'],
    ['a message without type (normal) with a body', '<message><body>hi</body></message>', 'store'],
    [
      'a normal message with only a subject',
      `<message type='normal'><subject>s</subject></message>`,
      'store',
    ],
    ['an unknown type, handled as normal', `<message type='bogus'><body>hi</body></message>`, 'store'],
    ['a headline', `<message type='headline'><body>news</body></message>`, 'discard'],
    ['an error', `<message type='error'><body>hi</body><error type='cancel'/></message>`, 'discard'],
    ['a groupchat message', `<message type='groupchat'><body>hi</body></message>`, 'refuse'],
    [
      'a standalone chat state',
      `<message type='chat'><composing xmlns='${CHATSTATES}'/></message>`,
      'discard',
    ],
    [
      'a chat state with thread, origin-id and delay',
      `<message type='chat'><thread>t1</thread><paused xmlns='${CHATSTATES}'/>` +
        `<origin-id xmlns='urn:xmpp:sid:0' id='o1'/><delay xmlns='urn:xmpp:delay' stamp='2020-01-01T00:00:00Z'/></message>`,
      'discard',
    ],
    [
      'a XEP-0022 composing event',
      `<message><x xmlns='jabber:x:event'><composing/></x></message>`,
      'discard',
    ],
    ['an empty message', `<message type='chat'/>`, 'discard'],
    [
      'a body with a chat state',
      `<message type='chat'><body>hi</body><active xmlns='${CHATSTATES}'/></message>`,
      'store',
    ],
    ['a delivery receipt', `<message><received xmlns='urn:xmpp:receipts' id='m1'/></message>`, 'store'],
    [
      'an OMEMO message without a body',
      `<message type='chat'><encrypted xmlns='eu.siacs.conversations.axolotl'><payload>AA==</payload></encrypted></message>`,
      'store',
    ],
    [
      'a body with <no-store/>',
      `<message type='chat'><body>hi</body><no-store xmlns='${HINTS}'/></message>`,
      'refuse',
    ],
    [
      'a chat state with <no-store/>',
      `<message type='chat'><active xmlns='${CHATSTATES}'/><no-store xmlns='${HINTS}'/></message>`,
      'discard',
    ],
    [
      'a body with <no-permanent-store/>',
      `<message type='chat'><body>hi</body><no-permanent-store xmlns='${HINTS}'/></message>`,
      'store',
    ],
    [
      'a chat state with <store/>',
      `<message type='chat'><gone xmlns='${CHATSTATES}'/><store xmlns='${HINTS}'/></message>`,
      'store',
    ],
    [
      'a body with both <store/> and <no-store/>',
      `<message><body>hi</body><store xmlns='${HINTS}'/><no-store xmlns='${HINTS}'/></message>`,
      'refuse',
    ],
  ];
  for (const [what, xml, fate] of cases) {
    it(`${fate}: ${what}`, () => {
      expect(offlineFate(message(xml))).to.equal(fate);
    });
  }
});

describe('stored offline messages', () => {
  const at = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678));

  it('appends the delay notation from the host, dropping the stanza xmlns and leaving the message untouched', () => {
    const original = message(`<message to='bob@example.org' type='chat' id='m1'><body>hi</body></message>`);
    original.attrs.xmlns = 'jabber:client';
    original.attrs.from = 'alice@example.org/a';
    const before = original.toString();
    expect(storedForm(original, 'example.org', at)).to.equal(
      '<message to="bob@example.org" type="chat" id="m1" from="alice@example.org/a"><body>hi</body>' +
        '<delay xmlns="urn:xmpp:delay" from="example.org" stamp="2024-01-02T03:04:05.678Z">Offline Storage</delay>' +
        '</message>',
    );
    expect(original.toString()).to.equal(before);
  });

  it('drops a notation forged in the name of the host and keeps other ones', () => {
    const original = message(
      `<message to='bob@example.org'><body>hi</body>` +
        `<delay xmlns='urn:xmpp:delay' from='example.org' stamp='2000-01-01T00:00:00Z'/>` +
        `<delay xmlns='urn:xmpp:delay' from='alice@example.org/a' stamp='2001-01-01T00:00:00Z'/></message>`,
    );
    expect(storedForm(original, 'example.org', at)).to.equal(
      '<message to="bob@example.org"><body>hi</body>' +
        '<delay xmlns="urn:xmpp:delay" from="alice@example.org/a" stamp="2001-01-01T00:00:00Z"/>' +
        '<delay xmlns="urn:xmpp:delay" from="example.org" stamp="2024-01-02T03:04:05.678Z">Offline Storage</delay>' +
        '</message>',
    );
  });

  it('keeps its own notation on a message handed back unacknowledged (XEP-0198), and adds none', () => {
    const stored = storedForm(
      message(`<message to='bob@example.org' id='m1'><body>hi</body></message>`),
      'example.org',
      new Date(Date.UTC(2023, 5, 6, 7, 8, 9, 10)),
    );
    // Delivered from storage to a session that ended before acknowledging it, and stored again.
    expect(storedForm(parseStored(stored), 'example.org', at, true)).to.equal(stored);
    // One that went to a live session first gets the time it comes back.
    expect(storedForm(message(`<message to='bob@example.org'/>`), 'example.org', at, true)).to.equal(
      '<message to="bob@example.org">' +
        '<delay xmlns="urn:xmpp:delay" from="example.org" stamp="2024-01-02T03:04:05.678Z">Offline Storage</delay>' +
        '</message>',
    );
  });

  it('reads back what it stored, special characters and foreign namespaces included', () => {
    const original = message(
      `<message to='bob@example.org' id='a&amp;&quot;b'><body>1 &lt; 2 &amp; "q"</body>` +
        `<x xmlns='jabber:x:oob'><url>https://example.org/?a=1&amp;b=2</url></x></message>`,
    );
    const stored = storedForm(original, 'example.org', at);
    const read = parseStored(stored);
    expect(read.toString()).to.equal(stored);
    expect(read.attrs.id).to.equal('a&"b');
    expect(read.getChildText('body')).to.equal('1 < 2 & "q"');
    expect(read.getChild('x', 'jabber:x:oob')?.getChildText('url')).to.equal('https://example.org/?a=1&b=2');
    expect(read.getChild('delay', 'urn:xmpp:delay')?.attrs.stamp).to.equal('2024-01-02T03:04:05.678Z');
  });
});
