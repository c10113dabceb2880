// RFC 6121 §3 presence subscriptions end to end, with @xmpp/client over real sockets and two
// or three accounts per case: requesting and approving both ways (§3.1), requests kept for a
// user until answered and delivered at each login (§3.1.3), the server's own answers (§3.1.3
// #2, §3.4 pre-approval), cancelling and unsubscribing (§3.2, §3.3), removing a contact
// (§2.5.2), and the limits on rosters and stored requests.

import { type XmlElement, xml } from '@xmpp/client';
import { expect } from 'chai';
import { NS } from '../../src/xml/ns.js';
import type { TestClient } from '../helpers/client.js';
import {
  befriend,
  errorOf,
  expectStanza,
  isRosterPush as isPush,
  login,
  presenceFrom as presence,
  pushAbout,
  rosterQuery as query,
  request,
  rosterOf,
  settle,
  since,
  upcoming,
} from '../helpers/im.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// Exact presence stanzas: without the vCard module's avatar hash in them.
const CONFIG = [
  '[roster]',
  'max_items = 3',
  'max_pending_requests = 2',
  '[modules]',
  'disabled = ["vcard"]',
].join('\n');
const USERS = [
  'alice',
  'bob',
  'carol',
  'dave',
  'erin',
  'frank',
  'gina',
  'hugo',
  'ivan',
  'judy',
  'kate',
  'leo',
  'mia',
  'nina',
  'oscar',
  'pat',
  'quinn',
  'rita',
  'sam',
  'tina',
  'ursula',
  'vic',
  'walt',
  'xena',
];

/** The <item/> of a roster push, exactly. */
function expectPushedItem(push: XmlElement, expected: XmlElement): void {
  expectStanza(push.getChild('query', NS.ROSTER)!.getChild('item')!, expected);
}

describe('RFC 6121 §3 presence subscriptions', () => {
  let ts: TestServer;
  const clients: TestClient[] = [];

  before(async () => {
    ts = await startTestServer({ extraToml: CONFIG });
    for (const name of USERS) await ts.addUser(name, `${name}-secret`);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.stop().catch(() => {})));
  });
  after(async () => {
    await ts.stop();
  });

  /** A resource that asked for the roster but sent no presence: interested, not available. */
  async function interested(name: string, resource: string): Promise<TestClient> {
    const c = await login(ts, name, resource);
    clients.push(c);
    await request(c, 'get', query());
    return c;
  }

  /** An interested and available resource, with initial presence <status>{name} here</status>. */
  async function online(name: string, resource: string): Promise<TestClient> {
    const c = await interested(name, resource);
    const echo = upcoming(c)(presence(`${name}@localhost/${resource}`));
    await c.send(xml('presence', { id: `${name}-${resource}` }, xml('status', {}, `${name} here`)));
    await echo;
    return c;
  }

  async function offline(c: TestClient): Promise<void> {
    clients.splice(clients.indexOf(c), 1);
    await c.stop();
  }

  it('subscribes both ways: request, approval, roster pushes and presence (§3.1)', async () => {
    const a = await online('alice', 'home');
    const b = await online('bob', 'work');

    // §3.1.1–§3.1.3: the request, stamped with the bare JID, content and id kept.
    const request1 = upcoming(b)(presence('alice@localhost', 'subscribe'));
    const pending = upcoming(a)(pushAbout('bob@localhost'));
    await a.send(
      xml(
        'presence',
        { to: 'bob@localhost', type: 'subscribe', id: 'sub1' },
        xml('status', {}, 'It is Alice'),
      ),
    );
    expectStanza(
      await request1,
      xml(
        'presence',
        { from: 'alice@localhost', to: 'bob@localhost', type: 'subscribe', id: 'sub1' },
        xml('status', {}, 'It is Alice'),
      ),
    );
    expectPushedItem(
      await pending,
      xml('item', { jid: 'bob@localhost', subscription: 'none', ask: 'subscribe' }),
    );
    // §3.1.3 security warning: no item for alice in bob's roster until he approves.
    expect(await rosterOf(b)).to.deep.equal({});

    // §3.1.5, §3.1.6: the approval.
    const approval = upcoming(a)(presence('bob@localhost', 'subscribed'));
    const aTo = upcoming(a)(pushAbout('bob@localhost'));
    const bobsPresence = upcoming(a)(presence('bob@localhost/work'));
    const bFrom = upcoming(b)(pushAbout('alice@localhost'));
    await b.send(xml('presence', { to: 'alice@localhost', type: 'subscribed', id: 'ok1' }));
    expectStanza(
      await approval,
      xml('presence', { from: 'bob@localhost', to: 'alice@localhost', type: 'subscribed', id: 'ok1' }),
    );
    expectPushedItem(await aTo, xml('item', { jid: 'bob@localhost', subscription: 'to' }));
    expectPushedItem(await bFrom, xml('item', { jid: 'alice@localhost', subscription: 'from' }));
    expectStanza(
      await bobsPresence,
      xml(
        'presence',
        { from: 'bob@localhost/work', to: 'alice@localhost', id: 'bob-work' },
        xml('status', {}, 'bob here'),
      ),
    );

    // And the other way: alice is "To", so bob's request reaches her (To + Pending In).
    const request2 = upcoming(a)(presence('bob@localhost', 'subscribe'));
    const bAsk = upcoming(b)(pushAbout('alice@localhost'));
    await b.send(xml('presence', { to: 'alice@localhost', type: 'subscribe', id: 'sub2' }));
    expectStanza(
      await request2,
      xml('presence', { from: 'bob@localhost', to: 'alice@localhost', type: 'subscribe', id: 'sub2' }),
    );
    expectPushedItem(
      await bAsk,
      xml('item', { jid: 'alice@localhost', subscription: 'from', ask: 'subscribe' }),
    );

    const approval2 = upcoming(b)(presence('alice@localhost', 'subscribed'));
    const bBoth = upcoming(b)(pushAbout('alice@localhost'));
    const alicesPresence = upcoming(b)(presence('alice@localhost/home'));
    const aBoth = upcoming(a)(pushAbout('bob@localhost'));
    await a.send(xml('presence', { to: 'bob@localhost', type: 'subscribed', id: 'ok2' }));
    await approval2;
    expectPushedItem(await aBoth, xml('item', { jid: 'bob@localhost', subscription: 'both' }));
    expectPushedItem(await bBoth, xml('item', { jid: 'alice@localhost', subscription: 'both' }));
    expectStanza(
      await alicesPresence,
      xml(
        'presence',
        { from: 'alice@localhost/home', to: 'bob@localhost', id: 'alice-home' },
        xml('status', {}, 'alice here'),
      ),
    );
    expect(await rosterOf(a)).to.deep.equal({ 'bob@localhost': 'both' });
    expect(await rosterOf(b)).to.deep.equal({ 'alice@localhost': 'both' });
  });

  it('treats a subscription stanza to a full JID as one to the bare JID, from the sender’s bare JID (§3.1.2)', async () => {
    const r = await online('rita', 'r');
    const s = await online('sam', 's');
    const got = upcoming(s)(presence('rita@localhost', 'subscribe'));
    const push = upcoming(r)(pushAbout('sam@localhost'));
    await r.send(xml('presence', { to: 'sam@localhost/elsewhere', type: 'subscribe', id: 'full' }));
    expectStanza(
      await got,
      xml('presence', { from: 'rita@localhost', to: 'sam@localhost', type: 'subscribe', id: 'full' }),
    );
    expectPushedItem(
      await push,
      xml('item', { jid: 'sam@localhost', subscription: 'none', ask: 'subscribe' }),
    );
  });

  it('keeps a request for an offline user, with its content, and delivers it at each login until answered (§3.1.3)', async () => {
    const d = await online('dave', 'd');
    const content = () => [
      xml('status', {}, 'Hi Carol'),
      xml('nick', { xmlns: 'http://jabber.org/protocol/nick' }, 'Dave'),
    ];
    const sentAfter = Date.now();
    await d.send(
      xml('presence', { to: 'carol@localhost', type: 'subscribe', id: 'sub-offline' }, ...content()),
    );
    await d.waitFor(pushAbout('carol@localhost', 'none'));
    const storedBy = Date.now();

    for (const login of ['first', 'second']) {
      const c = await interested('carol', login);
      expect(await rosterOf(c), 'no item before she answers').to.deep.equal({});
      const got = upcoming(c)(presence('dave@localhost', 'subscribe'));
      await c.send(xml('presence'));
      // As received, with a XEP-0203 notation of when that was.
      const request = await got;
      const stamp = request.getChild('delay', 'urn:xmpp:delay')?.attrs.stamp ?? '';
      expect(Date.parse(stamp)).to.be.within(sentAfter, storedBy);
      expectStanza(
        request,
        xml(
          'presence',
          { from: 'dave@localhost', to: 'carol@localhost', type: 'subscribe', id: 'sub-offline' },
          ...content(),
          xml('delay', { xmlns: 'urn:xmpp:delay', from: 'localhost', stamp }),
        ),
      );
      await offline(c);
    }

    // A second request while the first waits is not stored again (§3.1.3 #4).
    await d.send(xml('presence', { to: 'carol@localhost', type: 'subscribe', id: 'again' }));
    await settle(d);
    const c = await interested('carol', 'third');
    const mark = c.received.length;
    await c.send(xml('presence'));
    await settle(c);
    const requests = since(c, mark).filter(presence('dave@localhost', 'subscribe'));
    expect(requests.map((p) => p.attrs.id)).to.deep.equal(['sub-offline']);

    // Answered: delivered no more.
    const approved = upcoming(d)(pushAbout('carol@localhost', 'to'));
    await c.send(xml('presence', { to: 'dave@localhost', type: 'subscribed' }));
    await approved;
    await offline(c);
    const later = await interested('carol', 'fourth');
    const mark2 = later.received.length;
    await later.send(xml('presence'));
    await settle(later);
    expect(since(later, mark2).filter(presence('dave@localhost', 'subscribe'))).to.have.length(0);
    expect(await rosterOf(later)).to.deep.equal({ 'dave@localhost': 'from' });
  });

  it('delivers a request to an online user at once, and again to each resource that becomes available', async () => {
    const e = await online('erin', 'one');
    const f = await online('frank', 'f');
    const now = upcoming(e)(presence('frank@localhost', 'subscribe'));
    await f.send(xml('presence', { to: 'erin@localhost', type: 'subscribe', id: 'hello' }));
    expect((await now).attrs.id).to.equal('hello');
    const second = await interested('erin', 'two');
    const got = upcoming(second)(presence('frank@localhost', 'subscribe'));
    await second.send(xml('presence'));
    expect((await got).attrs.id).to.equal('hello');
  });

  it('answers a subscribe from a contact already subscribed itself, resynchronising (§3.1.3 #2, A.3.1 [2])', async () => {
    const g = await online('gina', 'g');
    const h = await online('hugo', 'h');
    await befriend(g, h);
    // Gina's server loses her item (say, a restored backup) while hugo still lets her see him.
    ts.server.db
      .prepare("DELETE FROM roster_items WHERE host = 'localhost' AND username = 'gina' AND contact = ?")
      .run('hugo@localhost');
    const mark = h.received.length;
    const pushes: XmlElement[] = [];
    g.on('stanza', (el: XmlElement) => {
      if (pushAbout('hugo@localhost')(el)) pushes.push(el);
    });
    const answer = upcoming(g)(presence('hugo@localhost', 'subscribed'));
    const hugosPresence = upcoming(g)(presence('hugo@localhost/h'));
    await g.send(xml('presence', { to: 'hugo@localhost', type: 'subscribe', id: 'twice' }));
    expectStanza(
      await answer,
      xml('presence', { from: 'hugo@localhost', to: 'gina@localhost', type: 'subscribed', id: 'twice' }),
    );
    await hugosPresence;
    await settle(g);
    // The pushes come in the order of the changes, ending with the subscription restored.
    expect(pushes.map((p) => p.getChild('query')!.getChild('item')!.toString())).to.deep.equal([
      '<item jid="hugo@localhost" subscription="none" ask="subscribe"/>',
      '<item jid="hugo@localhost" subscription="to"/>',
    ]);
    await settle(h);
    expect(
      since(h, mark).filter((el) => el.name === 'presence' && el.attrs.type === 'subscribe'),
    ).to.have.length(0);
  });

  it('pre-approves a subscription and answers the later request itself (§3.4)', async () => {
    const i = await online('ivan', 'i');
    const j = await online('judy', 'j');
    const jMark = j.received.length;

    // §3.4.2 #4: no item yet, so one is made with approved='true'; nothing is routed.
    const approvedPush = upcoming(i)(pushAbout('judy@localhost'));
    await i.send(xml('presence', { to: 'judy@localhost', type: 'subscribed' }));
    expectPushedItem(
      await approvedPush,
      xml('item', { jid: 'judy@localhost', subscription: 'none', approved: 'true' }),
    );
    await settle(j);
    expect(
      since(j, jMark).filter((el) => el.name === 'presence' && el.attrs.from?.startsWith('ivan')),
    ).to.have.length(0);

    const iMark = i.received.length;
    const answer = upcoming(j)(presence('ivan@localhost', 'subscribed'));
    const ivansPresence = upcoming(j)(presence('ivan@localhost/i'));
    const jTo = upcoming(j)(pushAbout('ivan@localhost', 'to'));
    const iFrom = upcoming(i)(pushAbout('judy@localhost', 'from'));
    await j.send(xml('presence', { to: 'ivan@localhost', type: 'subscribe', id: 'may-i' }));
    expectStanza(
      await answer,
      xml('presence', { from: 'ivan@localhost', to: 'judy@localhost', type: 'subscribed', id: 'may-i' }),
    );
    await ivansPresence;
    await jTo;
    await settle(j);
    const judysPushes = j.received.filter(pushAbout('ivan@localhost'));
    expect(judysPushes.map((p) => p.getChild('query')!.getChild('item')!.attrs.subscription)).to.deep.equal([
      'none',
      'to',
    ]);
    expect(await rosterOf(j)).to.deep.equal({ 'ivan@localhost': 'to' });
    expectPushedItem(await iFrom, xml('item', { jid: 'judy@localhost', subscription: 'from' }));
    await settle(i);
    expect(since(i, iMark).filter(presence('judy@localhost', 'subscribe')), 'not delivered').to.have.length(
      0,
    );
  });

  it('withdraws a pre-approval on "unsubscribed", so the next request is delivered (§3.2.2 #2)', async () => {
    const i = await online('ivan', 'i2');
    const k = await online('kate', 'k');
    await i.send(xml('presence', { to: 'kate@localhost', type: 'subscribed' }));
    await i.waitFor(pushAbout('kate@localhost'));
    const withdrawn = upcoming(i)(pushAbout('kate@localhost'));
    await i.send(xml('presence', { to: 'kate@localhost', type: 'unsubscribed' }));
    expectPushedItem(await withdrawn, xml('item', { jid: 'kate@localhost', subscription: 'none' }));
    const delivered = upcoming(i)(presence('kate@localhost', 'subscribe'));
    await k.send(xml('presence', { to: 'ivan@localhost', type: 'subscribe' }));
    await delivered;
    await settle(k);
    expect(k.received.filter(presence('ivan@localhost', 'subscribed'))).to.have.length(0);
  });

  it('unsubscribes and cancels, updating both rosters (§3.2, §3.3)', async () => {
    const l = await online('leo', 'l');
    const m = await online('mia', 'm');
    await befriend(l, m);

    // §3.3: leo no longer wants mia's presence.
    const unsubscribe = upcoming(m)(presence('leo@localhost', 'unsubscribe'));
    const lFrom = upcoming(l)(pushAbout('mia@localhost'));
    const mTo = upcoming(m)(pushAbout('leo@localhost'));
    const miaGone = upcoming(l)(presence('mia@localhost/m', 'unavailable'));
    await l.send(xml('presence', { to: 'mia@localhost', type: 'unsubscribe', id: 'bye' }));
    expectStanza(
      await unsubscribe,
      xml('presence', { from: 'leo@localhost', to: 'mia@localhost', type: 'unsubscribe', id: 'bye' }),
    );
    expectPushedItem(await lFrom, xml('item', { jid: 'mia@localhost', subscription: 'from' }));
    expectPushedItem(await mTo, xml('item', { jid: 'leo@localhost', subscription: 'to' }));
    // §3.3.3 #3
    expectStanza(
      await miaGone,
      xml('presence', { from: 'mia@localhost/m', to: 'leo@localhost', type: 'unavailable' }),
      ['id'],
    );

    // §3.2: leo cancels mia's subscription to him; she sees him go first.
    const leoGone = upcoming(m)(presence('leo@localhost/l', 'unavailable'));
    const cancelled = upcoming(m)(presence('leo@localhost', 'unsubscribed'));
    const lNone = upcoming(l)(pushAbout('mia@localhost'));
    const mNone = upcoming(m)(pushAbout('leo@localhost', 'none'));
    await l.send(xml('presence', { to: 'mia@localhost', type: 'unsubscribed', id: 'no-more' }));
    await leoGone;
    expectStanza(
      await cancelled,
      xml('presence', { from: 'leo@localhost', to: 'mia@localhost', type: 'unsubscribed', id: 'no-more' }),
    );
    expect(m.received.indexOf(await leoGone)).to.be.lessThan(m.received.indexOf(await cancelled));
    expectPushedItem(await lNone, xml('item', { jid: 'mia@localhost', subscription: 'none' }));
    await mNone;
    expect(await rosterOf(l)).to.deep.equal({ 'mia@localhost': 'none' });
    expect(await rosterOf(m)).to.deep.equal({ 'leo@localhost': 'none' });
  });

  it('denies a request with "unsubscribed" (§3.1.4, §3.2)', async () => {
    const n = await online('nina', 'n');
    const o = await online('oscar', 'o');
    const asked = upcoming(o)(presence('nina@localhost', 'subscribe'));
    const ask = upcoming(n)(pushAbout('oscar@localhost'));
    await n.send(xml('presence', { to: 'oscar@localhost', type: 'subscribe' }));
    await Promise.all([asked, ask]);
    const denied = upcoming(n)(presence('oscar@localhost', 'unsubscribed'));
    const nNone = upcoming(n)(pushAbout('oscar@localhost'));
    await o.send(xml('presence', { to: 'nina@localhost', type: 'unsubscribed', id: 'no' }));
    expectStanza(
      await denied,
      xml('presence', { from: 'oscar@localhost', to: 'nina@localhost', type: 'unsubscribed', id: 'no' }),
    );
    expectPushedItem(await nNone, xml('item', { jid: 'oscar@localhost', subscription: 'none' }));
    await settle(o);
    expect(o.received.filter(isPush), 'oscar never had an item for nina').to.have.length(0);
    // And nothing is left to deliver at oscar's next login.
    const again = await interested('oscar', 'o2');
    const mark = again.received.length;
    await again.send(xml('presence'));
    await settle(again);
    expect(since(again, mark).filter(presence('nina@localhost', 'subscribe'))).to.have.length(0);
  });

  it('cancels the subscriptions both ways when a contact is removed from the roster (§2.5.2)', async () => {
    const p = await online('pat', 'p');
    const q = await online('quinn', 'q');
    await befriend(p, q);
    const order = upcoming(q);
    const unsubscribe = order(presence('pat@localhost', 'unsubscribe'));
    const gone = order(presence('pat@localhost/p', 'unavailable'));
    const unsubscribed = order(presence('pat@localhost', 'unsubscribed'));
    const qNone = order(pushAbout('pat@localhost', 'none'));
    const removed = upcoming(p)(pushAbout('quinn@localhost', 'remove'));
    const reply = await request(
      p,
      'set',
      query({}, xml('item', { jid: 'quinn@localhost', subscription: 'remove' })),
    );
    expect(reply.attrs.type).to.equal('result');
    await removed;
    const [u1, u2, u3] = await Promise.all([unsubscribe, gone, unsubscribed]);
    expect(u1.attrs.to).to.equal('quinn@localhost');
    expect(q.received.indexOf(u2)).to.be.lessThan(q.received.indexOf(u3));
    await qNone;
    expect(await rosterOf(p)).to.deep.equal({});
    expect(await rosterOf(q)).to.deep.equal({ 'pat@localhost': 'none' });
  });

  it('refuses a subscription to oneself with not-allowed', async () => {
    const t = await online('tina', 't');
    const error = upcoming(t)((el) => el.name === 'presence' && el.attrs.type === 'error');
    await t.send(xml('presence', { to: 'tina@localhost', type: 'subscribe', id: 'me' }));
    const got = await error;
    expect(got.attrs.id).to.equal('me');
    expect(errorOf(got)).to.deep.equal({ type: 'cancel', condition: 'not-allowed' });
  });

  it('refuses a subscribe that needs a roster item beyond roster.max_items with policy-violation', async () => {
    const t = await online('tina', 't');
    for (const n of [1, 2, 3])
      await request(t, 'set', query({}, xml('item', { jid: `friend${n}@localhost` })));
    const error = upcoming(t)((el) => el.name === 'presence' && el.attrs.type === 'error');
    await t.send(xml('presence', { to: 'sam@localhost', type: 'subscribe', id: 'one-too-many' }));
    const got = await error;
    expect(got.attrs.id).to.equal('one-too-many');
    expect(got.attrs.to).to.equal('tina@localhost/t');
    expect(errorOf(got)).to.deep.equal({ type: 'modify', condition: 'policy-violation' });
    // A subscription to a contact already there still goes out.
    const pending = upcoming(t)(pushAbout('friend1@localhost', 'none'));
    await t.send(xml('presence', { to: 'friend1@localhost', type: 'subscribe' }));
    expect((await pending).getChild('query')!.getChild('item')!.attrs.ask).to.equal('subscribe');
  });

  it('keeps at most roster.max_pending_requests requests and refuses more with resource-constraint (§3.1.3)', async () => {
    for (const name of ['vic', 'walt']) {
      const c = await online(name, 'x');
      await c.send(xml('presence', { to: 'ursula@localhost', type: 'subscribe' }));
      await c.waitFor(pushAbout('ursula@localhost'));
    }
    const x = await online('xena', 'x');
    const error = upcoming(x)((el) => el.name === 'presence' && el.attrs.type === 'error');
    await x.send(xml('presence', { to: 'ursula@localhost', type: 'subscribe', id: 'third' }));
    const got = await error;
    expect(got.attrs.from).to.equal('ursula@localhost');
    expect(errorOf(got)).to.deep.equal({ type: 'wait', condition: 'resource-constraint' });
    const u = await interested('ursula', 'u');
    const mark = u.received.length;
    await u.send(xml('presence'));
    await settle(u);
    expect(
      since(u, mark)
        .filter((el) => el.name === 'presence' && el.attrs.type === 'subscribe')
        .map((el) => el.attrs.from)
        .sort(),
    ).to.deep.equal(['vic@localhost', 'walt@localhost']);
  });
});
