// XEP-0352 Client State Indication, the pure parts: which stanzas wait for an inactive client and
// what each supersedes (importance.ts), the order in which held stanzas are let go after folding,
// and the gate's flush rules: urgent stanzas go after everything held, a full buffer goes at once.

import { expect } from 'chai';
import type { Element } from '../../src/xml/element.js';
import { parseStored } from '../../src/xml/fragment.js';
import { HeldStanzas, InactiveGate } from '../../xeps/0352-csi/gate.js';
import { type HoldPolicy, importance } from '../../xeps/0352-csi/importance.js';

const ACCOUNT = 'alice@localhost';
const ALL: HoldPolicy = { presence: true, chatStates: true, receipts: true, pep: true };

const CHATSTATES = 'http://jabber.org/protocol/chatstates';
const CARBONS = 'urn:xmpp:carbons:2';
const FORWARD = 'urn:xmpp:forward:0';
const PUBSUB_EVENT = 'http://jabber.org/protocol/pubsub#event';
const MUC_USER = 'http://jabber.org/protocol/muc#user';

/** A stanza as the server hands it to a session: in jabber:client, without its own xmlns. */
const stanza = (xml: string): Element => parseStored(xml);

const fold = (...parts: string[]) => parts.join('\0');
const URGENT = 'urgent';
const HELD = 'held';

/** The verdict as one comparable value: 'urgent', 'held', or the fold key. */
function verdictOf(xml: string, policy: HoldPolicy = ALL): string {
  const v = importance(stanza(xml), ACCOUNT, policy);
  return v.urgent ? URGENT : (v.fold ?? HELD);
}

const BOB = `from='bob@localhost/pc' to='alice@localhost/phone'`;
const composing = `<composing xmlns='${CHATSTATES}'/>`;

const carbon = (direction: 'received' | 'sent', inner: string, from = ACCOUNT) =>
  `<message from='${from}' to='alice@localhost/phone' type='chat'><${direction} xmlns='${CARBONS}'>` +
  `<forwarded xmlns='${FORWARD}'>${inner}</forwarded></${direction}></message>`;

const pepEvent = (from: string, content: string) =>
  `<message from='${from}' to='alice@localhost/phone' type='headline'>` +
  `<event xmlns='${PUBSUB_EVENT}'>${content}</event></message>`;

describe('csi: what waits for an inactive client (XEP-0352 §1)', () => {
  // [what, stanza, verdict]
  const cases: Array<[string, string, string]> = [
    // presence: the latest of each sender's resources
    [
      'available presence',
      `<presence ${BOB}><show>away</show></presence>`,
      fold('presence', 'bob@localhost/pc'),
    ],
    ['unavailable presence', `<presence ${BOB} type='unavailable'/>`, fold('presence', 'bob@localhost/pc')],
    [
      'a room occupant',
      `<presence from='room@muc.localhost/nick' to='alice@localhost/phone'><x xmlns='${MUC_USER}'><item affiliation='none' role='participant'/></x></presence>`,
      fold('presence', 'room@muc.localhost/nick'),
    ],
    [
      'the client itself in a room (status 110)',
      `<presence from='room@muc.localhost/me' to='alice@localhost/phone'><x xmlns='${MUC_USER}'><item affiliation='none' role='participant'/><status code='110'/></x></presence>`,
      URGENT,
    ],
    [
      'a subscription request',
      `<presence from='bob@localhost' to='alice@localhost' type='subscribe'/>`,
      URGENT,
    ],
    ['subscribed', `<presence from='bob@localhost' to='alice@localhost' type='subscribed'/>`, URGENT],
    ['unsubscribe', `<presence from='bob@localhost' to='alice@localhost' type='unsubscribe'/>`, URGENT],
    ['unsubscribed', `<presence from='bob@localhost' to='alice@localhost' type='unsubscribed'/>`, URGENT],
    ['a presence error', `<presence ${BOB} type='error'><error type='cancel'/></presence>`, URGENT],
    ['a presence without from', `<presence to='alice@localhost/phone'/>`, URGENT],

    // messages: chat states fold per sender and conversation
    [
      'a chat state',
      `<message ${BOB} type='chat'>${composing}</message>`,
      fold('chatstate', 'bob@localhost/pc', ACCOUNT),
    ],
    [
      'a chat state with bookkeeping (thread, ids, delay, hints)',
      `<message ${BOB} type='chat'><thread>t1</thread><paused xmlns='${CHATSTATES}'/><origin-id xmlns='urn:xmpp:sid:0' id='o'/>` +
        `<delay xmlns='urn:xmpp:delay' stamp='2024-01-01T00:00:00Z'/><no-store xmlns='urn:xmpp:hints'/></message>`,
      fold('chatstate', 'bob@localhost/pc', ACCOUNT),
    ],
    [
      'a chat state in a room',
      `<message from='room@muc.localhost/nick' to='alice@localhost/phone' type='groupchat'>${composing}</message>`,
      fold('chatstate', 'room@muc.localhost/nick', ACCOUNT),
    ],
    [
      'a chat state without from',
      `<message to='alice@localhost/phone' type='chat'>${composing}</message>`,
      HELD,
    ],
    ['a message with a body', `<message ${BOB} type='chat'><body>hi</body>${composing}</message>`, URGENT],
    ['a message with an empty body', `<message ${BOB} type='chat'><body/></message>`, URGENT],
    [
      'a room subject',
      `<message from='room@muc.localhost' to='alice@localhost/phone' type='groupchat'><subject>news</subject></message>`,
      URGENT,
    ],
    ['a message error', `<message ${BOB} type='error'>${composing}<error type='cancel'/></message>`, URGENT],
    [
      'an OMEMO message without a body',
      `<message ${BOB} type='chat'>${composing}<encrypted xmlns='eu.siacs.conversations.axolotl'><header sid='1'/></encrypted></message>`,
      URGENT,
    ],
    [
      'an OMEMO 2 message',
      `<message ${BOB} type='chat'><encrypted xmlns='urn:xmpp:omemo:2'><header sid='1'/></encrypted></message>`,
      URGENT,
    ],
    [
      'XEP-0380 explicit encryption',
      `<message ${BOB} type='chat'><encryption xmlns='urn:xmpp:eme:0' namespace='x'/></message>`,
      URGENT,
    ],
    [
      'a mediated room invitation',
      `<message from='room@muc.localhost' to='alice@localhost/phone'><x xmlns='${MUC_USER}'><invite from='bob@localhost'/></x></message>`,
      URGENT,
    ],
    [
      'a direct room invitation',
      `<message ${BOB}><x xmlns='jabber:x:conference' jid='room@muc.localhost'/></message>`,
      URGENT,
    ],
    [
      'a call',
      `<message ${BOB} type='chat'><propose xmlns='urn:xmpp:jingle-message:0' id='c'/></message>`,
      URGENT,
    ],
    ['an unknown payload', `<message ${BOB}><thing xmlns='urn:example:thing'/></message>`, URGENT],
    ['a <thread/> in another namespace', `<message ${BOB}><thread xmlns='urn:example'/></message>`, URGENT],

    // receipts and markers wait, unfolded
    ['a delivery receipt', `<message ${BOB}><received xmlns='urn:xmpp:receipts' id='m1'/></message>`, HELD],
    [
      'a displayed marker',
      `<message ${BOB} type='chat'><displayed xmlns='urn:xmpp:chat-markers:0' id='m1'/></message>`,
      HELD,
    ],
    [
      'a chat state beside a receipt',
      `<message ${BOB} type='chat'>${composing}<received xmlns='urn:xmpp:receipts' id='m1'/></message>`,
      HELD,
    ],
    ['an empty message', `<message ${BOB}/>`, HELD],

    // PEP notifications fold per item
    [
      'a PEP item',
      pepEvent(
        'bob@localhost',
        `<items node='urn:xmpp:avatar:metadata'><item id='abc'><metadata xmlns='urn:xmpp:avatar:metadata'/></item></items>`,
      ),
      fold('pep', 'bob@localhost', 'urn:xmpp:avatar:metadata', 'abc'),
    ],
    [
      'a PEP retraction',
      pepEvent(
        'bob@localhost',
        `<items node='urn:xmpp:bookmarks:1'><retract id='room@muc.localhost'/></items>`,
      ),
      fold('pep', 'bob@localhost', 'urn:xmpp:bookmarks:1', 'room@muc.localhost'),
    ],
    [
      'several PEP items',
      pepEvent('bob@localhost', `<items node='n'><item id='1'/><item id='2'/></items>`),
      HELD,
    ],
    ['a PEP item without id', pepEvent('bob@localhost', `<items node='n'><item/></items>`), HELD],
    ['a PEP purge', pepEvent('bob@localhost', `<purge node='n'/>`), URGENT],
    ['PEP items without a node', pepEvent('bob@localhost', `<items><item id='1'/></items>`), URGENT],
    [
      'PEP items beside a purge',
      pepEvent('bob@localhost', `<items node='n'><item id='1'/></items><purge node='n'/>`),
      URGENT,
    ],
    [
      'something else in a PEP item list',
      pepEvent('bob@localhost', `<items node='n'><other/></items>`),
      URGENT,
    ],

    // carbon copies are judged by what they carry
    [
      'a received copy of a chat state',
      carbon(
        'received',
        `<message xmlns='jabber:client' from='bob@localhost/pc' to='alice@localhost/laptop' type='chat'>${composing}</message>`,
      ),
      fold('chatstate', 'bob@localhost/pc', ACCOUNT),
    ],
    [
      'a sent copy of a chat state',
      carbon(
        'sent',
        `<message xmlns='jabber:client' from='alice@localhost/laptop' to='bob@localhost/pc' type='chat'>${composing}</message>`,
      ),
      fold('chatstate', 'alice@localhost/laptop', 'bob@localhost'),
    ],
    [
      'a received copy of a message with a body',
      carbon(
        'received',
        `<message xmlns='jabber:client' from='bob@localhost/pc' to='alice@localhost/laptop' type='chat'><body>hi</body></message>`,
      ),
      URGENT,
    ],
    [
      'a sent copy of a receipt',
      carbon(
        'sent',
        `<message xmlns='jabber:client' from='alice@localhost/laptop' to='bob@localhost/pc'><received xmlns='urn:xmpp:receipts' id='m'/></message>`,
      ),
      HELD,
    ],
    [
      'a copy from anyone but the account',
      carbon(
        'received',
        `<message xmlns='jabber:client' from='bob@localhost/pc' to='alice@localhost/laptop' type='chat'>${composing}</message>`,
        'bob@localhost',
      ),
      URGENT,
    ],
    ['a copy without a message', carbon('received', ''), URGENT],
    [
      'a copy inside a copy',
      carbon(
        'received',
        carbon('received', `<message xmlns='jabber:client' type='chat'>${composing}</message>`),
      ),
      URGENT,
    ],
    [
      'a chat state marked private',
      `<message ${BOB} type='chat'>${composing}<private xmlns='${CARBONS}'/></message>`,
      fold('chatstate', 'bob@localhost/pc', ACCOUNT),
    ],

    // iq: always
    ['an iq request', `<iq ${BOB} type='get' id='q'><ping xmlns='urn:xmpp:ping'/></iq>`, URGENT],
    ['an iq result', `<iq from='localhost' to='alice@localhost/phone' type='result' id='q'/>`, URGENT],
  ];

  for (const [what, xml, expected] of cases) {
    it(`${what}: ${expected.replaceAll('\0', ' ')}`, () => {
      expect(verdictOf(xml).replaceAll('\0', ' ')).to.equal(expected.replaceAll('\0', ' '));
    });
  }

  describe('with a kind of holding switched off, that kind is urgent', () => {
    // [what, stanza, policy]
    const off: Array<[string, string, HoldPolicy]> = [
      ['presence', `<presence ${BOB}/>`, { ...ALL, presence: false }],
      ['chat states', `<message ${BOB} type='chat'>${composing}</message>`, { ...ALL, chatStates: false }],
      [
        'receipts',
        `<message ${BOB}><received xmlns='urn:xmpp:receipts' id='m1'/></message>`,
        { ...ALL, receipts: false },
      ],
      [
        'markers',
        `<message ${BOB}><displayed xmlns='urn:xmpp:chat-markers:0' id='m1'/></message>`,
        { ...ALL, receipts: false },
      ],
      [
        'a chat state beside a receipt, receipts off',
        `<message ${BOB} type='chat'>${composing}<received xmlns='urn:xmpp:receipts' id='m1'/></message>`,
        { ...ALL, receipts: false },
      ],
      ['PEP', pepEvent('bob@localhost', `<items node='n'><item id='1'/></items>`), { ...ALL, pep: false }],
    ];
    for (const [what, xml, policy] of off) {
      it(what, () => {
        expect(verdictOf(xml, policy)).to.equal(URGENT);
        expect(verdictOf(xml, ALL)).to.not.equal(URGENT);
      });
    }
  });
});

describe('csi: held stanzas, folded', () => {
  // [what, held in order as [label, fold key], let go in order]
  const cases: Array<[string, Array<[string, string | undefined]>, string[]]> = [
    ['nothing', [], []],
    [
      'unfolded stanzas keep their order',
      [
        ['a', undefined],
        ['b', undefined],
        ['c', undefined],
      ],
      ['a', 'b', 'c'],
    ],
    [
      'a later stanza supersedes an earlier one with its key, at its own place',
      [
        ['p1', 'p'],
        ['c1', 'c'],
        ['p2', 'p'],
      ],
      ['c1', 'p2'],
    ],
    [
      'each key keeps its latest',
      [
        ['p1', 'p'],
        ['c1', 'c'],
        ['r', undefined],
        ['c2', 'c'],
        ['q1', 'q'],
        ['p2', 'p'],
      ],
      ['r', 'c2', 'q1', 'p2'],
    ],
    [
      'keys fold only with the same key',
      [
        ['x', 'k1'],
        ['y', 'k2'],
      ],
      ['x', 'y'],
    ],
  ];
  for (const [what, held, expected] of cases) {
    it(what, () => {
      const buffer = new HeldStanzas(100);
      for (const [label, key] of held) buffer.hold(stanza(`<message id='${label}'/>`), key);
      expect(buffer.size).to.equal(expected.length);
      expect(buffer.take().map((s) => s.attrs.id)).to.deep.equal(expected);
      expect(buffer.size).to.equal(0);
      expect(buffer.take()).to.deep.equal([]);
    });
  }

  it('says it is full when it holds its limit (folding does not count twice)', () => {
    const buffer = new HeldStanzas(3);
    expect(buffer.hold(stanza(`<presence id='1'/>`), 'p')).to.equal(false);
    expect(buffer.hold(stanza(`<presence id='2'/>`), 'p')).to.equal(false);
    expect(buffer.hold(stanza(`<message id='3'/>`), undefined)).to.equal(false);
    expect(buffer.hold(stanza(`<message id='4'/>`), undefined)).to.equal(true);
  });
});

describe('csi: the gate of an inactive session', () => {
  const from = `from='bob@localhost/pc' to='alice@localhost/phone'`;
  const inputs: Record<string, string> = {
    away: `<presence ${from} id='away'><show>away</show></presence>`,
    xa: `<presence ${from} id='xa'><show>xa</show></presence>`,
    carol: `<presence from='carol@localhost/x' to='alice@localhost/phone' id='carol'/>`,
    composing: `<message ${from} type='chat' id='composing'>${composing}</message>`,
    paused: `<message ${from} type='chat' id='paused'><paused xmlns='${CHATSTATES}'/></message>`,
    receipt: `<message ${from} id='receipt'><received xmlns='urn:xmpp:receipts' id='m0'/></message>`,
    receipt2: `<message ${from} id='receipt2'><received xmlns='urn:xmpp:receipts' id='m1'/></message>`,
    body: `<message ${from} type='chat' id='body'><body>hi</body></message>`,
    ping: `<iq ${from} type='get' id='ping'><ping xmlns='urn:xmpp:ping'/></iq>`,
    subscribe: `<presence from='dave@localhost' to='alice@localhost' type='subscribe' id='subscribe'/>`,
  };

  // [what, buffer limit, stanzas sent to the session, what reached the wire after each, after release]
  const cases: Array<[string, number, string[], string[][], string[]]> = [
    [
      'holds presence and chat states, folded, until released',
      100,
      ['away', 'composing', 'xa', 'paused', 'carol'],
      [[], [], [], [], []],
      ['xa', 'paused', 'carol'],
    ],
    [
      'a message with a body goes after everything held',
      100,
      ['away', 'composing', 'carol', 'body', 'xa'],
      [[], [], [], ['away', 'composing', 'carol', 'body'], []],
      ['xa'],
    ],
    ['an iq goes at once, after what is held', 100, ['composing', 'ping'], [[], ['composing', 'ping']], []],
    [
      'a subscription request goes at once, after what is held',
      100,
      ['away', 'subscribe', 'paused'],
      [[], ['away', 'subscribe'], []],
      ['paused'],
    ],
    ['an urgent stanza with nothing held just goes', 100, ['body'], [['body']], []],
    [
      'a full buffer goes at once',
      3,
      ['receipt', 'away', 'xa', 'receipt2', 'composing'],
      [[], [], [], ['receipt', 'xa', 'receipt2'], []],
      ['composing'],
    ],
  ];

  for (const [what, limit, sent, afterEach, afterRelease] of cases) {
    it(what, () => {
      const wire: string[] = [];
      const gate = new InactiveGate({ sendNow: (s) => wire.push(s.attrs.id!) }, ACCOUNT, ALL, limit);
      // What ClientSession.send does with its gate.
      const send = (s: Element) => {
        if (gate.admit(s)) wire.push(s.attrs.id!);
      };
      sent.forEach((name, i) => {
        const before = wire.length;
        send(stanza(inputs[name]!));
        expect(wire.slice(before), `after ${name}`).to.deep.equal(afterEach[i]);
      });
      const before = wire.length;
      gate.release();
      expect(wire.slice(before)).to.deep.equal(afterRelease);
      expect(gate.holding).to.equal(0);
    });
  }
});
