// RFC 6121 §4 presence end to end, with @xmpp/client over real sockets: initial presence and
// the probes answered at login (§4.2, §4.3), subsequent and unavailable presence (§4.4, §4.5),
// unavailable on behalf of a client whose connection died, probes sent by clients, directed
// presence (§4.6), presence to one's own bare JID (§8.5.2.1.2), delivery to available
// resources only, and message delivery by priority.

import { type XmlElement, xml } from '@xmpp/client';
import { expect } from 'chai';
import { NS } from '../../src/xml/ns.js';
import type { TestClient } from '../helpers/client.js';
import {
  befriend,
  expectStanza,
  login,
  presenceFrom as presence,
  pushAbout,
  request,
  settle,
  upcoming,
} from '../helpers/im.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// Exact presence stanzas: without the vCard module's avatar hash in them.
const CONFIG = ['[modules]', 'disabled = ["vcard"]'].join('\n');
const USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'gina', 'hugo'];

function destroySocket(c: TestClient): void {
  (c as unknown as { socket: { socket: { destroy(): void } } }).socket.socket.destroy();
}

describe('RFC 6121 §4 presence', () => {
  let ts: TestServer;
  const clients: TestClient[] = [];

  before(async () => {
    // Without XEP-0198 resumption, so that a killed connection ends its session at once (with
    // resumption the server waits for the client to come back: see stream-management.test.ts).
    ts = await startTestServer({ extraToml: CONFIG, c2s: 'resumption_timeout = 0' });
    for (const name of USERS) await ts.addUser(name, `${name}-secret`);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.stop().catch(() => {})));
  });
  after(async () => {
    await ts.stop();
  });

  /** A connected resource that asked for its roster (interested, not yet available). */
  async function connected(name: string, resource: string): Promise<TestClient> {
    const c = await login(ts, name, resource);
    clients.push(c);
    await request(c, 'get', xml('query', { xmlns: NS.ROSTER }));
    return c;
  }

  /** Sends `stanza` as initial presence and waits for the server's echo of it (§4.2.2). */
  async function goOnline(c: TestClient, stanza: XmlElement): Promise<void> {
    const echo = upcoming(c)(presence(c.jid!.toString()));
    await c.send(stanza);
    await echo;
  }

  async function online(name: string, resource: string, ...children: XmlElement[]): Promise<TestClient> {
    const c = await connected(name, resource);
    await goOnline(c, xml('presence', { id: `${name}-${resource}` }, ...children));
    return c;
  }

  function forget(c: TestClient): void {
    clients.splice(clients.indexOf(c), 1);
  }

  describe('between two contacts', () => {
    let phone: TestClient;
    let bob: TestClient;

    before(async () => {
      phone = await online('alice', 'phone');
      bob = await online('bob', 'desk', xml('show', {}, 'away'), xml('status', {}, 'lunch'));
      await befriend(phone, bob);
      clients.splice(0);
    });
    after(async () => {
      await Promise.all([phone, bob].map((c) => c.stop().catch(() => {})));
    });

    it('broadcasts initial presence to subscribers and own resources, and answers the probes at login (§4.2, §4.3)', async () => {
      const laptop = await connected('alice', 'laptop');
      const bobsPresence = upcoming(laptop)(presence('bob@localhost/desk'));
      const phonesPresence = upcoming(laptop)(presence('alice@localhost/phone'));
      const atPhone = upcoming(phone)(presence('alice@localhost/laptop'));
      const atBob = upcoming(bob)(presence('alice@localhost/laptop'));
      await goOnline(laptop, xml('presence', { id: 'laptop-1' }, xml('priority', {}, '1')));

      expectStanza(
        await atBob,
        xml(
          'presence',
          { from: 'alice@localhost/laptop', to: 'bob@localhost', id: 'laptop-1' },
          xml('priority', {}, '1'),
        ),
      );
      expectStanza(
        await atPhone,
        xml(
          'presence',
          { from: 'alice@localhost/laptop', to: 'alice@localhost/phone', id: 'laptop-1' },
          xml('priority', {}, '1'),
        ),
      );
      // §4.3.2 #4: the full last presence, from the full JID, with its own id.
      expectStanza(
        await bobsPresence,
        xml(
          'presence',
          { from: 'bob@localhost/desk', to: 'alice@localhost/laptop', id: 'bob-desk' },
          xml('show', {}, 'away'),
          xml('status', {}, 'lunch'),
        ),
      );
      expectStanza(
        await phonesPresence,
        xml('presence', { from: 'alice@localhost/phone', to: 'alice@localhost/laptop', id: 'alice-phone' }),
      );

      // §4.4: a later presence is broadcast the same way, without probing again.
      const update = upcoming(bob)(presence('alice@localhost/laptop'));
      await laptop.send(xml('presence', { id: 'laptop-2' }, xml('show', {}, 'dnd')));
      expectStanza(
        await update,
        xml(
          'presence',
          { from: 'alice@localhost/laptop', to: 'bob@localhost', id: 'laptop-2' },
          xml('show', {}, 'dnd'),
        ),
      );
      await settle(laptop);
      expect(laptop.received.filter(presence('bob@localhost/desk'))).to.have.length(1);
    });

    it('broadcasts unavailable presence when a resource signs off (§4.5)', async () => {
      const laptop = await online('alice', 'laptop');
      const atBob = upcoming(bob)(presence('alice@localhost/laptop', 'unavailable'));
      const atPhone = upcoming(phone)(presence('alice@localhost/laptop', 'unavailable'));
      const echo = upcoming(laptop)(presence('alice@localhost/laptop', 'unavailable'));
      await laptop.send(
        xml('presence', { type: 'unavailable', id: 'bye' }, xml('status', {}, 'gone fishing')),
      );
      const expected = (to: string) =>
        xml(
          'presence',
          { from: 'alice@localhost/laptop', to, type: 'unavailable', id: 'bye' },
          xml('status', {}, 'gone fishing'),
        );
      expectStanza(await atBob, expected('bob@localhost'));
      expectStanza(await atPhone, expected('alice@localhost/phone'));
      expectStanza(await echo, expected('alice@localhost/laptop'));
      // §4.5.2 implementation note: presence after that is initial presence again.
      const back = upcoming(bob)(presence('alice@localhost/laptop'));
      const probed = upcoming(laptop)(presence('bob@localhost/desk'));
      await laptop.send(xml('presence', { id: 'again' }));
      expect((await back).attrs.id).to.equal('again');
      await probed;
    });

    it('broadcasts unavailable presence on behalf of a resource whose connection died (§4.5.2)', async () => {
      const tablet = await online('alice', 'tablet');
      const atBob = upcoming(bob)(presence('alice@localhost/tablet', 'unavailable'));
      const atPhone = upcoming(phone)(presence('alice@localhost/tablet', 'unavailable'));
      forget(tablet);
      destroySocket(tablet);
      expectStanza(
        await atBob,
        xml('presence', { from: 'alice@localhost/tablet', to: 'bob@localhost', type: 'unavailable' }),
      );
      expectStanza(
        await atPhone,
        xml('presence', { from: 'alice@localhost/tablet', to: 'alice@localhost/phone', type: 'unavailable' }),
      );
    });

    it('answers probes from clients: presence, "unsubscribed" to strangers, unavailable when offline (§4.3.2)', async () => {
      const laptop = await connected('alice', 'laptop');
      const answer = upcoming(laptop)(presence('bob@localhost/desk'));
      await laptop.send(xml('presence', { to: 'bob@localhost', type: 'probe', id: 'p1' }));
      expectStanza(
        await answer,
        xml(
          'presence',
          { from: 'bob@localhost/desk', to: 'alice@localhost/laptop', id: 'bob-desk' },
          xml('show', {}, 'away'),
          xml('status', {}, 'lunch'),
        ),
      );
      // A probe of a full JID learns only that the resource is there.
      const mere = upcoming(laptop)((el) => el.name === 'presence' && el.attrs.id === 'p2');
      await laptop.send(xml('presence', { to: 'bob@localhost/desk', type: 'probe', id: 'p2' }));
      expectStanza(
        await mere,
        xml('presence', { from: 'bob@localhost/desk', to: 'alice@localhost/laptop', id: 'p2' }),
      );

      // Carol's roster says she sees bob, but bob never agreed (a roster out of step): his
      // server answers "unsubscribed", which puts her roster right (§4.3.2 #1, §3.2.3).
      ts.server.db
        .prepare(
          `INSERT INTO roster_items (host, username, contact, groups, subscription, version)
           VALUES ('localhost', 'carol', 'bob@localhost', '[]', 'to', 1)`,
        )
        .run();
      const carol = await connected('carol', 'c');
      const refused = upcoming(carol)((el) => el.name === 'presence' && el.attrs.id === 'p3');
      const corrected = upcoming(carol)(pushAbout('bob@localhost', 'none'));
      await carol.send(xml('presence', { to: 'bob@localhost', type: 'probe', id: 'p3' }));
      expectStanza(
        await refused,
        xml('presence', { from: 'bob@localhost', to: 'carol@localhost', type: 'unsubscribed', id: 'p3' }),
      );
      await corrected;
      await settle(bob);
      expect(
        bob.received.filter((el) => el.attrs.id === 'p3'),
        'bob is not told',
      ).to.have.length(0);
      // An account that does not exist answers the same, which carol's server, having no
      // subscription to cancel, does not deliver (§8.5.1, A.3.4).
      await carol.send(xml('presence', { to: 'nobody@localhost', type: 'probe', id: 'p4' }));
      await settle(carol);
      expect(carol.received.filter((el) => el.attrs.id === 'p4')).to.have.length(0);

      // §4.3.2 #3: the contact has no available resource.
      const phoneGone = upcoming(bob)(presence('alice@localhost/phone', 'unavailable'));
      await phone.send(xml('presence', { type: 'unavailable' }));
      await phoneGone;
      const asking = await connected('bob', 'asking');
      const offline = upcoming(asking)((el) => el.name === 'presence' && el.attrs.id === 'p5');
      await asking.send(xml('presence', { to: 'alice@localhost', type: 'probe', id: 'p5' }));
      expectStanza(
        await offline,
        xml('presence', {
          from: 'alice@localhost',
          to: 'bob@localhost/asking',
          type: 'unavailable',
          id: 'p5',
        }),
      );
      await goOnline(phone, xml('presence', { id: 'alice-phone' }));
    });

    it('delivers presence for a bare JID to available resources only (§8.5.2.1.2)', async () => {
      const idle = await connected('bob', 'idle');
      const atDesk = upcoming(bob)(presence('alice@localhost/phone'));
      await phone.send(xml('presence', { id: 'to-all' }, xml('status', {}, 'around')));
      await atDesk;
      await settle(idle);
      expect(idle.received.filter(presence('alice@localhost/phone'))).to.have.length(0);
    });
  });

  it('tracks directed presence and ends it with unavailable, unless already ended (§4.6)', async () => {
    const dave = await online('dave', 'd');
    const erin = await online('erin', 'e');
    const first = await online('frank', 'one');
    const second = await online('frank', 'two');

    const toDave = upcoming(dave)(presence('frank@localhost/one'));
    await first.send(xml('presence', { to: 'dave@localhost', id: 'dir' }, xml('status', {}, 'hi dave')));
    expectStanza(
      await toDave,
      xml(
        'presence',
        { from: 'frank@localhost/one', to: 'dave@localhost', id: 'dir' },
        xml('status', {}, 'hi dave'),
      ),
    );
    const toErin = upcoming(erin)(presence('frank@localhost/two'));
    await second.send(xml('presence', { to: 'erin@localhost/e', id: 'dir2' }));
    await toErin;
    // Directed unavailable ends it early: erin hears that once, not again at logout.
    const erinEnd = upcoming(erin)(presence('frank@localhost/two', 'unavailable'));
    await second.send(xml('presence', { to: 'erin@localhost/e', type: 'unavailable', id: 'end' }));
    await erinEnd;

    // A broadcast does not reach entities that only had directed presence (§4.6.3 #2).
    await first.send(xml('presence', { id: 'broadcast' }, xml('show', {}, 'xa')));
    await settle(first);

    const daveEnd = upcoming(dave)(presence('frank@localhost/one', 'unavailable'));
    forget(first);
    destroySocket(first);
    expectStanza(
      await daveEnd,
      xml('presence', { from: 'frank@localhost/one', to: 'dave@localhost', type: 'unavailable' }),
    );
    await second.send(xml('presence', { type: 'unavailable' }));
    await settle(second);
    await settle(dave);
    await settle(erin);
    expect(dave.received.filter((el) => el.attrs.id === 'broadcast')).to.have.length(0);
    expect(erin.received.filter(presence('frank@localhost/two', 'unavailable'))).to.have.length(1);
  });

  it('delivers presence sent to one’s own bare JID to one’s available resources, and to no contact', async () => {
    const a = await online('gina', 'a');
    const b = await online('gina', 'b');
    const h = await online('hugo', 'h');
    await befriend(a, h);
    const atA = upcoming(a)((el) => el.attrs.id === 'self');
    const atB = upcoming(b)((el) => el.attrs.id === 'self');
    await a.send(xml('presence', { to: 'gina@localhost', id: 'self' }, xml('status', {}, 'note')));
    const expected = xml(
      'presence',
      { from: 'gina@localhost/a', to: 'gina@localhost', id: 'self' },
      xml('status', {}, 'note'),
    );
    expectStanza(await atA, expected);
    expectStanza(await atB, expected);
    await settle(h);
    expect(h.received.filter((el) => el.attrs.id === 'self')).to.have.length(0);
    // And a probe of one's own bare JID: one is subscribed to oneself (§4.2.2).
    const answer = upcoming(a)((el) => el.name === 'presence' && el.attrs.from === 'gina@localhost/b');
    await a.send(xml('presence', { to: 'gina@localhost', type: 'probe', id: 'me' }));
    expect((await answer).attrs.to).to.equal('gina@localhost/a');
  });

  it('delivers a message for a bare JID to the resource of highest non-negative priority (§8.5.2.1.1)', async () => {
    const high = await online('erin', 'high', xml('priority', {}, '5'));
    const low = await online('erin', 'low', xml('priority', {}, '-1'));
    const carol = await connected('carol', 'c');
    const got = upcoming(high)((el) => el.name === 'message');
    await carol.send(xml('message', { to: 'erin@localhost', type: 'chat', id: 'm1' }, xml('body', {}, 'hi')));
    expect((await got).attrs.id).to.equal('m1');
    await settle(low);
    expect(low.received.filter((el) => el.name === 'message')).to.have.length(0);
  });
});
