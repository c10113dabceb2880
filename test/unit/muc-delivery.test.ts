// The groupchat fan-out (XEP-0045 §7.4) serializes a message once and splices each occupant's
// address in: every session must get exactly the text its own copy would serialize to, with
// its own `to`, and the copies must share the message's children. Remote occupants go
// through the router, gone sessions are reported, and blocking still applies.

import { expect } from 'chai';
import type { ServerContext } from '../../src/core/module.js';
import type { ClientSession } from '../../src/core/session.js';
import { type JID, parseJID } from '../../src/jid.js';
import { type Element, x } from '../../src/xml/element.js';
import type { MucContext } from '../../xeps/0045-muc/context.js';
import { spread } from '../../xeps/0045-muc/delivery.js';
import { occupantSession, type Recipient } from '../../xeps/0045-muc/room.js';

interface Written {
  stanza: Element;
  xml: string;
}

function fakeContext(local: Map<string, Written[]>, blocked: Set<string> = new Set()) {
  const routed: Element[] = [];
  const sessions = {
    get: (jid: JID) => {
      const out = local.get(jid.full);
      if (out === undefined) return undefined;
      return {
        sendSerialized: (stanza: Element, xml: string) => out.push({ stanza, xml }),
      } as unknown as ClientSession;
    },
  };
  const ctx = {
    router: {
      isLocalHost: (domain: string) => domain === 'example.org',
      send: (stanza: Element) => routed.push(stanza),
    },
    sessions,
    services: {
      get: (name: string) =>
        name === 'blocking'
          ? { blocks: (account: JID, entity: JID) => blocked.has(`${account.bare} ${entity.full}`) }
          : undefined,
    },
  } as unknown as MucContext & Pick<ServerContext, 'router'>;
  return { ctx, routed };
}

const recipient = (jid: string): Recipient => occupantSession(parseJID(jid), x('presence'));

describe('MUC delivery: serialized once, addressed to each', () => {
  const from = parseJID('room@conference.example.org/Bob');
  const message = x(
    'message',
    { from: from.full, type: 'groupchat', id: 'm1' },
    x('body', null, 'fish & "chips" <today>'),
    x('active', { xmlns: 'http://jabber.org/protocol/chatstates' }),
  );

  it('gives every local session the text of its own copy', () => {
    const names = ['alice@example.org/phone', 'bob@example.org/desk', 'obrien@example.org/a&b "q"'];
    const local = new Map(names.map((n) => [n, [] as Written[]]));
    const { ctx, routed } = fakeContext(local);
    const gone = spread(ctx, message, names.map(recipient), from);
    expect(gone).to.deep.equal([]);
    expect(routed).to.deep.equal([]);
    for (const name of names) {
      const [written] = local.get(name)!;
      expect(written!.stanza.attrs.to).to.equal(name);
      expect(written!.xml).to.equal(written!.stanza.toString());
      expect(written!.stanza.children).to.equal(message.children);
    }
    expect(local.get('obrien@example.org/a&b "q"')![0]!.xml).to.equal(
      '<message to="obrien@example.org/a&amp;b &quot;q&quot;" from="room@conference.example.org/Bob" type="groupchat" id="m1">' +
        '<body>fish &amp; "chips" &lt;today&gt;</body><active xmlns="http://jabber.org/protocol/chatstates"/></message>',
    );
  });

  it('routes remote occupants, reports gone sessions, and leaves out who blocks the sender', () => {
    const local = new Map<string, Written[]>([
      ['alice@example.org/phone', []],
      ['carol@example.org/laptop', []],
    ]);
    const { ctx, routed } = fakeContext(local, new Set([`carol@example.org ${from.full}`]));
    const gone = spread(
      ctx,
      message,
      [
        'alice@example.org/phone',
        'dave@remote.example/pc',
        'bob@example.org/gone',
        'carol@example.org/laptop',
      ].map(recipient),
      from,
    );
    expect(gone.map((r) => r.jid.full)).to.deep.equal(['bob@example.org/gone']);
    expect(routed.map((s) => s.toString())).to.deep.equal([
      '<message to="dave@remote.example/pc" from="room@conference.example.org/Bob" type="groupchat" id="m1">' +
        '<body>fish &amp; "chips" &lt;today&gt;</body><active xmlns="http://jabber.org/protocol/chatstates"/></message>',
    ]);
    expect(local.get('alice@example.org/phone')).to.have.length(1);
    expect(local.get('carol@example.org/laptop')).to.deep.equal([]);
  });
});
