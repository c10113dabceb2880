// XEP-0280 Message Carbons, the pure parts: §6.1 which messages are copied (with §9 <private/>,
// XEP-0334 <no-copy/> and the MUC rules), the copy's wrapper (§7, §8 with XEP-0297), the memory
// of copied messages that errors answer, and the per-session enabled state (§4, §5, §10.1).

import { expect } from 'chai';
import type { ClientSession } from '../../src/core/session.js';
import { jid } from '../../src/jid.js';
import { parseStored } from '../../src/xml/fragment.js';
import { carbonCopy } from '../../xeps/0280-carbons/copy.js';
import {
  type CarbonDirection,
  type CarbonReason,
  carbonVerdict,
  carriesCarbon,
} from '../../xeps/0280-carbons/eligibility.js';
import { EnabledSessions } from '../../xeps/0280-carbons/enabled-sessions.js';
import { RecentMessages } from '../../xeps/0280-carbons/recent-messages.js';

const CARBONS = 'urn:xmpp:carbons:2';
const HINTS = 'urn:xmpp:hints';
const CHATSTATES = 'http://jabber.org/protocol/chatstates';
const MUC_USER = 'http://jabber.org/protocol/muc#user';

/** A message as it comes off a client stream: in jabber:client, without its own xmlns. */
const message = (xml: string) => parseStored(xml);

describe('carbons: which messages are copied (XEP-0280 §6.1)', () => {
  // [what, message, direction, answers a copied message, copied, reason]
  const cases: Array<[string, string, CarbonDirection, boolean, boolean, CarbonReason]> = [
    ['a chat message', `<message type='chat'><body>hi</body></message>`, 'received', false, true, 'chat'],
    [
      'a chat message, sent',
      `<message type='chat' to='b@x'><body>hi</body></message>`,
      'sent',
      false,
      true,
      'chat',
    ],
    ['a chat message without payload', `<message type='chat'/>`, 'received', false, true, 'chat'],
    [
      'a normal message with a body',
      '<message><body>hi</body></message>',
      'received',
      false,
      true,
      'normal-with-body',
    ],
    [
      'an explicit normal message with a body',
      `<message type='normal'><body>hi</body></message>`,
      'sent',
      false,
      true,
      'normal-with-body',
    ],
    [
      'an unknown type, taken as normal',
      `<message type='bogus'><body>hi</body></message>`,
      'received',
      false,
      true,
      'normal-with-body',
    ],
    [
      'a normal message with only a subject',
      '<message><subject>s</subject></message>',
      'received',
      false,
      false,
      'not-im',
    ],
    ['an empty normal message', '<message/>', 'received', false, false, 'not-im'],
    [
      'a headline with a body',
      `<message type='headline'><body>news</body></message>`,
      'received',
      false,
      false,
      'not-im',
    ],
    [
      'a chat state alone, as chat (§10.2: intentional)',
      `<message type='chat'><composing xmlns='${CHATSTATES}'/></message>`,
      'sent',
      false,
      true,
      'chat',
    ],
    [
      'a chat state alone, as normal (XEP-0085)',
      `<message><active xmlns='${CHATSTATES}'/></message>`,
      'received',
      false,
      true,
      'im-payload',
    ],
    [
      'a delivery receipt (XEP-0184)',
      `<message><received xmlns='urn:xmpp:receipts' id='m1'/></message>`,
      'sent',
      false,
      true,
      'im-payload',
    ],
    [
      'a chat marker (XEP-0333)',
      `<message><displayed xmlns='urn:xmpp:chat-markers:0' id='m1'/></message>`,
      'received',
      false,
      true,
      'im-payload',
    ],
    [
      'a chat message with <private/>',
      `<message type='chat'><body>hi</body><private xmlns='${CARBONS}'/></message>`,
      'sent',
      false,
      false,
      'private',
    ],
    [
      'a chat message with <private/> and <no-copy/> (§9)',
      `<message type='chat'><body>hi</body><private xmlns='${CARBONS}'/><no-copy xmlns='${HINTS}'/></message>`,
      'received',
      false,
      false,
      'private',
    ],
    [
      'a chat message with <no-copy/> alone (XEP-0334 §4)',
      `<message type='chat'><body>hi</body><no-copy xmlns='${HINTS}'/></message>`,
      'sent',
      false,
      false,
      'no-copy',
    ],
    [
      'a <private/> in another namespace means nothing',
      `<message type='chat'><body>hi</body><private xmlns='urn:example'/></message>`,
      'sent',
      false,
      true,
      'chat',
    ],
    [
      'a message carrying a received copy',
      `<message type='chat'><received xmlns='${CARBONS}'><forwarded xmlns='urn:xmpp:forward:0'/></received></message>`,
      'received',
      false,
      false,
      'carbon',
    ],
    [
      'a message carrying a sent copy',
      `<message type='chat'><sent xmlns='${CARBONS}'><forwarded xmlns='urn:xmpp:forward:0'/></sent></message>`,
      'sent',
      false,
      false,
      'carbon',
    ],
    [
      'a groupchat message with a body',
      `<message type='groupchat'><body>hi all</body></message>`,
      'received',
      false,
      false,
      'groupchat',
    ],
    [
      'a groupchat chat state',
      `<message type='groupchat'><active xmlns='${CHATSTATES}'/></message>`,
      'sent',
      false,
      false,
      'groupchat',
    ],
    [
      'an error answering a copied message',
      `<message type='error'><body>hi</body><error type='cancel'/></message>`,
      'received',
      true,
      true,
      'error-to-copied-message',
    ],
    [
      'an error answering anything else, even with an echoed body',
      `<message type='error'><body>hi</body><error type='cancel'/></message>`,
      'received',
      false,
      false,
      'error',
    ],
    [
      'an error sent by the client, answering a copied message',
      `<message type='error' to='b@x/r'><error type='cancel'/></message>`,
      'sent',
      true,
      true,
      'error-to-copied-message',
    ],
    [
      'an error with <no-copy/>',
      `<message type='error'><error type='cancel'/><no-copy xmlns='${HINTS}'/></message>`,
      'received',
      true,
      false,
      'no-copy',
    ],
    [
      'the answer flag means nothing for a chat message',
      `<message type='chat'><body>hi</body></message>`,
      'received',
      true,
      true,
      'chat',
    ],
    [
      'a direct MUC invitation (XEP-0249)',
      `<message><x xmlns='jabber:x:conference' jid='room@muc.x'/></message>`,
      'received',
      false,
      true,
      'invitation',
    ],
    [
      'a mediated invitation from the room',
      `<message from='room@muc.x'><x xmlns='${MUC_USER}'><invite from='b@x/r'/></x></message>`,
      'received',
      false,
      true,
      'invitation',
    ],
    [
      'a mediated invitation sent to the room',
      `<message to='room@muc.x'><x xmlns='${MUC_USER}'><invite to='c@x'/></x></message>`,
      'sent',
      false,
      true,
      'invitation',
    ],
    [
      'a private message from a MUC occupant',
      `<message type='chat' from='room@muc.x/nick'><body>psst</body><x xmlns='${MUC_USER}'/></message>`,
      'received',
      false,
      false,
      'muc-private-message-received',
    ],
    [
      'a private message to a MUC occupant',
      `<message type='chat' to='room@muc.x/nick'><body>psst</body><x xmlns='${MUC_USER}'/></message>`,
      'sent',
      false,
      true,
      'muc-private-message-sent',
    ],
    [
      'a private message to a MUC occupant with a private element',
      `<message type='chat' to='room@muc.x/nick'><body>psst</body><x xmlns='${MUC_USER}'/><private xmlns='${CARBONS}'/></message>`,
      'sent',
      false,
      false,
      'private',
    ],
    [
      'a message from a room bare JID with <x/> (a room notice), normal with body',
      `<message from='room@muc.x'><body>notice</body><x xmlns='${MUC_USER}'/></message>`,
      'received',
      false,
      true,
      'normal-with-body',
    ],
  ];

  for (const [what, xml, direction, answers, copy, reason] of cases) {
    it(`${copy ? 'copies' : 'does not copy'} ${what}`, () => {
      const verdict = carbonVerdict(message(xml), direction, answers);
      expect({ copy: verdict.copy, reason: verdict.reason }).to.deep.equal({ copy, reason });
    });
  }

  it('judges a message from a server stream (jabber:server) the same', () => {
    const stanza = parseStored(`<message xmlns='jabber:server'><body>hi</body></message>`);
    expect(carbonVerdict(stanza, 'received', false).reason).to.equal('normal-with-body');
  });

  it('returns the same verdict object every time (no allocation per message)', () => {
    const stanza = message(`<message type='chat'><body>hi</body></message>`);
    expect(carbonVerdict(stanza, 'sent', false)).to.equal(carbonVerdict(stanza, 'received', false));
  });
});

describe('carbons: a carbon copy inside a message', () => {
  const cases: Array<[string, string, boolean]> = [
    ['a plain chat message', `<message type='chat'><body>hi</body></message>`, false],
    ['a received copy', `<message><received xmlns='${CARBONS}'/></message>`, true],
    ['a sent copy', `<message><sent xmlns='${CARBONS}'/></message>`, true],
    [
      'a receipt (received in urn:xmpp:receipts)',
      `<message><received xmlns='urn:xmpp:receipts'/></message>`,
      false,
    ],
    ['<private/> only', `<message><private xmlns='${CARBONS}'/></message>`, false],
    [
      'a copy nested deeper (a forwarded message)',
      `<message><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client'><sent xmlns='${CARBONS}'/></message></forwarded></message>`,
      false,
    ],
  ];
  for (const [what, xml, expected] of cases) {
    it(`${expected ? 'finds' : 'finds none in'} ${what}`, () => {
      expect(carriesCarbon(message(xml))).to.equal(expected);
    });
  }
});

describe('carbons: the copy (XEP-0280 §7, §8)', () => {
  it('wraps a received message for one resource, the original in jabber:client', () => {
    const original = message(
      `<message from='juliet@capulet.example/balcony' to='romeo@montague.example/garden' type='chat' id='m1'>` +
        '<body>What man art thou?</body><thread>t1</thread></message>',
    );
    const copy = carbonCopy('received', original, 'romeo@montague.example', 'romeo@montague.example/home');
    expect(copy.toString()).to.equal(
      `<message from="romeo@montague.example" to="romeo@montague.example/home" type="chat">` +
        `<received xmlns="${CARBONS}"><forwarded xmlns="urn:xmpp:forward:0">` +
        `<message xmlns="jabber:client" from="juliet@capulet.example/balcony" to="romeo@montague.example/garden" type="chat" id="m1">` +
        '<body>What man art thou?</body><thread>t1</thread></message></forwarded></received></message>',
    );
  });

  it('wraps a sent message in <sent/>, keeping the absence of a type', () => {
    const original = message(`<message from='r@m.example/home' to='j@c.example'><body>hi</body></message>`);
    expect(carbonCopy('sent', original, 'r@m.example', 'r@m.example/garden').toString()).to.equal(
      `<message from="r@m.example" to="r@m.example/garden"><sent xmlns="${CARBONS}">` +
        `<forwarded xmlns="urn:xmpp:forward:0"><message xmlns="jabber:client" from="r@m.example/home" to="j@c.example">` +
        '<body>hi</body></message></forwarded></sent></message>',
    );
  });

  it("puts the account's archive id inside the forwarded message of a sent copy (XEP-0313 §3.5)", () => {
    const original = message(
      `<message from='r@m.example/home' to='j@c.example' type='chat'><body>hi</body></message>`,
    );
    expect(carbonCopy('sent', original, 'r@m.example', 'r@m.example/garden', 'A1').toString()).to.equal(
      `<message from="r@m.example" to="r@m.example/garden" type="chat"><sent xmlns="${CARBONS}">` +
        `<forwarded xmlns="urn:xmpp:forward:0"><message xmlns="jabber:client" from="r@m.example/home" to="j@c.example" type="chat">` +
        '<body>hi</body><stanza-id xmlns="urn:xmpp:sid:0" by="r@m.example" id="A1"/></message></forwarded></sent></message>',
    );
    expect(original.getChildren('stanza-id')).to.deep.equal([]);
  });

  it('puts a stanza from a server stream into jabber:client', () => {
    const original = message(
      `<message xmlns='jabber:server' from='j@c.example/b' type='chat'><body>hi</body></message>`,
    );
    const inner = carbonCopy('received', original, 'r@m.example', 'r@m.example/a')
      .getChild('received')!
      .getChild('forwarded')!
      .getChild('message')!;
    expect(inner.attrs.xmlns).to.equal('jabber:client');
    expect(inner.getChild('body')!.getNS()).to.equal('jabber:client');
  });

  it('leaves the original untouched, and makes each copy a tree of its own', () => {
    const original = message(`<message from='j@c.example/b' type='chat'><body>hi</body></message>`);
    const before = original.toString();
    const a = carbonCopy('received', original, 'r@m.example', 'r@m.example/a');
    const b = carbonCopy('received', original, 'r@m.example', 'r@m.example/b');
    expect(original.toString()).to.equal(before);
    expect(original.parent).to.equal(null);
    const innerA = a.getChild('received')!.getChild('forwarded')!.getChild('message')!;
    const innerB = b.getChild('received')!.getChild('forwarded')!.getChild('message')!;
    expect(innerA).to.not.equal(innerB);
    expect(innerA.getChild('body')).to.not.equal(original.getChild('body'));
  });
});

describe('carbons: copied messages that an error may answer', () => {
  let now = 0;
  const clock = () => now;
  beforeEach(() => {
    now = 1000;
  });

  it('matches an error by account, peer and id, once', () => {
    const recent = new RecentMessages(10, 60_000, clock);
    recent.remember('a@x', 'b@y', 'm1');
    expect(recent.answers('a@x', 'b@y', 'm2')).to.equal(false);
    expect(recent.answers('a@x', 'c@y', 'm1')).to.equal(false);
    expect(recent.answers('c@x', 'b@y', 'm1')).to.equal(false);
    expect(recent.answers('a@x', 'b@y', undefined)).to.equal(false);
    expect(recent.answers('a@x', 'b@y', 'm1')).to.equal(true);
    expect(recent.answers('a@x', 'b@y', 'm1')).to.equal(false);
  });

  it('keeps an id with spaces apart from the addresses', () => {
    const recent = new RecentMessages(10, 60_000, clock);
    recent.remember('a@x', 'b@y', 'an id with spaces');
    expect(recent.answers('a@x', 'b@y', 'an id with spaces')).to.equal(true);
  });

  it('forgets a message after the window', () => {
    const recent = new RecentMessages(10, 60_000, clock);
    recent.remember('a@x', 'b@y', 'm1');
    recent.remember('a@x', 'b@y', 'm2');
    now += 59_999;
    expect(recent.answers('a@x', 'b@y', 'm1')).to.equal(true);
    now += 1;
    expect(recent.answers('a@x', 'b@y', 'm2')).to.equal(false);
  });

  it('drops expired entries as new ones come', () => {
    const recent = new RecentMessages(10, 60_000, clock);
    recent.remember('a@x', 'b@y', 'm1');
    recent.remember('a@x', 'b@y', 'm2');
    now += 60_000;
    recent.remember('a@x', 'b@y', 'm3');
    expect(recent.size).to.equal(1);
  });

  it('keeps at most its capacity, dropping the oldest', () => {
    const recent = new RecentMessages(3, 60_000, clock);
    for (const id of ['m1', 'm2', 'm3', 'm4']) recent.remember('a@x', 'b@y', id);
    expect(recent.size).to.equal(3);
    expect(recent.answers('a@x', 'b@y', 'm1')).to.equal(false);
    expect(recent.answers('a@x', 'b@y', 'm2')).to.equal(true);
    expect(recent.answers('a@x', 'b@y', 'm4')).to.equal(true);
  });

  it('renews a message remembered again, so that it is not the oldest', () => {
    const recent = new RecentMessages(2, 60_000, clock);
    recent.remember('a@x', 'b@y', 'm1');
    recent.remember('a@x', 'b@y', 'm2');
    recent.remember('a@x', 'b@y', 'm1');
    recent.remember('a@x', 'b@y', 'm3');
    expect(recent.answers('a@x', 'b@y', 'm2')).to.equal(false);
    expect(recent.answers('a@x', 'b@y', 'm1')).to.equal(true);
  });
});

describe('carbons: enabled sessions (XEP-0280 §4, §5, §10.1)', () => {
  const session = (full: string) => {
    const [bare, resource] = full.split('/') as [string, string];
    const [local, domain] = bare.split('@') as [string, string];
    return { kind: 'c2s', jid: jid(local, domain, resource) } as unknown as ClientSession;
  };

  it('keeps the state per session object, by account', () => {
    const enabled = new EnabledSessions();
    const a = session('alice@x/a');
    const b = session('alice@x/b');
    const sameResourceLater = session('alice@x/a');
    enabled.enable(a);
    enabled.enable(a);
    enabled.enable(b);
    expect([...enabled.of('alice@x')!]).to.deep.equal([a, b]);
    expect(enabled.isEnabled(sameResourceLater)).to.equal(false);
    expect(enabled.of('bob@x')).to.equal(undefined);
  });

  it('disables idempotently and forgets an account without enabled sessions', () => {
    const enabled = new EnabledSessions();
    const a = session('alice@x/a');
    enabled.disable(a);
    enabled.enable(a);
    enabled.disable(a);
    enabled.disable(a);
    expect(enabled.isEnabled(a)).to.equal(false);
    expect(enabled.of('alice@x')).to.equal(undefined);
  });
});
