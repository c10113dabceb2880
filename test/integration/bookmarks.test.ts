// XEP-0402 PEP Native Bookmarks and XEP-0048 Bookmarks kept in step (XEP-0402 §5.3) end to end:
// a real server on loopback, @xmpp/client over STARTTLS, one account with a XEP-0402 client
// (asking for bookmark notifications) and a XEP-0048 client (private storage, XEP-0049), a
// restart, and a migration of bookmarks stored before the bookmarks module was loaded.
//
// XEP-0402 §4 (publish with publish-options, retract with notify), §5.3.1 (native → legacy),
// §5.3.2 (legacy → native, unchanged bookmarks not republished), §6 (#compat, #compat-pep on
// the account); XEP-0048 §3 (the storage:bookmarks PEP node).

import { type XmlElement, xml } from '@xmpp/client';
import { expect } from 'chai';
import { NS } from '../../src/xml/ns.js';
import type { TestClient } from '../helpers/client.js';
import { login, request, settle, upcoming } from '../helpers/im.js';
import {
  type CapsClient,
  capsLogin,
  eventFrom,
  eventOf,
  goOnline,
  items,
  itemsOf,
  publish,
  pubsub,
} from '../helpers/pep.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const ALICE = 'alice@localhost';
const ROOM = 'council@conference.localhost';
const PLAY = 'theplay@conference.localhost';
const NATIVE_OPTIONS = {
  'pubsub#persist_items': 'true',
  'pubsub#max_items': 'max',
  'pubsub#send_last_published_item': 'never',
  'pubsub#access_model': 'whitelist',
};

const conference = (name: string, nick: string, ...extra: XmlElement[]) =>
  xml('conference', { xmlns: NS.BOOKMARKS, name, autojoin: 'true' }, xml('nick', {}, nick), ...extra);

async function getPrivate(c: TestClient): Promise<string> {
  const reply = await request(
    c,
    'get',
    xml('query', { xmlns: NS.PRIVATE }, xml('storage', { xmlns: NS.STORAGE_BOOKMARKS })),
  );
  expect(reply.attrs.type, reply.toString()).to.equal('result');
  return reply.getChild('query', NS.PRIVATE)!.getChild('storage')!.toString();
}

async function setPrivate(c: TestClient, ...children: XmlElement[]): Promise<void> {
  const reply = await request(
    c,
    'set',
    xml('query', { xmlns: NS.PRIVATE }, xml('storage', { xmlns: NS.STORAGE_BOOKMARKS }, ...children)),
  );
  expect(reply.attrs.type, reply.toString()).to.equal('result');
}

/** The legacy PEP node's one item, as a string. */
async function legacyNode(c: TestClient): Promise<string[]> {
  return itemsOf(await items(c, undefined, NS.STORAGE_BOOKMARKS));
}

async function restart(ts: TestServer, extraToml?: string): Promise<TestServer> {
  await ts.server.stop();
  return startTestServer({ dir: ts.dir, extraToml });
}

describe('XEP-0402 bookmarks, in step with XEP-0048', () => {
  let ts: TestServer;
  const clients: TestClient[] = [];
  /** A XEP-0402 client: asks for bookmark notifications. */
  let modern: CapsClient;
  /** A XEP-0048 client, through private storage. */
  let legacy: TestClient;

  before(async () => {
    ts = await startTestServer();
    await ts.addUser('alice', 'alice-secret');
    await ts.addUser('bob', 'bob-secret');
    modern = await capsLogin(ts, 'alice', 'modern', [NS.BOOKMARKS]);
    clients.push(modern);
    await goOnline(modern);
    legacy = await login(ts, 'alice', 'legacy');
    clients.push(legacy);
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.stop().catch(() => {})));
    await ts?.stop();
  });

  it('announces #compat and #compat-pep on the account (§6)', async () => {
    const reply = await request(modern, 'get', xml('query', { xmlns: NS.DISCO_INFO }), ALICE);
    const features = reply
      .getChild('query', NS.DISCO_INFO)!
      .getChildren('feature')
      .map((f) => f.attrs.var);
    expect(features).to.include.members([NS.BOOKMARKS_COMPAT, NS.BOOKMARKS_COMPAT_PEP]);
  });

  it('shows a XEP-0402 bookmark to XEP-0048 clients, in private storage and in PEP (§5.3.1)', async () => {
    const note = upcoming(modern)(eventFrom(ALICE, NS.BOOKMARKS));
    const reply = await publish(modern, NS.BOOKMARKS, ROOM, conference('Council', 'Puck'), NATIVE_OPTIONS);
    expect(reply.attrs.type, reply.toString()).to.equal('result');
    expect(eventOf(await note)).to.equal(
      `<event xmlns="${NS.PUBSUB_EVENT}"><items node="${NS.BOOKMARKS}"><item id="${ROOM}">` +
        `<conference xmlns="${NS.BOOKMARKS}" name="Council" autojoin="true"><nick>Puck</nick></conference>` +
        '</item></items></event>',
    );
    const legacyXml =
      `<storage xmlns="${NS.STORAGE_BOOKMARKS}"><conference jid="${ROOM}" name="Council" autojoin="true">` +
      '<nick>Puck</nick></conference></storage>';
    expect(await getPrivate(legacy)).to.equal(legacyXml);
    expect(await legacyNode(legacy)).to.deep.equal([`<item id="current">${legacyXml}</item>`]);
  });

  it('publishes what a XEP-0048 client adds, and only that (§5.3.2)', async () => {
    const mark = modern.received.length;
    const note = upcoming(modern)(eventFrom(ALICE, NS.BOOKMARKS));
    await setPrivate(
      legacy,
      xml('conference', { jid: ROOM, name: 'Council', autojoin: '1' }, xml('nick', {}, 'Puck')),
      xml('conference', { jid: PLAY, name: 'The Play' }, xml('nick', {}, 'JC')),
    );
    expect(eventOf(await note)).to.equal(
      `<event xmlns="${NS.PUBSUB_EVENT}"><items node="${NS.BOOKMARKS}"><item id="${PLAY}">` +
        `<conference xmlns="${NS.BOOKMARKS}" name="The Play"><nick>JC</nick></conference></item></items></event>`,
    );
    await settle(modern);
    // The council room did not change ('1' and 'true' are the same): no notification for it.
    expect(modern.received.slice(mark).filter(eventFrom(ALICE, NS.BOOKMARKS))).to.have.length(1);
    expect(itemsOf(await items(modern, undefined, NS.BOOKMARKS))).to.deep.equal([
      `<item id="${ROOM}"><conference xmlns="${NS.BOOKMARKS}" name="Council" autojoin="true"><nick>Puck</nick></conference></item>`,
      `<item id="${PLAY}"><conference xmlns="${NS.BOOKMARKS}" name="The Play"><nick>JC</nick></conference></item>`,
    ]);
  });

  it('retracts what a XEP-0048 client removes, with a notification (§5.3.2)', async () => {
    const note = upcoming(modern)(eventFrom(ALICE, NS.BOOKMARKS));
    await setPrivate(legacy, xml('conference', { jid: PLAY, name: 'The Play' }, xml('nick', {}, 'JC')));
    expect(eventOf(await note)).to.equal(
      `<event xmlns="${NS.PUBSUB_EVENT}"><items node="${NS.BOOKMARKS}"><retract id="${ROOM}"/></items></event>`,
    );
    expect(itemsOf(await items(modern, undefined, NS.BOOKMARKS))).to.have.length(1);
    expect(await legacyNode(modern)).to.deep.equal([
      `<item id="current"><storage xmlns="${NS.STORAGE_BOOKMARKS}"><conference jid="${PLAY}" name="The Play">` +
        '<nick>JC</nick></conference></storage></item>',
    ]);
  });

  it('keeps the <extensions/> of a bookmark a XEP-0048 client edits (§3)', async () => {
    const state = xml('state', { xmlns: 'http://myclient.example/bookmark/state', minimized: 'true' });
    await publish(
      modern,
      NS.BOOKMARKS,
      PLAY,
      conference('The Play', 'JC', xml('extensions', {}, state)),
      NATIVE_OPTIONS,
    );
    await setPrivate(
      legacy,
      xml('conference', { jid: PLAY, name: "The Play's the Thing" }, xml('nick', {}, 'JC')),
    );
    expect(itemsOf(await items(modern, undefined, NS.BOOKMARKS))).to.deep.equal([
      `<item id="${PLAY}"><conference xmlns="${NS.BOOKMARKS}" name="The Play&apos;s the Thing"><nick>JC</nick>` +
        '<extensions><state xmlns="http://myclient.example/bookmark/state" minimized="true"/></extensions>' +
        '</conference></item>',
    ]);
  });

  it('takes bookmarks published to the legacy PEP node, keeping URL bookmarks in private storage', async () => {
    await setPrivate(
      legacy,
      xml('conference', { jid: PLAY, name: 'The Play' }),
      xml('url', { name: 'Works', url: 'http://example.org/works' }),
    );
    const note = upcoming(modern)(eventFrom(ALICE, NS.BOOKMARKS));
    const storage = xml(
      'storage',
      { xmlns: NS.STORAGE_BOOKMARKS },
      xml('conference', { jid: PLAY, name: 'The Play' }),
      xml('conference', { jid: ROOM, name: 'Council', autojoin: 'true' }),
    );
    const reply = await publish(legacy, NS.STORAGE_BOOKMARKS, 'current', storage, {
      'pubsub#access_model': 'whitelist',
    });
    expect(reply.attrs.type, reply.toString()).to.equal('result');
    expect(eventOf(await note)).to.contain(`<item id="${ROOM}">`);
    expect(
      itemsOf(await items(modern, undefined, NS.BOOKMARKS)).map((i) => i.slice(0, i.indexOf('>') + 1)),
    ).to.deep.equal([`<item id="${PLAY}">`, `<item id="${ROOM}">`]);
    expect(await getPrivate(legacy)).to.equal(
      `<storage xmlns="${NS.STORAGE_BOOKMARKS}"><conference jid="${PLAY}" name="The Play"/>` +
        `<conference jid="${ROOM}" name="Council" autojoin="true"/>` +
        '<url name="Works" url="http://example.org/works"/></storage>',
    );
  });

  it('shows a XEP-0402 retraction in private storage', async () => {
    const reply = await request(
      modern,
      'set',
      pubsub(xml('retract', { node: NS.BOOKMARKS, notify: 'true' }, xml('item', { id: PLAY }))),
    );
    expect(reply.attrs.type, reply.toString()).to.equal('result');
    expect(await getPrivate(legacy)).to.equal(
      `<storage xmlns="${NS.STORAGE_BOOKMARKS}"><conference jid="${ROOM}" name="Council" autojoin="true"/>` +
        '<url name="Works" url="http://example.org/works"/></storage>',
    );
  });

  it('keeps the bookmarks in step across a restart', async () => {
    await Promise.all(clients.splice(0).map((c) => c.stop().catch(() => {})));
    ts = await restart(ts);
    const again = await login(ts, 'alice', 'again');
    clients.push(again);
    expect(itemsOf(await items(again, undefined, NS.BOOKMARKS))).to.deep.equal([
      `<item id="${ROOM}"><conference xmlns="${NS.BOOKMARKS}" name="Council" autojoin="true"/></item>`,
    ]);
    expect(await getPrivate(again)).to.contain(`jid="${ROOM}"`);
  });

  it('moves bookmarks stored while it was not loaded into XEP-0402 at the next login', async () => {
    await Promise.all(clients.splice(0).map((c) => c.stop().catch(() => {})));
    ts = await restart(ts, '[modules]\ndisabled = ["bookmarks"]');
    const before = await login(ts, 'bob', 'old');
    await setPrivate(before, xml('conference', { jid: ROOM, name: 'Council' }, xml('nick', {}, 'Bob')));
    await before.stop();
    ts = await restart(ts);
    const after = await capsLogin(ts, 'bob', 'new', [NS.BOOKMARKS]);
    clients.push(after);
    // Moved when the session was bound; the first request after that sees it.
    await settle(after);
    expect(itemsOf(await items(after, undefined, NS.BOOKMARKS))).to.deep.equal([
      `<item id="${ROOM}"><conference xmlns="${NS.BOOKMARKS}" name="Council"><nick>Bob</nick></conference></item>`,
    ]);
  });
});
