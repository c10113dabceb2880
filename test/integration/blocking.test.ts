// XEP-0191 Blocking Command end to end: a real server on loopback, @xmpp/client over STARTTLS,
// three accounts (one of them on three resources), a user on a second host for domain
// blocks, and a restart of the server to prove that blocklists live in SQLite.
//
// §3.1 discovery; §3.2 the blocklist; §3.3 block: pushes to the resources that asked for the
// list, unavailable presence to a blocked subscriber, inbound stanzas refused as if the user
// were offline, outbound ones refused with <not-acceptable/><blocked/>; §3.4 unblock; §3.5
// unblock all; §5 a user's own resources never blocked; §6 full-JID and domain entries.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type XmlElement, xml } from '@xmpp/client';
import { expect } from 'chai';
import type { RosterItem } from '../../src/im/roster-service.js';
import { type JID, jid } from '../../src/jid.js';
import { x } from '../../src/xml/element.js';
import { SqliteOfflineStore } from '../../xeps/0160-offline/store.js';
import { connect, eventually, type TestClient } from '../helpers/client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const BLOCKING = 'urn:xmpp:blocking';
const BLOCKING_ERRORS = 'urn:xmpp:blocking:errors';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const OTHER_HOST = 'elsewhere.test';

let counter = 0;
const nextId = (prefix: string) => `${prefix}-${++counter}`;

/**
 * An element in a canonical form for exact comparison: attributes sorted, the stream's
 * default namespace left implicit, `ignore`d attributes of the top element left out.
 */
function canon(el: XmlElement, ignore: readonly string[] = []): string {
  const attrs = Object.keys(el.attrs)
    .filter((k) => !ignore.includes(k) && !(k === 'xmlns' && el.attrs[k] === 'jabber:client'))
    .sort()
    .map((k) => ` ${k}="${el.attrs[k]}"`)
    .join('');
  const children = el.children.map((c) => (typeof c === 'string' ? c : canon(c as XmlElement))).join('');
  return `<${el.name}${attrs}>${children}</${el.name}>`;
}

/** The conditions inside a stanza's <error/>, with its type and legacy code. */
function errorOf(stanza: XmlElement): { type: string; code: string; conditions: string[] } {
  expect(stanza.attrs.type, stanza.toString()).to.equal('error');
  const error = stanza.getChild('error');
  expect(error, stanza.toString()).to.not.equal(undefined);
  const conditions = error!.children
    .filter((c): c is XmlElement => typeof c !== 'string')
    .map((c) => `${c.attrs.xmlns} ${c.name}`);
  return { type: error!.attrs.type, code: error!.attrs.code, conditions };
}

const SERVICE_UNAVAILABLE = { type: 'cancel', code: '503', conditions: [`${STANZAS} service-unavailable`] };
const BLOCKED = {
  type: 'cancel',
  code: '406',
  conditions: [`${STANZAS} not-acceptable`, `${BLOCKING_ERRORS} blocked`],
};

const chat = (to: string, id: string, body = 'hello') =>
  xml('message', { to, type: 'chat', id }, xml('body', {}, body));

/** Sends an iq get/set and resolves with its answer, result or error. */
async function iq(
  client: TestClient,
  type: 'get' | 'set',
  payload: XmlElement,
  to?: string,
): Promise<XmlElement> {
  const id = nextId('iq');
  await client.send(xml('iq', { type, id, to }, payload));
  return client.waitFor(
    (el) =>
      el.name === 'iq' && el.attrs.id === id && (el.attrs.type === 'result' || el.attrs.type === 'error'),
  );
}

/**
 * A ping round trip. The server handles a client's stanzas in order and gives each its fate
 * while handling it, so when the pong arrives, everything the client sent before has been
 * delivered, refused or dropped, and everything the server wrote to it before has arrived.
 */
async function settle(client: TestClient): Promise<void> {
  const reply = await iq(client, 'get', xml('ping', { xmlns: 'urn:xmpp:ping' }), client.jid!.domain);
  expect(reply.attrs.type).to.equal('result');
}

/** Resolves with the next stanza matching `predicate` received after `since` stanzas. */
function waitAfter(
  client: TestClient,
  since: number,
  predicate: (el: XmlElement) => boolean,
): Promise<XmlElement> {
  return client.waitFor((el) => client.received.indexOf(el) >= since && predicate(el));
}

const blocklistOf = async (client: TestClient): Promise<string[]> => {
  const reply = await iq(client, 'get', xml('blocklist', { xmlns: BLOCKING }));
  expect(reply.attrs.type, reply.toString()).to.equal('result');
  const list = reply.getChild('blocklist', BLOCKING)!;
  return list.getChildren('item').map((item) => item.attrs.jid);
};

const block = (client: TestClient, ...jids: string[]) =>
  iq(client, 'set', xml('block', { xmlns: BLOCKING }, ...jids.map((j) => xml('item', { jid: j }))));
const unblock = (client: TestClient, ...jids: string[]) =>
  iq(client, 'set', xml('unblock', { xmlns: BLOCKING }, ...jids.map((j) => xml('item', { jid: j }))));

describe('XEP-0191 blocking command', () => {
  let ts: TestServer;
  let alice1: TestClient;
  let alice2: TestClient;
  let alice3: TestClient;
  let bob: TestClient;
  let carol: TestClient;
  let carolPhone: TestClient;
  let dave: TestClient;

  async function login(username: string, resource: string, priority: number, host = 'localhost') {
    // PLAIN over TLS: the client library's SCRAM is slow, and c2s.test.ts covers SCRAM.
    const c = await connect({
      port: ts.port,
      domain: host,
      username,
      password: `${username}-secret`,
      resource,
      mechanism: 'PLAIN',
    });
    await c.send(xml('presence', {}, xml('status', {}, resource), xml('priority', {}, String(priority))));
    await settle(c);
    return c;
  }

  before(async () => {
    ts = await startTestServer({ hosts: ['localhost', OTHER_HOST] });
    for (const user of ['alice', 'bob', 'carol']) await ts.addUser(user, `${user}-secret`);
    await ts.addUser('dave', 'dave-secret', OTHER_HOST);
    alice1 = await login('alice', 'one', 1);
    alice2 = await login('alice', 'two', 0);
    alice3 = await login('alice', 'three', 0);
    bob = await login('bob', 'desk', 0);
    carol = await login('carol', 'desk', 0);
    carolPhone = await login('carol', 'phone', 0);
    dave = await login('dave', 'home', 0, OTHER_HOST);
  });
  after(async () => {
    await Promise.all(
      [alice1, alice2, alice3, bob, carol, carolPhone, dave].map((c) => c?.stop().catch(() => {})),
    );
    await ts?.stop();
  });

  /** Proves that `client` did not get the stanza with this id: `witness` reaches it afterwards. */
  async function expectNotDelivered(client: TestClient, id: string, witness: TestClient): Promise<void> {
    const witnessId = nextId('witness');
    await witness.send(chat(client.jid!.toString(), witnessId, 'witness'));
    await client.waitFor((el) => el.attrs.id === witnessId);
    expect(client.received.filter((el) => el.attrs.id === id).map((el) => el.toString())).to.deep.equal([]);
  }

  it('advertises urn:xmpp:blocking in the server’s disco#info (§3.1)', async () => {
    const reply = await iq(
      alice1,
      'get',
      xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }),
      'localhost',
    );
    const features = reply
      .getChild('query')!
      .getChildren('feature')
      .map((f) => f.attrs.var);
    expect(features).to.include(BLOCKING);
  });

  it('returns an empty blocklist (§3.2)', async () => {
    const reply = await iq(alice1, 'get', xml('blocklist', { xmlns: BLOCKING }));
    expect(canon(reply, ['id'])).to.equal(
      canon(
        xml(
          'iq',
          { type: 'result', to: 'alice@localhost/one', from: 'alice@localhost' },
          xml('blocklist', { xmlns: BLOCKING }),
        ),
      ),
    );
    // alice2 asks too, so both are interested in pushes; alice3 never asks.
    expect(await blocklistOf(alice2)).to.deep.equal([]);
  });

  it('blocks a JID: an empty result, and a push to every resource that asked for the list (§3.3)', async () => {
    const since3 = alice3.received.length;
    const reply = await block(alice1, 'bob@localhost');
    expect(canon(reply, ['id'])).to.equal(
      canon(xml('iq', { type: 'result', to: 'alice@localhost/one', from: 'alice@localhost' })),
    );
    for (const [client, resource] of [
      [alice1, 'one'],
      [alice2, 'two'],
    ] as const) {
      const push = await client.waitFor(
        (el) => el.name === 'iq' && el.attrs.type === 'set' && el.getChild('block', BLOCKING) !== undefined,
      );
      expect(canon(push, ['id'])).to.equal(
        canon(
          xml(
            'iq',
            { type: 'set', from: 'alice@localhost', to: `alice@localhost/${resource}` },
            xml('block', { xmlns: BLOCKING }, xml('item', { jid: 'bob@localhost' })),
          ),
        ),
      );
    }
    await settle(alice3);
    expect(alice3.received.slice(since3).filter((el) => el.attrs.type === 'set')).to.deep.equal([]);
    expect(await blocklistOf(alice1)).to.deep.equal(['bob@localhost']);
  });

  it('answers a blocked user’s messages with service-unavailable, as if the user were offline, and delivers nothing', async () => {
    for (const to of ['alice@localhost', 'alice@localhost/one']) {
      const id = nextId('from-bob');
      await bob.send(chat(to, id, 'can you hear me?'));
      const error = await bob.waitFor((el) => el.attrs.id === id);
      expect(errorOf(error)).to.deep.equal(SERVICE_UNAVAILABLE);
      expect({ from: error.attrs.from, to: error.attrs.to, body: error.getChildText('body') }).to.deep.equal({
        from: to,
        to: 'bob@localhost/desk',
        body: 'can you hear me?',
      });
      await expectNotDelivered(alice1, id, carol);
    }
  });

  it('drops a blocked user’s groupchat and headline messages without an error', async () => {
    const ids: string[] = [];
    for (const type of ['groupchat', 'headline']) {
      const id = nextId(type);
      ids.push(id);
      await bob.send(xml('message', { to: 'alice@localhost/one', type, id }, xml('body', {}, type)));
    }
    await settle(bob);
    expect(bob.received.filter((el) => ids.includes(el.attrs.id))).to.deep.equal([]);
    for (const id of ids) await expectNotDelivered(alice1, id, carol);
  });

  it('answers a blocked user’s iq get with service-unavailable, even one the server answers for the user', async () => {
    const version = await iq(bob, 'get', xml('query', { xmlns: 'jabber:iq:version' }), 'alice@localhost/one');
    expect(errorOf(version)).to.deep.equal(SERVICE_UNAVAILABLE);
    expect(version.attrs.from).to.equal('alice@localhost/one');
    const disco = await iq(
      bob,
      'get',
      xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }),
      'alice@localhost',
    );
    expect(errorOf(disco)).to.deep.equal(SERVICE_UNAVAILABLE);
    expect(
      alice1.received.filter((el) => el.name === 'iq' && el.attrs.from === 'bob@localhost/desk'),
    ).to.deep.equal([]);
  });

  it('drops presence from a blocked user without an error (§3.3)', async () => {
    const id = nextId('presence-from-bob');
    await bob.send(xml('presence', { to: 'alice@localhost/one', id }, xml('status', {}, 'hi')));
    await settle(bob);
    expect(bob.received.filter((el) => el.attrs.id === id)).to.deep.equal([]);
    const witness = nextId('presence-from-carol');
    await carol.send(xml('presence', { to: 'alice@localhost/one', id: witness }));
    await alice1.waitFor((el) => el.attrs.id === witness);
    expect(alice1.received.filter((el) => el.attrs.id === id)).to.deep.equal([]);
  });

  it('refuses what the user sends to a blocked JID with not-acceptable and <blocked/>, routing nothing (§3.3)', async () => {
    const id = nextId('to-bob');
    await alice1.send(chat('bob@localhost', id, 'Can you hear me now?'));
    const error = await alice1.waitFor((el) => el.attrs.id === id);
    expect(canon(error)).to.equal(
      canon(
        xml(
          'message',
          { type: 'error', id, from: 'bob@localhost', to: 'alice@localhost/one' },
          xml('body', {}, 'Can you hear me now?'),
          xml(
            'error',
            { type: 'cancel', code: '406' },
            xml('not-acceptable', { xmlns: STANZAS }),
            xml('blocked', { xmlns: BLOCKING_ERRORS }),
          ),
        ),
      ),
    );
    await expectNotDelivered(bob, id, carol);

    const query = await iq(alice2, 'get', xml('query', { xmlns: 'jabber:iq:version' }), 'bob@localhost/desk');
    expect(errorOf(query)).to.deep.equal(BLOCKED);
    expect(query.attrs.from).to.equal('bob@localhost/desk');

    const presenceId = nextId('presence-to-bob');
    await alice1.send(xml('presence', { to: 'bob@localhost/desk', id: presenceId }));
    const presenceError = await alice1.waitFor((el) => el.attrs.id === presenceId);
    expect(presenceError.name).to.equal('presence');
    expect(errorOf(presenceError)).to.deep.equal(BLOCKED);
    await expectNotDelivered(bob, presenceId, carol);
  });

  it('unblocks a JID: pushes, and delivery resumes (§3.4)', async () => {
    const reply = await unblock(alice2, 'bob@localhost');
    expect(reply.attrs.type).to.equal('result');
    expect(reply.children).to.deep.equal([]);
    for (const [client, resource] of [
      [alice1, 'one'],
      [alice2, 'two'],
    ] as const) {
      const push = await client.waitFor(
        (el) => el.name === 'iq' && el.attrs.type === 'set' && el.getChild('unblock', BLOCKING) !== undefined,
      );
      expect(canon(push, ['id'])).to.equal(
        canon(
          xml(
            'iq',
            { type: 'set', from: 'alice@localhost', to: `alice@localhost/${resource}` },
            xml('unblock', { xmlns: BLOCKING }, xml('item', { jid: 'bob@localhost' })),
          ),
        ),
      );
    }
    expect(await blocklistOf(alice1)).to.deep.equal([]);
    const id = nextId('bob-again');
    await bob.send(chat('alice@localhost/one', id, 'back'));
    const got = await alice1.waitFor((el) => el.attrs.id === id);
    expect(got.attrs.from).to.equal('bob@localhost/desk');
    const back = nextId('alice-again');
    await alice1.send(chat('bob@localhost', back, 'back too'));
    await bob.waitFor((el) => el.attrs.id === back);
  });

  it('blocks several JIDs at once and unblocks all with an empty <unblock/> (§3.5)', async () => {
    const since = alice1.received.length;
    expect((await block(alice1, 'carol@localhost', 'bob@localhost')).attrs.type).to.equal('result');
    const push = await waitAfter(
      alice2,
      0,
      (el) => el.getChild('block', BLOCKING)?.getChildren('item').length === 2,
    );
    expect(
      push
        .getChild('block')!
        .getChildren('item')
        .map((i) => i.attrs.jid),
    ).to.deep.equal(['carol@localhost', 'bob@localhost']);
    expect(await blocklistOf(alice1)).to.deep.equal(['bob@localhost', 'carol@localhost']);

    expect((await unblock(alice1)).attrs.type).to.equal('result');
    for (const [client, resource] of [
      [alice1, 'one'],
      [alice2, 'two'],
    ] as const) {
      const all = await waitAfter(client, client === alice1 ? since : 0, (el) => {
        const payload = el.getChild('unblock', BLOCKING);
        return payload !== undefined && payload.children.length === 0;
      });
      expect(canon(all, ['id'])).to.equal(
        canon(
          xml(
            'iq',
            { type: 'set', from: 'alice@localhost', to: `alice@localhost/${resource}` },
            xml('unblock', { xmlns: BLOCKING }),
          ),
        ),
      );
    }
    expect(await blocklistOf(alice1)).to.deep.equal([]);
    const id = nextId('carol-again');
    await carol.send(chat('alice@localhost/one', id));
    await alice1.waitFor((el) => el.attrs.id === id);
  });

  it('refuses an empty block with bad-request, and a malformed JID with jid-malformed, changing nothing', async () => {
    const empty = await iq(alice1, 'set', xml('block', { xmlns: BLOCKING }));
    expect(errorOf(empty)).to.deep.equal({
      type: 'modify',
      code: '400',
      conditions: [`${STANZAS} bad-request`, `${STANZAS} text`],
    });
    const malformed = await block(alice1, 'bob@localhost', 'not@@valid');
    expect(errorOf(malformed)).to.deep.equal({
      type: 'modify',
      code: '400',
      conditions: [`${STANZAS} jid-malformed`, `${STANZAS} text`],
    });
    const stray = await iq(
      alice1,
      'set',
      xml('unblock', { xmlns: BLOCKING }, xml('other', { xmlns: 'urn:example' })),
    );
    expect(errorOf(stray)).to.deep.equal({
      type: 'modify',
      code: '400',
      conditions: [`${STANZAS} bad-request`, `${STANZAS} text`],
    });
    expect(malformed.getChild('error')!.getChildText('text')).to.equal('"not@@valid" is not a valid JID');
    // All or nothing: the valid JID beside the malformed one was not blocked either.
    expect(await blocklistOf(alice1)).to.deep.equal([]);
  });

  it('serves a blocklist to its owner only', async () => {
    const reply = await iq(bob, 'get', xml('blocklist', { xmlns: BLOCKING }), 'alice@localhost');
    expect(errorOf(reply)).to.deep.equal(SERVICE_UNAVAILABLE);
    const set = await iq(bob, 'set', xml('unblock', { xmlns: BLOCKING }), 'alice@localhost');
    expect(errorOf(set)).to.deep.equal(SERVICE_UNAVAILABLE);
  });

  it('blocks one resource only for a full-JID entry (§6)', async () => {
    expect((await block(alice1, 'carol@localhost/phone')).attrs.type).to.equal('result');
    const fromPhone = nextId('from-phone');
    await carolPhone.send(chat('alice@localhost/one', fromPhone));
    expect(errorOf(await carolPhone.waitFor((el) => el.attrs.id === fromPhone))).to.deep.equal(
      SERVICE_UNAVAILABLE,
    );
    const fromDesk = nextId('from-desk');
    await carol.send(chat('alice@localhost/one', fromDesk));
    await alice1.waitFor((el) => el.attrs.id === fromDesk);
    expect(alice1.received.filter((el) => el.attrs.id === fromPhone)).to.deep.equal([]);
    expect((await unblock(alice1, 'carol@localhost/phone')).attrs.type).to.equal('result');
  });

  it('blocks a whole domain: its users and the domain itself (§6)', async () => {
    expect((await block(alice1, OTHER_HOST)).attrs.type).to.equal('result');
    const id = nextId('from-dave');
    await dave.send(chat('alice@localhost', id));
    expect(errorOf(await dave.waitFor((el) => el.attrs.id === id))).to.deep.equal(SERVICE_UNAVAILABLE);
    await expectNotDelivered(alice1, id, carol);

    const out = nextId('to-dave');
    await alice1.send(chat(`dave@${OTHER_HOST}/home`, out));
    expect(errorOf(await alice1.waitFor((el) => el.attrs.id === out))).to.deep.equal(BLOCKED);
    const ping = await iq(alice1, 'get', xml('ping', { xmlns: 'urn:xmpp:ping' }), OTHER_HOST);
    expect(errorOf(ping)).to.deep.equal(BLOCKED);
    expect((await unblock(alice1)).attrs.type).to.equal('result');
  });

  it('never blocks the user’s own resources or own server, even when blocking its own domain (§5)', async () => {
    expect((await block(alice1, 'localhost')).attrs.type).to.equal('result');
    const fromCarol = nextId('from-carol');
    await carol.send(chat('alice@localhost/two', fromCarol));
    expect(errorOf(await carol.waitFor((el) => el.attrs.id === fromCarol))).to.deep.equal(
      SERVICE_UNAVAILABLE,
    );

    const own = nextId('own');
    await alice1.send(chat('alice@localhost/two', own, 'note to my other device'));
    const got = await alice2.waitFor((el) => el.attrs.id === own);
    expect(got.attrs.from).to.equal('alice@localhost/one');
    await settle(alice1); // a ping to localhost is answered
    expect(alice2.received.filter((el) => el.attrs.id === fromCarol)).to.deep.equal([]);
    expect((await unblock(alice1)).attrs.type).to.equal('result');
  });

  it('drops what the server sends on the user’s behalf to a JID the user blocks, local or remote', async () => {
    expect((await block(alice1, 'bob@localhost', 'romeo@remote.example')).attrs.type).to.equal('result');
    const remote: string[] = [];
    const unhook = ts.server.hooks.on('route/remote', (event) => {
      remote.push(`${event.stanza.name} ${event.to.full} ${event.stanza.attrs.type ?? ''}`);
    });
    try {
      // What the IM module does for a presence broadcast, a probe or a notification.
      const send = (name: string, to: string, type?: string): string => {
        const id = nextId('server');
        ts.server.router.send(x(name, { from: 'alice@localhost/one', to, type, id }));
        return id;
      };
      send('presence', 'romeo@remote.example');
      send('presence', 'romeo@remote.example/balcony', 'probe');
      send('message', 'romeo@remote.example', 'headline');
      send('presence', 'juliet@remote.example');
      // An error is an answer on the user's behalf (service-unavailable) and still goes out.
      send('message', 'romeo@remote.example', 'error');
      expect(remote).to.deep.equal(['presence juliet@remote.example ', 'message romeo@remote.example error']);

      await expectNotDelivered(bob, send('presence', 'bob@localhost'), carol);
    } finally {
      unhook();
    }
    expect((await unblock(alice1)).attrs.type).to.equal('result');
  });

  it('sends unavailable presence to a blocked subscriber, and the current presence after unblocking (§3.3, §3.4)', async () => {
    const alice = jid('alice', 'localhost');
    const bobJid = jid('bob', 'localhost');
    const release = await makeSubscriber(ts, alice, bobJid, bob, alice1);
    try {
      const since = bob.received.length;
      expect((await block(alice1, 'bob@localhost')).attrs.type).to.equal('result');
      for (const resource of ['one', 'two', 'three']) {
        const presence = await waitAfter(
          bob,
          since,
          (el) => el.name === 'presence' && el.attrs.from === `alice@localhost/${resource}`,
        );
        expect(canon(presence)).to.equal(
          canon(
            xml('presence', {
              type: 'unavailable',
              from: `alice@localhost/${resource}`,
              to: 'bob@localhost',
            }),
          ),
        );
      }

      // While blocked, alice's own broadcasts (the roster module's, when it is loaded) do not
      // reach bob: a new presence of one resource, and the unavailable of one that leaves.
      const blocked = bob.received.length;
      await alice1.send(xml('presence', {}, xml('status', {}, 'busy'), xml('priority', {}, '1')));
      await settle(alice1);
      await alice3.stop();
      await eventually(
        () => ts.server.sessions.resources('alice@localhost').length === 2,
        'alice/three is gone',
      );
      const witness = nextId('witness');
      await carol.send(chat('bob@localhost/desk', witness));
      await bob.waitFor((el) => el.attrs.id === witness);
      expect(
        bob.received
          .slice(blocked)
          .filter((el) => el.name === 'presence')
          .map((el) => el.toString()),
      ).to.deep.equal([]);

      const again = bob.received.length;
      expect((await unblock(alice1, 'bob@localhost')).attrs.type).to.equal('result');
      for (const [resource, status] of [
        ['one', 'busy'],
        ['two', 'two'],
      ]) {
        const presence = await waitAfter(
          bob,
          again,
          (el) => el.name === 'presence' && el.attrs.from === `alice@localhost/${resource}`,
        );
        expect(presence.attrs.type).to.equal(undefined);
        expect(presence.attrs.to).to.equal('bob@localhost');
        expect(presence.getChildText('status')).to.equal(status);
      }
    } finally {
      await release();
    }
  });

  it('delivers no stored message or waiting subscription request from a JID blocked since (§3.3)', async () => {
    await ts.addUser('frank', 'frank-secret');
    const fromBob = nextId('stored-bob');
    const fromCarol = nextId('stored-carol');
    await bob.send(chat('frank@localhost', fromBob, 'kept for frank'));
    await bob.send(xml('presence', { to: 'frank@localhost', type: 'subscribe', id: `${fromBob}-sub` }));
    await settle(bob);
    await carol.send(chat('frank@localhost', fromCarol, 'kept for frank too'));
    await carol.send(xml('presence', { to: 'frank@localhost', type: 'subscribe', id: `${fromCarol}-sub` }));
    await settle(carol);

    const frank = await connect({
      port: ts.port,
      domain: 'localhost',
      username: 'frank',
      password: 'frank-secret',
      resource: 'f',
      mechanism: 'PLAIN',
    });
    try {
      expect((await block(frank, 'bob@localhost')).attrs.type).to.equal('result');
      await frank.send(xml('presence'));
      await frank.waitFor((el) => el.attrs.id === fromCarol);
      await settle(frank);
      const got = frank.received
        .filter((el) => el.name === 'message' || (el.name === 'presence' && el.attrs.type === 'subscribe'))
        .map((el) => `${el.name} ${el.attrs.from} ${el.attrs.id}`);
      expect(got).to.deep.equal([
        `presence carol@localhost ${fromCarol}-sub`,
        `message carol@localhost/desk ${fromCarol}`,
      ]);
      // Dropped, not kept for later: unblocking brings nothing back.
      expect(await new SqliteOfflineStore(ts.server.db).count(jid('frank', 'localhost'))).to.equal(0);
    } finally {
      await frank.stop().catch(() => {});
    }
  });

  it('forgets the blocklist of a deleted account', async () => {
    const erin = jid('erin', 'localhost');
    await ts.addUser('erin', 'erin-secret');
    let c = await login('erin', 'x', 0);
    expect((await block(c, 'bob@localhost')).attrs.type).to.equal('result');
    await c.stop();
    await ts.server.accounts.delete(erin);
    await ts.addUser('erin', 'erin-secret');
    // The new erin is offline and blocks nobody: bob's message is kept for her, not refused.
    const id = nextId('to-new-erin');
    await bob.send(chat('erin@localhost', id));
    await settle(bob);
    expect(bob.received.filter((el) => el.attrs.id === id)).to.deep.equal([]);
    c = await connect({
      port: ts.port,
      domain: 'localhost',
      username: 'erin',
      password: 'erin-secret',
      resource: 'x',
      mechanism: 'PLAIN',
    });
    try {
      expect(await blocklistOf(c)).to.deep.equal([]);
      await c.send(xml('presence'));
      const kept = await c.waitFor((el) => el.attrs.id === id);
      expect(kept.attrs.from).to.equal('bob@localhost/desk');
    } finally {
      await c.stop();
    }
  });
});

/**
 * Makes `contact` a presence subscriber of `user` (subscription 'from'): through the roster
 * module when it is loaded (RFC 6121 §3.1), else through a stand-in roster service that says
 * just that. Resolves with the function that undoes it.
 */
async function makeSubscriber(
  ts: TestServer,
  user: JID,
  contact: JID,
  contactClient: TestClient,
  userClient: TestClient,
): Promise<() => Promise<void>> {
  const services = ts.server.services;
  const roster = services.get('roster');
  if (roster === undefined) {
    const item: RosterItem = {
      jid: contact,
      name: undefined,
      subscription: 'from',
      ask: false,
      approved: false,
      groups: [],
    };
    const items = async (owner: JID) => (owner.bare === user.bare ? [item] : []);
    const withdraw = services.provide('roster', {
      getItem: async (owner, other) => (await items(owner)).find((i) => i.jid.bare === other.bare),
      getItems: items,
      isSubscriber: async (owner, other) => owner.bare === user.bare && other.bare === contact.bare,
    });
    return async () => withdraw();
  }
  await contactClient.send(xml('presence', { type: 'subscribe', to: user.bare }));
  await settle(contactClient);
  await userClient.send(xml('presence', { type: 'subscribed', to: contact.bare }));
  await settle(userClient);
  for (let i = 0; i < 100 && !(await roster.isSubscriber(user, contact)); i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  expect(await roster.isSubscriber(user, contact)).to.equal(true);
  return async () => {
    await userClient.send(xml('presence', { type: 'unsubscribed', to: contact.bare }));
    await settle(userClient);
  };
}

describe('XEP-0191 blocklists across a restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warbler-blocking-'));
  let ts: TestServer;
  const clients: TestClient[] = [];

  async function login(username: string, resource: string): Promise<TestClient> {
    const c = await connect({
      port: ts.port,
      domain: 'localhost',
      username,
      password: `${username}-secret`,
      resource,
      mechanism: 'PLAIN',
    });
    clients.push(c);
    return c;
  }

  const start = () => startTestServer({ dir, extraToml: '[blocking]\nmax_items = 3' });

  before(async () => {
    ts = await start();
    for (const user of ['alice', 'bob', 'carol']) await ts.addUser(user, `${user}-secret`);
  });
  after(async () => {
    await Promise.all(clients.splice(0).map((c) => c.stop().catch(() => {})));
    await ts?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the blocklist in SQLite and enforces it for an offline user after a restart', async () => {
    const alice = await login('alice', 'a');
    expect((await block(alice, 'bob@localhost')).attrs.type).to.equal('result');
    await Promise.all(clients.splice(0).map((c) => c.stop()));
    await ts.stop();
    ts = await start();

    // alice is offline: her list is read from the store on demand.
    const bob = await login('bob', 'desk');
    const id = nextId('to-offline-alice');
    await bob.send(chat('alice@localhost', id, 'are you there?'));
    const error = await bob.waitFor((el) => el.attrs.id === id);
    expect(errorOf(error)).to.deep.equal(SERVICE_UNAVAILABLE);
    expect(error.attrs.from).to.equal('alice@localhost');
    const disco = await iq(
      bob,
      'get',
      xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }),
      'alice@localhost',
    );
    expect(errorOf(disco)).to.deep.equal(SERVICE_UNAVAILABLE);

    const carol = await login('carol', 'desk');
    const fromCarol = nextId('carol-to-offline-alice');
    await carol.send(chat('alice@localhost', fromCarol, 'see you later'));
    await settle(carol);
    expect(carol.received.filter((el) => el.attrs.id === fromCarol)).to.deep.equal([]);

    const back = await login('alice', 'b');
    expect(await blocklistOf(back)).to.deep.equal(['bob@localhost']);
    // Messages kept while she was away arrive at her initial presence: carol's, never bob's.
    await back.send(xml('presence'));
    await back.waitFor((el) => el.attrs.id === fromCarol);
    expect(back.received.filter((el) => el.attrs.id === id)).to.deep.equal([]);

    const online = nextId('to-online-alice');
    await bob.send(chat('alice@localhost/b', online));
    expect(errorOf(await bob.waitFor((el) => el.attrs.id === online))).to.deep.equal(SERVICE_UNAVAILABLE);
  });

  it('refuses a block beyond blocking.max_items with not-allowed, all or nothing', async () => {
    const alice = await login('alice', 'c');
    expect((await block(alice, 'x@a.test', 'y@a.test')).attrs.type).to.equal('result');
    const over = await block(alice, 'z@a.test', 'x@a.test');
    expect(errorOf(over)).to.deep.equal({
      type: 'cancel',
      code: '405',
      conditions: [`${STANZAS} not-allowed`, `${STANZAS} text`],
    });
    expect(over.getChild('error')!.getChildText('text')).to.equal('a blocklist holds at most 3 JIDs');
    expect(await blocklistOf(alice)).to.deep.equal(['bob@localhost', 'x@a.test', 'y@a.test']);
  });
});
