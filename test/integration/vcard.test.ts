// XEP-0054 vcard-temp and XEP-0153 avatar hashes end to end: a real server on loopback,
// @xmpp/client over STARTTLS, three accounts, and a restart between storing and reading.
//
// XEP-0054 §3.1 (own vCard; empty when none), §3.2 (update; forbidden for another's), §3.3
// (another's vCard; service-unavailable when none or no account), §4 (disco feature).
// XEP-0153 §3.1 (the SHA-1 of the image data), §4.1 (the update element, empty <photo/>).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type XmlElement, xml } from '@xmpp/client';
import { expect } from 'chai';
import type { StanzaEvent } from '../../src/core/hooks.js';
import { connect, type TestClient } from '../helpers/client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const VCARD = 'vcard-temp';
const UPDATE = 'vcard-temp:x:update';
const DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const MAX_SIZE = 4096;

// The image data "hello" and "world", and their SHA-1 (computed apart, with Python's hashlib).
const HELLO = { base64: 'aGVsbG8=', sha1: 'aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d' };
const WORLD = { base64: 'd29y\n  bGQ=', sha1: '7c211433f02071597741e6ff5a8ea34789abbf43' };

let counter = 0;

async function request(client: TestClient, attrs: Record<string, string>, payload: XmlElement) {
  const id = `vc-${++counter}`;
  await client.send(xml('iq', { ...attrs, id }, payload));
  return client.waitFor((el) => el.name === 'iq' && el.attrs.id === id);
}

/** The error of an error reply: type, legacy code and condition. */
function errorOf(reply: XmlElement): { type: string; code: string; condition: string } {
  expect(reply.attrs.type, reply.toString()).to.equal('error');
  const error = reply.getChild('error')!;
  const condition = error.children.find(
    (c): c is XmlElement => typeof c !== 'string' && c.name !== 'text' && c.attrs.xmlns === STANZAS,
  );
  return { type: error.attrs.type!, code: error.attrs.code!, condition: condition!.name };
}

function vCard(fn: string, photo?: string, extra: XmlElement[] = []): XmlElement {
  return xml(
    'vCard',
    { xmlns: VCARD },
    xml('FN', {}, fn),
    xml('N', {}, xml('FAMILY', {}, 'Capulet'), xml('GIVEN', {}, fn), xml('MIDDLE')),
    ...(photo === undefined
      ? []
      : [xml('PHOTO', {}, xml('TYPE', {}, 'image/png'), xml('BINVAL', {}, photo))]),
    ...extra,
  );
}

async function setVCard(client: TestClient, card: XmlElement, to?: string): Promise<XmlElement> {
  return request(client, to === undefined ? { type: 'set' } : { type: 'set', to }, card);
}

async function getVCard(client: TestClient, to?: string): Promise<XmlElement> {
  return request(
    client,
    to === undefined ? { type: 'get' } : { type: 'get', to },
    xml('vCard', { xmlns: VCARD }),
  );
}

function login(ts: TestServer, username: string, resource: string): Promise<TestClient> {
  // PLAIN over TLS: the client library's SCRAM is slow, and c2s.test.ts covers SCRAM.
  return connect({
    port: ts.port,
    domain: 'localhost',
    username,
    password: `${username}-secret`,
    resource,
    mechanism: 'PLAIN',
  });
}

describe('XEP-0054 vcard-temp', () => {
  let ts: TestServer;
  let alice: TestClient;
  let bob: TestClient;

  before(async () => {
    ts = await startTestServer({ extraToml: `[vcard]\nmax_size = ${MAX_SIZE}` });
    for (const user of ['alice', 'bob', 'carol']) await ts.addUser(user, `${user}-secret`);
    alice = await login(ts, 'alice', 'laptop');
    bob = await login(ts, 'bob', 'phone');
  });
  after(async () => {
    await Promise.all([alice, bob].map((c) => c?.stop().catch(() => {})));
    await ts?.stop();
  });

  it("advertises 'vcard-temp' in the server's disco#info (§4)", async () => {
    const reply = await request(alice, { type: 'get', to: 'localhost' }, xml('query', { xmlns: DISCO_INFO }));
    const features = reply
      .getChild('query', DISCO_INFO)!
      .getChildren('feature')
      .map((f) => f.attrs.var);
    expect(features).to.include(VCARD);
  });

  it('answers an account without a vCard its own request with an empty <vCard/> (§3.1)', async () => {
    const reply = await getVCard(alice);
    expect(reply.attrs.type).to.equal('result');
    expect(reply.attrs.from).to.equal('alice@localhost');
    expect(reply.attrs.to).to.equal('alice@localhost/laptop');
    expect(reply.children.map(String)).to.deep.equal(['<vCard xmlns="vcard-temp"/>']);
  });

  it('answers service-unavailable for a missing vCard and a missing account alike (§3.3)', async () => {
    const none = await getVCard(bob, 'carol@localhost');
    const nobody = await getVCard(bob, 'nobody@localhost');
    expect(none.attrs.from).to.equal('carol@localhost');
    expect(errorOf(none)).to.deep.equal({ type: 'cancel', code: '503', condition: 'service-unavailable' });
    expect(errorOf(nobody)).to.deep.equal(errorOf(none));
  });

  it('stores a vCard and shows it to its owner and to others (§3.1, §3.2, §3.3)', async () => {
    const card = vCard('Alice', HELLO.base64);
    const set = await setVCard(alice, card);
    expect(set.attrs.type).to.equal('result');
    expect(set.children).to.deep.equal([]);

    const own = await getVCard(alice);
    expect(own.attrs.type).to.equal('result');
    expect(own.children.map(String)).to.deep.equal([card.toString()]);

    const seen = await getVCard(bob, 'alice@localhost');
    expect(seen.attrs.type).to.equal('result');
    expect(seen.attrs.from).to.equal('alice@localhost');
    expect(seen.attrs.to).to.equal('bob@localhost/phone');
    expect(seen.children.map(String)).to.deep.equal([card.toString()]);
  });

  it('takes a set addressed to the own bare JID as one without "to"', async () => {
    const card = vCard('Bob');
    expect((await setVCard(bob, card, 'bob@localhost')).attrs.type).to.equal('result');
    expect((await getVCard(alice, 'bob@localhost')).children.map(String)).to.deep.equal([card.toString()]);
  });

  it("refuses to change another account's vCard with forbidden (§3.2)", async () => {
    const before = (await getVCard(bob, 'alice@localhost')).children.map(String);
    const reply = await setVCard(bob, vCard('Mallory'), 'alice@localhost');
    expect(errorOf(reply)).to.deep.equal({ type: 'auth', code: '403', condition: 'forbidden' });
    expect((await getVCard(bob, 'alice@localhost')).children.map(String)).to.deep.equal(before);
  });

  it("refuses to change the server's vCard, and has none to show", async () => {
    const set = await setVCard(bob, vCard('Server'), 'localhost');
    expect(errorOf(set)).to.deep.equal({ type: 'auth', code: '403', condition: 'forbidden' });
    const get = await getVCard(bob, 'localhost');
    expect(errorOf(get)).to.deep.equal({ type: 'cancel', code: '503', condition: 'service-unavailable' });
  });

  it('refuses a vCard over the size limit with not-acceptable, without echoing it', async () => {
    const before = (await getVCard(alice)).children.map(String);
    const big = vCard('Alice', HELLO.base64, [xml('DESC', {}, 'x'.repeat(MAX_SIZE))]);
    const reply = await setVCard(alice, big);
    expect(errorOf(reply)).to.deep.equal({ type: 'modify', code: '406', condition: 'not-acceptable' });
    expect(reply.getChild('vCard')).to.equal(undefined);
    expect(reply.getChild('error')!.getChildText('text')).to.match(
      new RegExp(`^the vCard is \\d+ bytes; this server keeps vCards of up to ${MAX_SIZE} bytes$`),
    );
    expect((await getVCard(alice)).children.map(String)).to.deep.equal(before);
  });

  it('takes an empty vCard as removing the stored one', async () => {
    const carol = await login(ts, 'carol', 'desk');
    try {
      expect((await setVCard(carol, vCard('Carol'))).attrs.type).to.equal('result');
      expect((await getVCard(bob, 'carol@localhost')).attrs.type).to.equal('result');
      expect((await setVCard(carol, xml('vCard', { xmlns: VCARD }))).attrs.type).to.equal('result');
      expect((await getVCard(carol)).children.map(String)).to.deep.equal(['<vCard xmlns="vcard-temp"/>']);
      expect(errorOf(await getVCard(bob, 'carol@localhost')).condition).to.equal('service-unavailable');
    } finally {
      await carol.stop().catch(() => {});
    }
  });
});

describe('XEP-0153 avatar hashes in presence', () => {
  let ts: TestServer;
  let alice: TestClient;
  let bob: TestClient;

  before(async () => {
    ts = await startTestServer();
    for (const user of ['alice', 'bob']) await ts.addUser(user, `${user}-secret`);
    alice = await login(ts, 'alice', 'laptop');
    bob = await login(ts, 'bob', 'phone');
  });
  after(async () => {
    await Promise.all([alice, bob].map((c) => c?.stop().catch(() => {})));
    await ts?.stop();
  });

  /** Sends a directed presence and returns it as the recipient got it. */
  async function presenceTo(sender: TestClient, recipient: TestClient, ...children: XmlElement[]) {
    const id = `p-${++counter}`;
    await sender.send(xml('presence', { to: recipient.jid!.toString(), id }, ...children));
    return recipient.waitFor((el) => el.name === 'presence' && el.attrs.id === id);
  }

  /**
   * Sends a broadcast presence (no `to`) and returns it as the IM module gets it to broadcast
   * (it hooks 'presence/broadcast' at priority 0, after the avatar hash is added at 100).
   */
  async function broadcast(client: TestClient, id: string, ...children: XmlElement[]): Promise<string> {
    let remove = () => {};
    const seen = new Promise<string>((resolve) => {
      remove = ts.server.hooks.on(
        'presence/broadcast',
        (event: StanzaEvent) => {
          if (event.stanza.attrs.id === id) resolve(event.stanza.toString());
        },
        50,
      );
    });
    try {
      await client.send(xml('presence', { id }, ...children));
      return await seen;
    } finally {
      remove();
    }
  }

  function photoOf(presence: XmlElement): string[] {
    return presence.getChildren('x', UPDATE).map(String);
  }

  it('adds an empty <photo/> when the account has no vCard photo (§4.1 rule 3)', async () => {
    const presence = await presenceTo(alice, bob, xml('show', {}, 'away'));
    expect(presence.attrs.from).to.equal('alice@localhost/laptop');
    expect(presence.getChildText('show')).to.equal('away');
    expect(photoOf(presence)).to.deep.equal(['<x xmlns="vcard-temp:x:update"><photo/></x>']);
  });

  it('adds the SHA-1 of the photo once the vCard has one (§3.1)', async () => {
    expect((await setVCard(alice, vCard('Alice', HELLO.base64))).attrs.type).to.equal('result');
    const presence = await presenceTo(alice, bob);
    expect(photoOf(presence)).to.deep.equal([
      `<x xmlns="vcard-temp:x:update"><photo>${HELLO.sha1}</photo></x>`,
    ]);
  });

  it('decorates the broadcast presence that contacts and probes get', async () => {
    const sent = await broadcast(alice, 'b-1', xml('priority', {}, '5'));
    expect(sent).to.equal(
      '<presence id="b-1" from="alice@localhost/laptop">' +
        `<priority>5</priority><x xmlns="vcard-temp:x:update"><photo>${HELLO.sha1}</photo></x></presence>`,
    );
  });

  it('carries the new hash after the vCard changes, in new and in kept presence', async () => {
    expect((await setVCard(alice, vCard('Alice', WORLD.base64))).attrs.type).to.equal('result');
    const presence = await presenceTo(alice, bob);
    expect(photoOf(presence)).to.deep.equal([
      `<x xmlns="vcard-temp:x:update"><photo>${WORLD.sha1}</photo></x>`,
    ]);
    // The presence kept for probes was decorated by the server, so it was updated in place.
    const session = ts.server.sessions.resources('alice@localhost')[0]!;
    expect(session.presence!.getChild('x', UPDATE)!.toString()).to.equal(
      `<x xmlns="vcard-temp:x:update"><photo>${WORLD.sha1}</photo></x>`,
    );
  });

  it("leaves a client's own photo hash alone", async () => {
    const own = xml('x', { xmlns: UPDATE }, xml('photo', {}, '0123456789abcdef0123456789abcdef01234567'));
    const presence = await presenceTo(alice, bob, own);
    expect(photoOf(presence)).to.deep.equal([own.toString()]);
    const sent = await broadcast(alice, 'b-2', own);
    expect(sent).to.contain(own.toString());
    expect(sent).to.not.contain(WORLD.sha1);
  });

  it('fills in the photo of an update element that has none (§4.3)', async () => {
    const presence = await presenceTo(alice, bob, xml('x', { xmlns: UPDATE }));
    expect(photoOf(presence)).to.deep.equal([
      `<x xmlns="vcard-temp:x:update"><photo>${WORLD.sha1}</photo></x>`,
    ]);
  });

  it('leaves unavailable presence alone', async () => {
    const id = `u-${++counter}`;
    await alice.send(xml('presence', { to: bob.jid!.toString(), type: 'unavailable', id }));
    const presence = await bob.waitFor((el) => el.name === 'presence' && el.attrs.id === id);
    expect(presence.children).to.deep.equal([]);
  });
});

describe('vCards across a restart', () => {
  it('are kept in SQLite, photo hash included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warbler-vcard-'));
    const card = vCard('Alice', HELLO.base64);
    try {
      const first = await startTestServer({ dir });
      try {
        await first.addUser('alice', 'alice-secret');
        await first.addUser('bob', 'bob-secret');
        const alice = await login(first, 'alice', 'laptop');
        try {
          expect((await setVCard(alice, card)).attrs.type).to.equal('result');
        } finally {
          await alice.stop().catch(() => {});
        }
      } finally {
        await first.stop();
      }

      const second = await startTestServer({ dir });
      const clients: TestClient[] = [];
      try {
        const bob = await login(second, 'bob', 'phone');
        clients.push(bob);
        const seen = await getVCard(bob, 'alice@localhost');
        expect(seen.children.map(String)).to.deep.equal([card.toString()]);

        const alice = await login(second, 'alice', 'laptop');
        clients.push(alice);
        const id = `r-${++counter}`;
        await alice.send(xml('presence', { to: bob.jid!.toString(), id }));
        const presence = await bob.waitFor((el) => el.name === 'presence' && el.attrs.id === id);
        expect(presence.getChildren('x', UPDATE).map(String)).to.deep.equal([
          `<x xmlns="vcard-temp:x:update"><photo>${HELLO.sha1}</photo></x>`,
        ]);
      } finally {
        await Promise.all(clients.map((c) => c.stop().catch(() => {})));
        await second.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
