// XEP-0280 Message Carbons end to end: a real server on loopback, @xmpp/client over STARTTLS,
// alice on three resources (a and b with carbons, c without) and bob as her contact.
//
// §3 discovery; §4, §5, §10.1 enable and disable; §6.1 which messages are copied (chat,
// normal with a body, chat states, receipts, errors answering a copied message, groupchat and
// the MUC rules); §7 received copies, for messages to the bare JID and to a full JID; §8 sent
// copies, which carry the sender's archive id (XEP-0313 §3.5); §9 <private/> and XEP-0334
// <no-copy/>; §11 a message carrying a forged copy is refused. The state is per session: a new
// session, or the same account after a restart of the server, starts without carbons.
//
// Absence is proven without timing: every client's stanzas are handled in order and copies
// are written while the original is routed, so once a later marker from the same sender has
// arrived, a copy that was going to be made would have arrived before it.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type XmlElement, xml } from '@xmpp/client';
import { expect } from 'chai';
import { connect, type TestClient } from '../helpers/client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const CARBONS = 'urn:xmpp:carbons:2';
const FORWARD = 'urn:xmpp:forward:0';
const HINTS = 'urn:xmpp:hints';
const CHATSTATES = 'http://jabber.org/protocol/chatstates';
const MUC_USER = 'http://jabber.org/protocol/muc#user';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const SID = 'urn:xmpp:sid:0';

let counter = 0;
const nextId = (prefix: string) => `${prefix}-${++counter}`;

/**
 * An element in a canonical form for exact comparison: attributes sorted, and the stream's
 * default namespace left implicit on the top element only (a forwarded stanza must state it).
 */
function canon(el: XmlElement, top = true): string {
  const attrs = Object.keys(el.attrs)
    .filter((k) => !(top && k === 'xmlns' && el.attrs[k] === 'jabber:client'))
    .sort()
    .map((k) => ` ${k}="${el.attrs[k]}"`)
    .join('');
  const children = el.children
    .map((c) => (typeof c === 'string' ? c : canon(c as XmlElement, false)))
    .join('');
  return `<${el.name}${attrs}>${children}</${el.name}>`;
}

/** The copy XEP-0280 §7/§8 prescribe, for `original` as its recipient got it. */
function expectedCopy(kind: 'sent' | 'received', to: string, original: XmlElement): string {
  const inner = xml('message', { ...original.attrs, xmlns: 'jabber:client' }, ...original.children);
  const type = original.attrs.type;
  return canon(
    xml(
      'message',
      type === undefined ? { from: 'alice@localhost', to } : { from: 'alice@localhost', to, type },
      xml(kind, { xmlns: CARBONS }, xml('forwarded', { xmlns: FORWARD }, inner)),
    ),
  );
}

/** A message as its sender's server routed it: `from` stamped, with the sender's archive id. */
function asSent(stanza: XmlElement, from: string, archivedId: string): XmlElement {
  return xml(
    stanza.name,
    { ...stanza.attrs, from },
    ...stanza.children,
    xml('stanza-id', { xmlns: SID, by: 'alice@localhost', id: archivedId }),
  );
}

/** The message inside a carbon copy. */
function forwardedIn(copy: XmlElement): XmlElement {
  const wrapper = copy.getChild('sent', CARBONS) ?? copy.getChild('received', CARBONS);
  return wrapper!.getChild('forwarded', FORWARD)!.getChild('message')!;
}

/** The id of a XEP-0359 <stanza-id/> by this archive in a message. */
function stanzaIdBy(message: XmlElement, by: string): string | undefined {
  return message.getChildren('stanza-id', SID).find((el) => el.attrs.by === by)?.attrs.id;
}

/** Asks the account's archive (XEP-0313 #extended 'ids') which message it keeps under this id. */
async function archivedMessageId(client: TestClient, archivedId: string): Promise<string | undefined> {
  const queryid = nextId('mam');
  const form = xml(
    'x',
    { xmlns: 'jabber:x:data', type: 'submit' },
    xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, 'urn:xmpp:mam:2')),
    xml('field', { var: 'ids' }, xml('value', {}, archivedId)),
  );
  const reply = await iq(client, 'set', xml('query', { xmlns: 'urn:xmpp:mam:2', queryid }, form));
  expect(reply.attrs.type, reply.toString()).to.equal('result');
  const results = client.received.filter(
    (el) => el.getChild('result', 'urn:xmpp:mam:2')?.attrs.queryid === queryid,
  );
  expect(results).to.have.length(1);
  return results[0]!.getChild('result')!.getChild('forwarded', FORWARD)!.getChild('message')!.attrs.id;
}

/** The carbon copies a client got of the message with this id (either kind). */
function copiesOf(client: TestClient, id: string): XmlElement[] {
  return client.received.filter((el) => {
    if (el.name !== 'message') return false;
    const wrapper = el.getChild('sent', CARBONS) ?? el.getChild('received', CARBONS);
    return wrapper?.getChild('forwarded', FORWARD)?.getChild('message')?.attrs.id === id;
  });
}

function copyOf(client: TestClient, id: string): Promise<XmlElement> {
  return client.waitFor((el) => copiesOf(client, id).includes(el));
}

/** Resolves with the first stanza with this id that is not a carbon copy. */
function original(client: TestClient, id: string): Promise<XmlElement> {
  return client.waitFor((el) => el.attrs.id === id);
}

async function iq(client: TestClient, type: 'get' | 'set', payload: XmlElement, to?: string) {
  const id = nextId('iq');
  await client.send(xml('iq', { type, id, to }, payload));
  return client.waitFor(
    (el) =>
      el.name === 'iq' && el.attrs.id === id && (el.attrs.type === 'result' || el.attrs.type === 'error'),
  );
}

const enable = (client: TestClient, to?: string) => iq(client, 'set', xml('enable', { xmlns: CARBONS }), to);
const disable = (client: TestClient, to?: string) =>
  iq(client, 'set', xml('disable', { xmlns: CARBONS }), to);

/** A ping round trip: what the client sent before has had its fate when the pong arrives. */
async function settle(client: TestClient): Promise<void> {
  const reply = await iq(client, 'get', xml('ping', { xmlns: 'urn:xmpp:ping' }), client.jid!.domain);
  expect(reply.attrs.type).to.equal('result');
}

/**
 * Sends each receiver a headline (never copied) from `sender` and waits for it: whatever the
 * sender sent before, and any copies of it, has reached them by then.
 */
async function mark(sender: TestClient, ...receivers: TestClient[]): Promise<void> {
  await Promise.all(
    receivers.map(async (receiver) => {
      const id = nextId('mark');
      await sender.send(
        xml('message', { to: receiver.jid!.toString(), type: 'headline', id }, xml('body', {}, '.')),
      );
      await original(receiver, id);
    }),
  );
}

function conditionOf(stanza: XmlElement): string {
  const error = stanza.getChild('error')!;
  const condition = error.children.find((c) => typeof c !== 'string') as XmlElement;
  return `${error.attrs.type} ${condition.attrs.xmlns} ${condition.name}`;
}

const chat = (to: string, id: string, ...payload: XmlElement[]) =>
  xml('message', { to, type: 'chat', id }, xml('body', {}, `text of ${id}`), ...payload);

describe('XEP-0280 message carbons', () => {
  let ts: TestServer;
  let a: TestClient;
  let b: TestClient;
  let c: TestClient;
  let bob: TestClient;

  async function login(username: string, resource: string, priority?: number): Promise<TestClient> {
    // PLAIN over TLS: the client library's SCRAM is slow, and c2s.test.ts covers SCRAM.
    const client = await connect({
      port: ts.port,
      domain: 'localhost',
      username,
      password: `${username}-secret`,
      resource,
      mechanism: 'PLAIN',
    });
    if (priority !== undefined) {
      await client.send(xml('presence', {}, xml('priority', {}, String(priority))));
      await settle(client);
    }
    return client;
  }

  before(async () => {
    ts = await startTestServer();
    await ts.addUser('alice', 'alice-secret');
    await ts.addUser('bob', 'bob-secret');
    // a has the highest priority: a message to alice's bare JID goes to a alone.
    a = await login('alice', 'a', 10);
    b = await login('alice', 'b', 0);
    c = await login('alice', 'c', 0);
    bob = await login('bob', 'desk', 0);
    for (const client of [a, b]) expect((await enable(client)).attrs.type).to.equal('result');
  });
  after(async () => {
    await Promise.all([a, b, c, bob].map((client) => client?.stop().catch(() => {})));
    await ts.stop();
  });

  describe('discovery, enabling and disabling (§3, §4, §5, §10.1)', () => {
    it('advertises urn:xmpp:carbons:2 and urn:xmpp:carbons:rules:0', async () => {
      const info = await iq(
        c,
        'get',
        xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }),
        'localhost',
      );
      const features = info
        .getChild('query')!
        .getChildren('feature')
        .map((f) => f.attrs.var);
      expect(features).to.include.members([CARBONS, 'urn:xmpp:carbons:rules:0']);
    });

    it('answers enable and disable with an empty result from the bare JID, however often', async () => {
      for (const request of [enable, enable, disable, disable]) {
        const reply = await request(c);
        expect(canon(reply)).to.equal(
          canon(
            xml('iq', {
              type: 'result',
              id: reply.attrs.id,
              from: 'alice@localhost',
              to: 'alice@localhost/c',
            }),
          ),
        );
      }
    });

    it('takes the request addressed to the server or to the own bare JID', async () => {
      expect((await enable(c, 'localhost')).attrs.type).to.equal('result');
      expect((await disable(c, 'alice@localhost')).attrs.type).to.equal('result');
    });

    it('refuses to switch carbons for another account with not-allowed', async () => {
      for (const request of [enable, disable]) {
        const reply = await request(bob, 'alice@localhost');
        expect(reply.attrs.type).to.equal('error');
        expect(reply.attrs.from).to.equal('alice@localhost');
        expect(conditionOf(reply)).to.equal(`cancel ${STANZAS} not-allowed`);
      }
    });
  });

  describe('received copies (§7)', () => {
    it('copies a message to the bare JID to the enabled resource that did not get it', async () => {
      const id = nextId('to-bare');
      await bob.send(chat('alice@localhost', id));
      const got = await original(a, id);
      expect(got.attrs.from).to.equal('bob@localhost/desk');
      const copy = await copyOf(b, id);
      expect(canon(copy)).to.equal(expectedCopy('received', 'alice@localhost/b', got));
      await mark(bob, a, b, c);
      expect(copiesOf(a, id), 'no copy to the resource that got the original').to.deep.equal([]);
      expect(copiesOf(b, id)).to.have.length(1);
      expect(
        c.received.filter((el) => el.attrs.id === id),
        'nothing for a resource without carbons',
      ).to.deep.equal([]);
      expect(copiesOf(c, id)).to.deep.equal([]);
    });

    it('copies a message to the full JID of one resource to the other enabled resource', async () => {
      const id = nextId('to-full');
      await bob.send(chat('alice@localhost/a', id));
      const got = await original(a, id);
      expect(canon(await copyOf(b, id))).to.equal(expectedCopy('received', 'alice@localhost/b', got));
      await mark(bob, a, c);
      expect(copiesOf(a, id)).to.deep.equal([]);
      expect(copiesOf(c, id)).to.deep.equal([]);
    });

    it('copies a message to a resource without carbons to every enabled resource', async () => {
      const id = nextId('to-c');
      await bob.send(chat('alice@localhost/c', id));
      const got = await original(c, id);
      expect(canon(await copyOf(a, id))).to.equal(expectedCopy('received', 'alice@localhost/a', got));
      expect(canon(await copyOf(b, id))).to.equal(expectedCopy('received', 'alice@localhost/b', got));
    });

    it('copies the message as delivered, with the stanza-id the archive added (XEP-0313 §3.5)', async () => {
      const id = nextId('archived');
      await bob.send(chat('alice@localhost/a', id));
      const got = await original(a, id);
      const archived = stanzaIdBy(got, 'alice@localhost');
      expect(archived, got.toString()).to.be.a('string');
      expect(canon(await copyOf(b, id))).to.equal(expectedCopy('received', 'alice@localhost/b', got));
      expect(await archivedMessageId(b, archived!)).to.equal(id);
    });
  });

  describe('sent copies (§8)', () => {
    it('copies what a resource sends to the other enabled resources, not back to itself', async () => {
      const id = nextId('sent');
      const sent = chat('bob@localhost', id);
      await a.send(sent);
      const got = await original(bob, id);
      expect(got.attrs.from).to.equal('alice@localhost/a');
      const copy = await copyOf(b, id);
      // XEP-0313 §3.5: the copy names the message in alice's archive; bob never learns that id.
      const archived = stanzaIdBy(forwardedIn(copy), 'alice@localhost');
      expect(archived, copy.toString()).to.be.a('string');
      expect(canon(copy)).to.equal(
        expectedCopy('sent', 'alice@localhost/b', asSent(sent, 'alice@localhost/a', archived!)),
      );
      expect(stanzaIdBy(got, 'alice@localhost')).to.equal(undefined);
      expect(await archivedMessageId(b, archived!)).to.equal(id);
      await mark(a, a, c);
      expect(copiesOf(a, id)).to.deep.equal([]);
      expect(copiesOf(c, id)).to.deep.equal([]);
    });

    it('copies what a resource without carbons sends', async () => {
      const id = nextId('sent-by-c');
      const sent = xml('message', { to: 'bob@localhost/desk', id }, xml('body', {}, 'normal, with a body'));
      await c.send(sent);
      await original(bob, id);
      for (const [client, to] of [
        [a, 'alice@localhost/a'],
        [b, 'alice@localhost/b'],
      ] as const) {
        const copy = await copyOf(client, id);
        const archived = stanzaIdBy(forwardedIn(copy), 'alice@localhost');
        expect(canon(copy)).to.equal(expectedCopy('sent', to, asSent(sent, 'alice@localhost/c', archived!)));
      }
      await mark(c, c);
      expect(copiesOf(c, id)).to.deep.equal([]);
    });

    it('copies a message between two resources of the account once, as sent, to the third', async () => {
      const id = nextId('own');
      await a.send(chat('alice@localhost/c', id));
      const got = await original(c, id);
      expect(canon(await copyOf(b, id))).to.equal(expectedCopy('sent', 'alice@localhost/b', got));
      await mark(a, a, b);
      expect(copiesOf(b, id)).to.have.length(1);
      expect(copiesOf(a, id)).to.deep.equal([]);
    });
  });

  describe('which messages (§6.1, §9)', () => {
    /** Sends from `sender` and reports whether `watcher` got a copy, proven by a marker. */
    async function copied(sender: TestClient, stanza: XmlElement, watcher: TestClient): Promise<boolean> {
      await sender.send(stanza);
      await mark(sender, watcher);
      return copiesOf(watcher, stanza.attrs.id).length > 0;
    }

    const cases: Array<[string, (id: string) => XmlElement, boolean]> = [
      ['a chat message', (id) => chat('alice@localhost/a', id), true],
      [
        'a standalone chat state of type chat',
        (id) =>
          xml(
            'message',
            { to: 'alice@localhost/a', type: 'chat', id },
            xml('composing', { xmlns: CHATSTATES }),
          ),
        true,
      ],
      [
        'a standalone chat state of type normal',
        (id) => xml('message', { to: 'alice@localhost/a', id }, xml('active', { xmlns: CHATSTATES })),
        true,
      ],
      [
        'a delivery receipt',
        (id) =>
          xml(
            'message',
            { to: 'alice@localhost/a', id },
            xml('received', { xmlns: 'urn:xmpp:receipts', id: 'x' }),
          ),
        true,
      ],
      [
        'a normal message with a body',
        (id) => xml('message', { to: 'alice@localhost/a', id }, xml('body', {}, 'hi')),
        true,
      ],
      [
        'a normal message without a body',
        (id) => xml('message', { to: 'alice@localhost/a', id }, xml('subject', {}, 'hi')),
        false,
      ],
      [
        'a headline',
        (id) => xml('message', { to: 'alice@localhost/a', type: 'headline', id }, xml('body', {}, 'news')),
        false,
      ],
      [
        'a groupchat message',
        (id) => xml('message', { to: 'alice@localhost/a', type: 'groupchat', id }, xml('body', {}, 'hi all')),
        false,
      ],
      [
        'a private message from a MUC occupant',
        (id) => chat('alice@localhost/a', id, xml('x', { xmlns: MUC_USER })),
        false,
      ],
      [
        'a direct MUC invitation',
        (id) =>
          xml(
            'message',
            { to: 'alice@localhost/a', id },
            xml('x', { xmlns: 'jabber:x:conference', jid: 'room@muc.localhost' }),
          ),
        true,
      ],
      [
        'a chat message with <private/> and <no-copy/>',
        (id) =>
          chat('alice@localhost/a', id, xml('private', { xmlns: CARBONS }), xml('no-copy', { xmlns: HINTS })),
        false,
      ],
      [
        'a chat message with <no-copy/> alone',
        (id) => chat('alice@localhost/a', id, xml('no-copy', { xmlns: HINTS })),
        false,
      ],
      [
        'an error that answers no copied message',
        (id) =>
          xml(
            'message',
            { to: 'alice@localhost/a', type: 'error', id },
            xml('error', { type: 'cancel' }, xml('item-not-found', { xmlns: STANZAS })),
          ),
        false,
      ],
    ];

    for (const [what, build, expected] of cases) {
      it(`${expected ? 'copies' : 'does not copy'} ${what} received from bob`, async () => {
        const stanza = build(nextId('rule'));
        expect(await copied(bob, stanza, b)).to.equal(expected);
        // The original reached a either way.
        await original(a, stanza.attrs.id);
      });
    }

    it('copies a private message alice sends to a MUC occupant', async () => {
      const id = nextId('muc-pm');
      expect(await copied(a, chat('bob@localhost/desk', id, xml('x', { xmlns: MUC_USER })), b)).to.equal(
        true,
      );
    });

    it('keeps <private/> and <no-copy/> in the message, and makes no sent copy (§9)', async () => {
      const id = nextId('private');
      const stanza = chat(
        'bob@localhost/desk',
        id,
        xml('private', { xmlns: CARBONS }),
        xml('no-copy', { xmlns: HINTS }),
      );
      expect(await copied(a, stanza, b)).to.equal(false);
      const got = await original(bob, id);
      expect(got.getChild('private', CARBONS)).to.not.equal(undefined);
      expect(got.getChild('no-copy', HINTS)).to.not.equal(undefined);
    });

    it('makes no sent copy of a message with <no-copy/> alone', async () => {
      const id = nextId('no-copy');
      expect(await copied(a, chat('bob@localhost/desk', id, xml('no-copy', { xmlns: HINTS })), b)).to.equal(
        false,
      );
    });

    it('copies the bounce of a copied message to the other resources, as received', async () => {
      const id = nextId('to-nobody');
      await a.send(chat('nobody@localhost', id));
      const bounce = await a.waitFor((el) => el.attrs.id === id && el.attrs.type === 'error');
      expect(conditionOf(bounce)).to.equal(`cancel ${STANZAS} service-unavailable`);
      const copies = await (async () => {
        await mark(a, b);
        return copiesOf(b, id);
      })();
      expect(copies.map((copy) => copy.children.map((w) => (w as XmlElement).name))).to.deep.equal([
        ['sent'],
        ['received'],
      ]);
      expect(canon(copies[1]!)).to.equal(expectedCopy('received', 'alice@localhost/b', bounce));
    });
  });

  describe('no loops, no forged copies (§10.3, §11)', () => {
    const forged = (to: string | undefined, id: string, kind: 'sent' | 'received') =>
      xml(
        'message',
        { to, type: 'chat', id },
        xml(
          kind,
          { xmlns: CARBONS },
          xml(
            'forwarded',
            { xmlns: FORWARD },
            xml(
              'message',
              { xmlns: 'jabber:client', from: 'mallory@evil.example/x', to: 'bob@localhost', type: 'chat' },
              xml('body', {}, 'trust me'),
            ),
          ),
        ),
      );

    it('refuses a message carrying a copy from a client with not-acceptable, and copies nothing', async () => {
      const id = nextId('forged');
      await a.send(forged('bob@localhost', id, 'received'));
      const error = await a.waitFor((el) => el.attrs.id === id);
      expect(error.attrs.type).to.equal('error');
      expect(error.attrs.from).to.equal('bob@localhost');
      expect(conditionOf(error)).to.equal(`modify ${STANZAS} not-acceptable`);
      await mark(a, bob, b);
      expect(bob.received.filter((el) => el.attrs.id === id)).to.deep.equal([]);
      expect(copiesOf(b, id)).to.deep.equal([]);
      expect(b.received.filter((el) => el.attrs.id === id)).to.deep.equal([]);
    });

    it('refuses one sent to the own account without `to`, answering from the bare JID', async () => {
      const id = nextId('forged-own');
      await c.send(forged(undefined, id, 'sent'));
      const error = await c.waitFor((el) => el.attrs.id === id);
      expect(error.attrs.from).to.equal('alice@localhost');
      expect(conditionOf(error)).to.equal(`modify ${STANZAS} not-acceptable`);
      await mark(c, a, b);
      expect(a.received.filter((el) => el.attrs.id === id)).to.deep.equal([]);
      expect(b.received.filter((el) => el.attrs.id === id)).to.deep.equal([]);
    });

    it('refuses bob impersonating a copy for alice (CVE-2017-5589)', async () => {
      const id = nextId('impersonation');
      await bob.send(forged('alice@localhost/a', id, 'received'));
      expect(conditionOf(await bob.waitFor((el) => el.attrs.id === id))).to.equal(
        `modify ${STANZAS} not-acceptable`,
      );
      await mark(bob, a, b);
      expect(a.received.filter((el) => el.attrs.id === id)).to.deep.equal([]);
      expect(b.received.filter((el) => el.attrs.id === id)).to.deep.equal([]);
    });

    it('drops an error a resource sends back for a copy, without copying it or passing it on', async () => {
      const id = nextId('answered');
      await bob.send(chat('alice@localhost/a', id));
      const copy = await copyOf(b, id);
      // A careless client bounces the copy to where it came from: alice's bare JID.
      await b.send(
        xml(
          'message',
          { to: copy.attrs.from, type: 'error', id },
          xml('error', { type: 'cancel' }, xml('feature-not-implemented', { xmlns: STANZAS })),
        ),
      );
      await mark(b, a, bob);
      await mark(bob, a);
      expect(bob.received.filter((el) => el.attrs.id === id && el.attrs.type === 'error')).to.deep.equal([]);
      expect(a.received.filter((el) => el.attrs.id === id && el.attrs.type === 'error')).to.deep.equal([]);
      expect(copiesOf(a, id)).to.deep.equal([]);
    });
  });

  describe('state per session', () => {
    it('stops copies to a resource that disabled carbons, and resumes them when it enables again', async () => {
      expect((await disable(b)).attrs.type).to.equal('result');
      const id = nextId('while-disabled');
      await bob.send(chat('alice@localhost/a', id));
      await mark(bob, b);
      expect(copiesOf(b, id)).to.deep.equal([]);
      expect((await enable(b)).attrs.type).to.equal('result');
      const again = nextId('enabled-again');
      await bob.send(chat('alice@localhost/a', again));
      await copyOf(b, again);
    });

    it('starts a new session of the same resource without carbons', async () => {
      await b.stop();
      b = await login('alice', 'b', 0);
      const id = nextId('new-session');
      await bob.send(chat('alice@localhost/a', id));
      await mark(bob, b);
      expect(copiesOf(b, id)).to.deep.equal([]);
      expect((await enable(b)).attrs.type).to.equal('result');
      const after = nextId('new-session-enabled');
      await bob.send(chat('alice@localhost/a', after));
      await copyOf(b, after);
    });
  });
});

describe('XEP-0280 message carbons across a restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warbler-carbons-'));
  let ts: TestServer;
  const clients: TestClient[] = [];

  async function login(username: string, resource: string): Promise<TestClient> {
    const client = await connect({
      port: ts.port,
      domain: 'localhost',
      username,
      password: `${username}-secret`,
      resource,
      mechanism: 'PLAIN',
    });
    clients.push(client);
    return client;
  }

  const start = () => startTestServer({ dir });

  before(async () => {
    ts = await start();
    await ts.addUser('alice', 'alice-secret');
    await ts.addUser('bob', 'bob-secret');
  });
  after(async () => {
    await Promise.all(clients.splice(0).map((client) => client.stop().catch(() => {})));
    await ts?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps nothing: the accounts are in SQLite, carbons start disabled in every new session', async () => {
    const before = await login('alice', 'b');
    expect((await enable(before)).attrs.type).to.equal('result');
    await Promise.all(clients.splice(0).map((client) => client.stop()));
    await ts.stop();
    ts = await start();

    const a = await login('alice', 'a');
    const b = await login('alice', 'b');
    const bob = await login('bob', 'desk');
    const id = nextId('after-restart');
    await bob.send(chat('alice@localhost/a', id));
    await original(a, id);
    await mark(bob, b);
    expect(copiesOf(b, id)).to.deep.equal([]);

    expect((await enable(b)).attrs.type).to.equal('result');
    const enabled = nextId('after-restart-enabled');
    await bob.send(chat('alice@localhost/a', enabled));
    const got = await original(a, enabled);
    expect(canon(await copyOf(b, enabled))).to.equal(expectedCopy('received', 'alice@localhost/b', got));
  });
});
