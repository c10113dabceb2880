// XEP-0163 Personal Eventing Protocol (with the XEP-0060 subset it uses) end to end: a real
// server on loopback, @xmpp/client over STARTTLS, two resources of one account (alice), two
// contacts (bob, who asks for tune notifications, and dave, who does not), a stranger (carol),
// and a restart on the same directory.
//
// XEP-0163 §4.3 notifications from the bare JID to the resources whose XEP-0115 caps say
// "+notify" (the server asks each client's disco#info and verifies the hash), §4.3.2 the last
// item on initial presence, §6 disco; XEP-0060 §6.1 subscribe, §6.5 items (all, by id,
// max_items, and the access errors of §6.5.9), §7.1 publish (auto-create, §7.1.5
// publish-options with precondition-not-met), §7.2 retract, §8.2 configure, §8.4 delete,
// §8.5 purge, §8.9 affiliations.

import { xml } from '@xmpp/client';
import { expect } from 'chai';
import { NS } from '../../src/xml/ns.js';
import type { TestClient } from '../helpers/client.js';
import { befriend, login, presenceFrom, request, settle, upcoming } from '../helpers/im.js';
import {
  type CapsClient,
  capsElement,
  capsLogin,
  capsVer,
  eventFrom,
  eventOf,
  form,
  goOnline,
  items,
  itemsOf,
  owner,
  publish,
  pubsub,
  pubsubErrorOf,
} from '../helpers/pep.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const TUNE = 'http://jabber.org/protocol/tune';
const GEOLOC = 'http://jabber.org/protocol/geoloc';
const ALICE = 'alice@localhost';
const USERS = ['alice', 'bob', 'carol', 'dave'];
const MAX_ITEM_SIZE = 2048;

const tune = (title: string) => xml('tune', { xmlns: TUNE }, xml('title', {}, title));
const tuneXml = (title: string) => `<tune xmlns="${TUNE}"><title>${title}</title></tune>`;
const itemsEventXml = (node: string, id: string, payload: string) =>
  `<event xmlns="${NS.PUBSUB_EVENT}"><items node="${node}"><item id="${id}">${payload}</item></items></event>`;

async function restart(ts: TestServer): Promise<TestServer> {
  await ts.server.stop();
  return startTestServer({ dir: ts.dir });
}

/** Mutual presence subscriptions, made with throwaway sessions before the test clients log in. */
async function contacts(ts: TestServer, pairs: Array<[string, string]>): Promise<void> {
  for (const [a, b] of pairs) {
    const x = await login(ts, a, 'setup');
    const y = await login(ts, b, 'setup');
    for (const c of [x, y]) {
      await request(c, 'get', xml('query', { xmlns: NS.ROSTER }));
      const echo = upcoming(c)(presenceFrom(c.jid!.toString()));
      await c.send(xml('presence'));
      await echo;
    }
    await befriend(x, y);
    await Promise.all([x.stop(), y.stop()]);
  }
}

describe('XEP-0163 personal eventing', () => {
  let ts: TestServer;
  const clients: TestClient[] = [];
  let laptop: CapsClient;
  let phone: CapsClient;

  async function online(user: string, resource: string, notify: string[]): Promise<CapsClient> {
    const c = await capsLogin(ts, user, resource, notify);
    clients.push(c);
    await goOnline(c);
    return c;
  }

  before(async () => {
    ts = await startTestServer({ extraToml: `[pep]\nmax_item_size = ${MAX_ITEM_SIZE}` });
    for (const user of USERS) await ts.addUser(user, `${user}-secret`);
    await contacts(ts, [
      ['alice', 'bob'],
      ['alice', 'dave'],
    ]);
    laptop = await online('alice', 'laptop', [TUNE, GEOLOC]);
    phone = await online('alice', 'phone', [TUNE]);
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.stop().catch(() => {})));
    await ts?.stop();
  });

  it('identifies the account as a pubsub/pep service with publish-options (§6.1)', async () => {
    const reply = await request(laptop, 'get', xml('query', { xmlns: NS.DISCO_INFO }), ALICE);
    const query = reply.getChild('query', NS.DISCO_INFO)!;
    expect(query.getChildren('identity').map((i) => `${i.attrs.category}/${i.attrs.type}`)).to.deep.equal([
      'account/registered',
      'pubsub/pep',
    ]);
    const features = query.getChildren('feature').map((f) => f.attrs.var);
    expect(features).to.include.members([
      `${NS.PUBSUB}#publish`,
      `${NS.PUBSUB}#publish-options`,
      `${NS.PUBSUB}#auto-create`,
      `${NS.PUBSUB}#access-open`,
      `${NS.PUBSUB}#config-node-max`,
    ]);
  });

  it('asked each resource for its caps, from the bare JID of the account (§4.3.3)', () => {
    expect(laptop.discoQueries.length).to.be.greaterThan(0);
    const query = laptop.discoQueries[0]!;
    expect(query.attrs.from).to.equal(ALICE);
    expect(query.getChild('query', NS.DISCO_INFO)!.attrs.node).to.equal(
      `https://warbler.example/test-client#${laptop.ver}`,
    );
  });

  it('creates the node on first publish and notifies the owner’s interested resources (§4.3, §7.1)', async () => {
    const onLaptop = upcoming(laptop)(eventFrom(ALICE, TUNE));
    const onPhone = upcoming(phone)(eventFrom(ALICE, TUNE));
    const reply = await publish(laptop, TUNE, 't1', tune('Finzi'));
    expect(reply.attrs.type, reply.toString()).to.equal('result');
    expect(reply.getChild('pubsub', NS.PUBSUB)!.toString()).to.equal(
      `<pubsub xmlns="${NS.PUBSUB}"><publish node="${TUNE}"><item id="t1"/></publish></pubsub>`,
    );
    for (const [c, message] of [
      [laptop, await onLaptop],
      [phone, await onPhone],
    ] as const) {
      expect(message.attrs.type).to.equal('headline');
      expect(message.attrs.to).to.equal(c.jid!.toString());
      expect(eventOf(message)).to.equal(itemsEventXml(TUNE, 't1', tuneXml('Finzi')));
    }
  });

  it('names the item it made up when the publisher gave no ItemID (§7.1.2)', async () => {
    const reply = await publish(laptop, GEOLOC, undefined, xml('geoloc', { xmlns: GEOLOC }));
    const id = reply.getChild('pubsub', NS.PUBSUB)!.getChild('publish')!.getChild('item')!.attrs.id!;
    expect(id).to.match(/^[0-9a-f-]{36}$/);
    expect(itemsOf(await items(laptop, undefined, GEOLOC))).to.deep.equal([
      `<item id="${id}"><geoloc xmlns="${GEOLOC}"/></item>`,
    ]);
  });

  it('refuses an item larger than the service keeps, without echoing it (§7.1.3.5)', async () => {
    const big = xml('note', { xmlns: 'urn:example:notes' }, 'x'.repeat(MAX_ITEM_SIZE));
    const reply = await publish(laptop, 'urn:example:notes', 'big', big);
    expect(pubsubErrorOf(reply)).to.deep.equal({
      type: 'modify',
      condition: 'not-acceptable',
      app: 'payload-too-big',
    });
    expect(reply.getChild('pubsub', NS.PUBSUB)).to.equal(undefined);
    expect(pubsubErrorOf(await items(laptop, undefined, 'urn:example:notes')).condition).to.equal(
      'item-not-found',
    );
  });

  describe('contacts', () => {
    let bob: CapsClient;
    let dave: CapsClient;
    let carol: CapsClient;

    before(async () => {
      // §4.3.2: bob's initial presence with tune+notify brings him alice's last tune.
      const b = await capsLogin(ts, 'bob', 'desk', [TUNE]);
      clients.push(b);
      const last = upcoming(b)(eventFrom(ALICE, TUNE));
      await goOnline(b);
      bob = b;
      const message = await last;
      expect(message.attrs.to).to.equal('bob@localhost/desk');
      expect(eventOf(message)).to.equal(itemsEventXml(TUNE, 't1', tuneXml('Finzi')));
      dave = await online('dave', 'pc', [GEOLOC]);
      carol = await online('carol', 'pda', [TUNE]);
    });

    it('notifies the contacts whose caps ask for the node, and no one else (§4.3, XEP-0060 §9.2)', async () => {
      const marks = [dave, carol].map((c) => c.received.length);
      const onBob = upcoming(bob)(eventFrom(ALICE, TUNE));
      const onPhone = upcoming(phone)(eventFrom(ALICE, TUNE));
      expect((await publish(phone, TUNE, 't2', tune('Holst'))).attrs.type).to.equal('result');
      expect(eventOf(await onBob)).to.equal(itemsEventXml(TUNE, 't2', tuneXml('Holst')));
      expect((await onBob).attrs.from).to.equal(ALICE);
      await onPhone;
      // dave is a contact that did not ask for tunes; carol asked, but is no contact.
      await Promise.all([settle(dave), settle(carol)]);
      for (const [i, c] of [dave, carol].entries()) {
        expect(c.received.slice(marks[i]).filter(eventFrom(ALICE, TUNE))).to.deep.equal([]);
      }
    });

    it('sends a resource that starts asking for a node the node’s last item (§4.3.2)', async () => {
      const again = await capsLogin(ts, 'dave', 'tablet', [GEOLOC, TUNE]);
      clients.push(again);
      const last = upcoming(again)(eventFrom(ALICE, TUNE));
      await goOnline(again);
      expect(eventOf(await last)).to.equal(itemsEventXml(TUNE, 't2', tuneXml('Holst')));
    });

    it('sends a resource whose new caps add a node that node’s last item, and only that (§4.3.2)', async () => {
      const mark = dave.received.length;
      dave.features = [...dave.features, `${TUNE}+notify`];
      dave.ver = capsVer(dave.features);
      const last = upcoming(dave)(eventFrom(ALICE, TUNE));
      await dave.send(xml('presence', {}, capsElement(dave)));
      expect(eventOf(await last)).to.equal(itemsEventXml(TUNE, 't2', tuneXml('Holst')));
      await settle(dave);
      // Not the geolocation again: dave asked for it already.
      expect(dave.received.slice(mark).filter(eventFrom(ALICE, GEOLOC))).to.deep.equal([]);
    });

    it('lets a contact read a presence node, and refuses a stranger (§6.5.9.6)', async () => {
      expect(itemsOf(await items(bob, ALICE, TUNE))).to.deep.equal([
        `<item id="t2">${tuneXml('Holst')}</item>`,
      ]);
      expect(pubsubErrorOf(await items(carol, ALICE, TUNE))).to.deep.equal({
        type: 'auth',
        condition: 'not-authorized',
        app: 'presence-subscription-required',
      });
    });

    it('refuses publishing to another account’s node (§7.1.3.1)', async () => {
      expect(pubsubErrorOf(await publish(bob, TUNE, 'x', tune('Mine'), undefined, ALICE))).to.deep.equal({
        type: 'auth',
        condition: 'forbidden',
      });
    });

    it('answers for an account that does not exist as for any unknown entity', async () => {
      expect(pubsubErrorOf(await items(carol, 'nobody@localhost', TUNE))).to.deep.equal({
        type: 'cancel',
        condition: 'service-unavailable',
      });
    });

    it('answers item-not-found for a node that does not exist (§6.5.9.11)', async () => {
      expect(pubsubErrorOf(await items(bob, ALICE, 'urn:example:none'))).to.deep.equal({
        type: 'cancel',
        condition: 'item-not-found',
      });
    });

    it('lists in disco#items only the nodes the requester may see (§6.2)', async () => {
      const nodesFor = async (c: TestClient) => {
        const reply = await request(c, 'get', xml('query', { xmlns: NS.DISCO_ITEMS }), ALICE);
        return reply
          .getChild('query', NS.DISCO_ITEMS)!
          .getChildren('item')
          .map((i) => `${i.attrs.jid} ${i.attrs.node}`);
      };
      expect(await nodesFor(bob)).to.deep.equal([`${ALICE} ${GEOLOC}`, `${ALICE} ${TUNE}`]);
      expect(await nodesFor(carol)).to.deep.equal([]);
      const info = await request(bob, 'get', xml('query', { xmlns: NS.DISCO_INFO, node: TUNE }), ALICE);
      expect(info.getChild('query', NS.DISCO_INFO)!.toString()).to.equal(
        `<query xmlns="${NS.DISCO_INFO}" node="${TUNE}"><identity category="pubsub" type="leaf"/>` +
          `<feature var="${NS.PUBSUB}"/></query>`,
      );
      const hidden = await request(carol, 'get', xml('query', { xmlns: NS.DISCO_INFO, node: TUNE }), ALICE);
      expect(pubsubErrorOf(hidden).condition).to.equal('item-not-found');
    });

    describe('an open node', () => {
      const NODE = 'urn:example:status';

      it('is created with the publish-options as its configuration (§7.1.5)', async () => {
        const reply = await publish(laptop, NODE, 's1', xml('status', { xmlns: NODE }, 'here'), {
          'pubsub#access_model': 'open',
        });
        expect(reply.attrs.type, reply.toString()).to.equal('result');
        expect(itemsOf(await items(carol, ALICE, NODE))).to.deep.equal([
          `<item id="s1"><status xmlns="${NODE}">here</status></item>`,
        ]);
      });

      it('refuses a publication whose preconditions the node does not meet (§7.1.5)', async () => {
        const reply = await publish(laptop, NODE, 's2', xml('status', { xmlns: NODE }), {
          'pubsub#access_model': 'presence',
        });
        expect(pubsubErrorOf(reply)).to.deep.equal({
          type: 'cancel',
          condition: 'conflict',
          app: 'precondition-not-met',
        });
        // Nothing was published.
        expect(itemsOf(await items(laptop, undefined, NODE))).to.have.length(1);
        // Met preconditions publish, whatever the spelling of a boolean.
        const met = await publish(laptop, NODE, 's2', xml('status', { xmlns: NODE }, 'away'), {
          'pubsub#access_model': 'open',
          'pubsub#persist_items': 'true',
        });
        expect(met.attrs.type, met.toString()).to.equal('result');
      });

      it('refuses an unknown publish-option (§7.1.5)', async () => {
        const reply = await publish(laptop, NODE, 's3', xml('status', { xmlns: NODE }), {
          'pubsub#no_such_option': '1',
        });
        expect(pubsubErrorOf(reply)).to.deep.equal({ type: 'modify', condition: 'not-acceptable' });
      });

      it('takes a stranger’s subscription and notifies the subscriber (§6.1)', async () => {
        const reply = await request(
          carol,
          'set',
          pubsub(xml('subscribe', { node: NODE, jid: carol.jid!.toString() })),
          ALICE,
        );
        expect(reply.getChild('pubsub', NS.PUBSUB)!.toString()).to.equal(
          `<pubsub xmlns="${NS.PUBSUB}"><subscription node="${NODE}" jid="carol@localhost/pda" subscription="subscribed"/></pubsub>`,
        );
        // §6.1.7: the last item, on subscription.
        const last = await carol.waitFor(eventFrom(ALICE, NODE));
        expect(eventOf(last)).to.equal(itemsEventXml(NODE, 's2', `<status xmlns="${NODE}">away</status>`));
        const next = upcoming(carol)(eventFrom(ALICE, NODE));
        await publish(laptop, NODE, 's3', xml('status', { xmlns: NODE }, 'gone'));
        expect((await next).attrs.to).to.equal('carol@localhost/pda');
        // Someone else's subscription is not carol's to make (§6.1.3.1).
        const other = await request(
          carol,
          'set',
          pubsub(xml('subscribe', { node: NODE, jid: 'bob@localhost' })),
          ALICE,
        );
        expect(pubsubErrorOf(other)).to.deep.equal({
          type: 'modify',
          condition: 'bad-request',
          app: 'invalid-jid',
        });
        const gone = await request(
          carol,
          'set',
          pubsub(xml('unsubscribe', { node: NODE, jid: carol.jid!.toString() })),
          ALICE,
        );
        expect(gone.attrs.type).to.equal('result');
        const twice = await request(
          carol,
          'set',
          pubsub(xml('unsubscribe', { node: NODE, jid: carol.jid!.toString() })),
          ALICE,
        );
        expect(pubsubErrorOf(twice)).to.deep.equal({
          type: 'wait',
          condition: 'unexpected-request',
          app: 'not-subscribed',
        });
      });

      it('refuses a presence-model subscription from a stranger (§6.1.3.2)', async () => {
        const reply = await request(
          carol,
          'set',
          pubsub(xml('subscribe', { node: TUNE, jid: carol.jid!.toString() })),
          ALICE,
        );
        expect(pubsubErrorOf(reply)).to.deep.equal({
          type: 'auth',
          condition: 'not-authorized',
          app: 'presence-subscription-required',
        });
      });
    });

    describe('node configuration (§8.2)', () => {
      const NODE = 'urn:example:log';
      const entry = (n: number) => xml('entry', { xmlns: NODE }, `line ${n}`);

      it('answers the configuration form with the node’s values', async () => {
        await publish(laptop, NODE, 'e1', entry(1));
        const reply = await request(laptop, 'get', owner(xml('configure', { node: NODE })));
        const x = reply
          .getChild('pubsub', NS.PUBSUB_OWNER)!
          .getChild('configure')!
          .getChild('x', NS.DATA_FORMS)!;
        expect(x.attrs.type).to.equal('form');
        const values: Record<string, string[]> = {};
        for (const field of x.getChildren('field')) {
          values[field.attrs.var!] = field.getChildren('value').map((v) => v.getText());
        }
        expect(values).to.deep.include({
          FORM_TYPE: [`${NS.PUBSUB}#node_config`],
          'pubsub#access_model': ['presence'],
          'pubsub#max_items': ['1'],
          'pubsub#persist_items': ['1'],
          'pubsub#send_last_published_item': ['on_sub_and_presence'],
          'pubsub#notify_retract': ['1'],
          'pubsub#deliver_payloads': ['1'],
        });
        const access = x.getChildren('field').find((f) => f.attrs.var === 'pubsub#access_model')!;
        expect(access.getChildren('option').map((o) => o.getChildText('value'))).to.deep.equal([
          'open',
          'presence',
          'roster',
          'whitelist',
        ]);
      });

      it('keeps the max_items most recent items, oldest first', async () => {
        const set = await request(
          laptop,
          'set',
          owner(
            xml('configure', { node: NODE }, form(`${NS.PUBSUB}#node_config`, { 'pubsub#max_items': '2' })),
          ),
        );
        expect(set.attrs.type, set.toString()).to.equal('result');
        for (const n of [2, 3, 4]) await publish(laptop, NODE, `e${n}`, entry(n));
        expect(itemsOf(await items(laptop, undefined, NODE))).to.deep.equal([
          `<item id="e3"><entry xmlns="${NODE}">line 3</entry></item>`,
          `<item id="e4"><entry xmlns="${NODE}">line 4</entry></item>`,
        ]);
        // Republishing an id makes it the newest.
        await publish(laptop, NODE, 'e3', entry(5));
        expect(itemsOf(await items(laptop, undefined, NODE))).to.deep.equal([
          `<item id="e4"><entry xmlns="${NODE}">line 4</entry></item>`,
          `<item id="e3"><entry xmlns="${NODE}">line 5</entry></item>`,
        ]);
        // 'max' is the server's limit (§16.4.4).
        await request(
          laptop,
          'set',
          owner(
            xml('configure', { node: NODE }, form(`${NS.PUBSUB}#node_config`, { 'pubsub#max_items': 'max' })),
          ),
        );
        await publish(laptop, NODE, 'e6', entry(6));
        expect(itemsOf(await items(laptop, undefined, NODE))).to.have.length(3);
      });

      it('answers items by id and the most recent with max_items (§6.5.7, §6.5.8)', async () => {
        expect(itemsOf(await items(laptop, undefined, NODE, { max_items: '1' }))).to.deep.equal([
          `<item id="e6"><entry xmlns="${NODE}">line 6</entry></item>`,
        ]);
        expect(itemsOf(await items(laptop, undefined, NODE, {}, ['e4', 'nope']))).to.deep.equal([
          `<item id="e4"><entry xmlns="${NODE}">line 4</entry></item>`,
        ]);
      });

      it('refuses a bad value and an unknown field, changing nothing (§8.2.5)', async () => {
        const bad: Array<Record<string, string>> = [
          { 'pubsub#max_items': 'lots' },
          { 'pubsub#colour': 'blue' },
        ];
        for (const fields of bad) {
          const reply = await request(
            laptop,
            'set',
            owner(xml('configure', { node: NODE }, form(`${NS.PUBSUB}#node_config`, fields))),
          );
          expect(pubsubErrorOf(reply)).to.deep.equal({ type: 'modify', condition: 'not-acceptable' });
        }
        const model = await request(
          laptop,
          'set',
          owner(
            xml(
              'configure',
              { node: NODE },
              form(`${NS.PUBSUB}#node_config`, { 'pubsub#access_model': 'authorize' }),
            ),
          ),
        );
        expect(pubsubErrorOf(model)).to.deep.equal({
          type: 'modify',
          condition: 'not-acceptable',
          app: 'unsupported-access-model',
        });
      });

      it('lets only the owner configure (§8.2.3.2)', async () => {
        const reply = await request(bob, 'get', owner(xml('configure', { node: NODE })), ALICE);
        expect(pubsubErrorOf(reply)).to.deep.equal({ type: 'auth', condition: 'forbidden' });
      });

      it('closes a whitelist node to contacts but members (§4.5, §8.9)', async () => {
        await request(
          laptop,
          'set',
          owner(
            xml(
              'configure',
              { node: NODE },
              form(`${NS.PUBSUB}#node_config`, { 'pubsub#access_model': 'whitelist' }),
            ),
          ),
        );
        expect(pubsubErrorOf(await items(bob, ALICE, NODE))).to.deep.equal({
          type: 'cancel',
          condition: 'not-allowed',
          app: 'closed-node',
        });
        const grant = await request(
          laptop,
          'set',
          owner(
            xml(
              'affiliations',
              { node: NODE },
              xml('affiliation', { jid: 'bob@localhost', affiliation: 'member' }),
            ),
          ),
        );
        expect(grant.attrs.type, grant.toString()).to.equal('result');
        expect(itemsOf(await items(bob, ALICE, NODE))).to.have.length(3);
        const list = await request(laptop, 'get', owner(xml('affiliations', { node: NODE })));
        expect(list.getChild('pubsub', NS.PUBSUB_OWNER)!.toString()).to.equal(
          `<pubsub xmlns="${NS.PUBSUB_OWNER}"><affiliations node="${NODE}">` +
            `<affiliation jid="${ALICE}" affiliation="owner"/>` +
            '<affiliation jid="bob@localhost" affiliation="member"/></affiliations></pubsub>',
        );
      });

      it('gives the roster model to the allowed groups only (§4.5)', async () => {
        await request(
          laptop,
          'set',
          owner(
            xml(
              'configure',
              { node: NODE },
              form(`${NS.PUBSUB}#node_config`, {
                'pubsub#access_model': 'roster',
                'pubsub#roster_groups_allowed': ['Friends'],
              }),
            ),
          ),
        );
        await request(
          laptop,
          'set',
          owner(
            xml(
              'affiliations',
              { node: NODE },
              xml('affiliation', { jid: 'bob@localhost', affiliation: 'none' }),
            ),
          ),
        );
        expect(pubsubErrorOf(await items(dave, ALICE, NODE))).to.deep.equal({
          type: 'auth',
          condition: 'not-authorized',
          app: 'not-in-roster-group',
        });
        await request(
          laptop,
          'set',
          xml(
            'query',
            { xmlns: NS.ROSTER },
            xml('item', { jid: 'dave@localhost' }, xml('group', {}, 'Friends')),
          ),
        );
        expect(itemsOf(await items(dave, ALICE, NODE))).to.have.length(3);
      });
    });

    describe('removing items and nodes', () => {
      const NODE = 'urn:example:notes';
      const note = (n: number) => xml('note', { xmlns: NODE }, `note ${n}`);

      before(async () => {
        // bob hears of this node through an explicit subscription.
        await publish(laptop, NODE, 'n1', note(1), { 'pubsub#max_items': '10' });
        await publish(laptop, NODE, 'n2', note(2));
        const sub = await request(
          bob,
          'set',
          pubsub(xml('subscribe', { node: NODE, jid: 'bob@localhost' })),
          ALICE,
        );
        expect(sub.attrs.type, sub.toString()).to.equal('result');
      });

      it('retracts an item and notifies (§7.2.2.1)', async () => {
        const onBob = upcoming(bob)(eventFrom(ALICE, NODE));
        const reply = await request(
          laptop,
          'set',
          pubsub(xml('retract', { node: NODE, notify: 'true' }, xml('item', { id: 'n1' }))),
        );
        expect(reply.attrs.type, reply.toString()).to.equal('result');
        const message = await onBob;
        expect(message.attrs.to).to.equal('bob@localhost');
        expect(eventOf(message)).to.equal(
          `<event xmlns="${NS.PUBSUB_EVENT}"><items node="${NODE}"><retract id="n1"/></items></event>`,
        );
        expect(itemsOf(await items(laptop, undefined, NODE))).to.deep.equal([
          `<item id="n2"><note xmlns="${NODE}">note 2</note></item>`,
        ]);
        const again = await request(
          laptop,
          'set',
          pubsub(xml('retract', { node: NODE }, xml('item', { id: 'n1' }))),
        );
        expect(pubsubErrorOf(again)).to.deep.equal({ type: 'cancel', condition: 'item-not-found' });
      });

      it('purges the node and notifies once (§8.5)', async () => {
        const onBob = upcoming(bob)(eventFrom(ALICE, NODE));
        const reply = await request(laptop, 'set', owner(xml('purge', { node: NODE })));
        expect(reply.attrs.type, reply.toString()).to.equal('result');
        expect(eventOf(await onBob)).to.equal(
          `<event xmlns="${NS.PUBSUB_EVENT}"><purge node="${NODE}"/></event>`,
        );
        expect(itemsOf(await items(laptop, undefined, NODE))).to.deep.equal([]);
      });

      it('deletes the node and notifies (§8.4)', async () => {
        const onBob = upcoming(bob)(eventFrom(ALICE, NODE));
        const reply = await request(laptop, 'set', owner(xml('delete', { node: NODE })));
        expect(reply.attrs.type, reply.toString()).to.equal('result');
        expect(eventOf(await onBob)).to.equal(
          `<event xmlns="${NS.PUBSUB_EVENT}"><delete node="${NODE}"/></event>`,
        );
        expect(pubsubErrorOf(await items(laptop, undefined, NODE)).condition).to.equal('item-not-found');
        const again = await request(laptop, 'set', owner(xml('delete', { node: NODE })));
        expect(pubsubErrorOf(again).condition).to.equal('item-not-found');
      });
    });
  });

  describe('after a restart', () => {
    it('keeps nodes, their configuration and items across a restart', async () => {
      await Promise.all(clients.splice(0).map((c) => c.stop().catch(() => {})));
      ts = await restart(ts);
      const reader = await login(ts, 'carol', 'again');
      clients.push(reader);
      expect(itemsOf(await items(reader, ALICE, 'urn:example:status'))).to.deep.equal([
        '<item id="s3"><status xmlns="urn:example:status">gone</status></item>',
      ]);
      expect(pubsubErrorOf(await items(reader, ALICE, TUNE)).app).to.equal('presence-subscription-required');
      const self = await login(ts, 'alice', 'again');
      clients.push(self);
      expect(itemsOf(await items(self, undefined, TUNE))).to.deep.equal([
        `<item id="t2">${tuneXml('Holst')}</item>`,
      ]);
    });

    it('knows the caps it verified before, without asking again (XEP-0115 §5.4)', async () => {
      // The same features as before the restart: the same 'ver'.
      const again = await capsLogin(ts, 'alice', 'laptop', [TUNE, GEOLOC]);
      clients.push(again);
      const echo = upcoming(again)(presenceFrom(again.jid!.toString()));
      await again.send(xml('presence', {}, capsElement(again)));
      await echo;
      const note = upcoming(again)(eventFrom(ALICE, TUNE));
      await publish(again, TUNE, 't3', tune('Elgar'));
      expect(eventOf(await note)).to.equal(itemsEventXml(TUNE, 't3', tuneXml('Elgar')));
      expect(again.discoQueries).to.deep.equal([]);
    });
  });
});
