// OMEMO readiness (XEP-0384 §5.3, §8.1): what an OMEMO client needs of its server's PEP,
// end to end over real sockets with @xmpp/client: a device list and bundles published with
// access_model=open (and max_items=max for the bundles) through publish-options, read and
// subscribed to by a user who is not a contact; a contact notified of device list changes;
// and the recovery of a client whose node exists with another configuration (Conversations'
// flow with the older 'eu.siacs.conversations.axolotl' nodes: precondition-not-met, configure,
// publish again).

import { type XmlElement, xml } from '@xmpp/client';
import { expect } from 'chai';
import { NS } from '../../src/xml/ns.js';
import type { TestClient } from '../helpers/client.js';
import { befriend, login, request, upcoming } from '../helpers/im.js';
import {
  type CapsClient,
  capsLogin,
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

const OMEMO = 'urn:xmpp:omemo:2';
const DEVICES = 'urn:xmpp:omemo:2:devices';
const BUNDLES = 'urn:xmpp:omemo:2:bundles';
const AXOLOTL = 'eu.siacs.conversations.axolotl';
const AXOLOTL_DEVICES = `${AXOLOTL}.devicelist`;
const ALICE = 'alice@localhost';

const devices = (...ids: string[]) =>
  xml('devices', { xmlns: OMEMO }, ...ids.map((id) => xml('device', { id })));
const devicesXml = (...ids: string[]) =>
  `<devices xmlns="${OMEMO}">${ids.map((id) => `<device id="${id}"/>`).join('')}</devices>`;

function bundle(key: string): XmlElement {
  return xml(
    'bundle',
    { xmlns: OMEMO },
    xml('spk', { id: '1' }, `spk-${key}`),
    xml('spks', {}, `spks-${key}`),
    xml('ik', {}, `ik-${key}`),
    xml('prekeys', {}, xml('pk', { id: '1' }, `pk1-${key}`), xml('pk', { id: '2' }, `pk2-${key}`)),
  );
}
const bundleXml = (key: string) =>
  `<bundle xmlns="${OMEMO}"><spk id="1">spk-${key}</spk><spks>spks-${key}</spks><ik>ik-${key}</ik>` +
  `<prekeys><pk id="1">pk1-${key}</pk><pk id="2">pk2-${key}</pk></prekeys></bundle>`;

describe('XEP-0384 OMEMO readiness', () => {
  let ts: TestServer;
  const clients: TestClient[] = [];
  let alice: CapsClient;
  let bob: CapsClient;
  let carol: TestClient;

  before(async () => {
    ts = await startTestServer();
    for (const user of ['alice', 'bob', 'carol']) await ts.addUser(user, `${user}-secret`);
    alice = await capsLogin(ts, 'alice', 'phone', [DEVICES, AXOLOTL_DEVICES]);
    bob = await capsLogin(ts, 'bob', 'laptop', [DEVICES]);
    carol = await login(ts, 'carol', 'desk');
    clients.push(alice, bob, carol);
    for (const c of [alice, bob]) await request(c, 'get', xml('query', { xmlns: NS.ROSTER }));
    await goOnline(alice);
    await goOnline(bob);
    await befriend(alice, bob);
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.stop().catch(() => {})));
    await ts?.stop();
  });

  it('offers what §8.1 asks of the server', async () => {
    const reply = await request(alice, 'get', xml('query', { xmlns: NS.DISCO_INFO }), ALICE);
    const features = reply
      .getChild('query', NS.DISCO_INFO)!
      .getChildren('feature')
      .map((f) => f.attrs.var);
    expect(features).to.include.members(
      ['persistent-items', 'publish-options', 'access-open', 'config-node-max'].map(
        (f) => `${NS.PUBSUB}#${f}`,
      ),
    );
  });

  it('publishes the device list on an open node and notifies a contact (§5.3.1)', async () => {
    const toBob = upcoming(bob)(eventFrom(ALICE, DEVICES));
    const toSelf = upcoming(alice)(eventFrom(ALICE, DEVICES));
    const reply = await publish(alice, DEVICES, 'current', devices('12345', '4223'), {
      'pubsub#access_model': 'open',
    });
    expect(reply.attrs.type, reply.toString()).to.equal('result');
    const expected =
      `<event xmlns="${NS.PUBSUB_EVENT}"><items node="${DEVICES}"><item id="current">` +
      `${devicesXml('12345', '4223')}</item></items></event>`;
    expect(eventOf(await toBob)).to.equal(expected);
    expect(eventOf(await toSelf)).to.equal(expected);
  });

  it('keeps a bundle per device on a node with max_items=max (§5.3.2)', async () => {
    const options = { 'pubsub#max_items': 'max', 'pubsub#access_model': 'open' };
    for (const [id, key] of [
      ['12345', 'a'],
      ['4223', 'b'],
    ]) {
      const reply = await publish(alice, BUNDLES, id, bundle(key!), options);
      expect(reply.attrs.type, reply.toString()).to.equal('result');
    }
  });

  it('lets a user who is not a contact read the device list and a bundle', async () => {
    expect(itemsOf(await items(carol, ALICE, DEVICES))).to.deep.equal([
      `<item id="current">${devicesXml('12345', '4223')}</item>`,
    ]);
    expect(itemsOf(await items(carol, ALICE, BUNDLES, {}, ['4223']))).to.deep.equal([
      `<item id="4223">${bundleXml('b')}</item>`,
    ]);
    expect(itemsOf(await items(carol, ALICE, BUNDLES))).to.have.length(2);
  });

  it('lets a user who is not a contact subscribe to the device list (§5.2)', async () => {
    const reply = await request(
      carol,
      'set',
      pubsub(xml('subscribe', { node: DEVICES, jid: 'carol@localhost/desk' })),
      ALICE,
    );
    expect(reply.attrs.type, reply.toString()).to.equal('result');
    const update = upcoming(carol)((el) => eventFrom(ALICE, DEVICES)(el) && eventOf(el).includes('31415'));
    await publish(alice, DEVICES, 'current', devices('12345', '4223', '31415'), {
      'pubsub#access_model': 'open',
    });
    expect(eventOf(await update)).to.equal(
      `<event xmlns="${NS.PUBSUB_EVENT}"><items node="${DEVICES}"><item id="current">` +
        `${devicesXml('12345', '4223', '31415')}</item></items></event>`,
    );
  });

  it('recovers a node made with other settings: precondition-not-met, configure, publish again', async () => {
    // An older client made the node with the defaults (presence access).
    await publish(
      alice,
      AXOLOTL_DEVICES,
      'current',
      xml('list', { xmlns: AXOLOTL }, xml('device', { id: '1' })),
    );
    expect(pubsubErrorOf(await items(carol, ALICE, AXOLOTL_DEVICES)).app).to.equal(
      'presence-subscription-required',
    );
    const list = xml('list', { xmlns: AXOLOTL }, xml('device', { id: '1' }), xml('device', { id: '2' }));
    const refused = await publish(alice, AXOLOTL_DEVICES, 'current', list, { 'pubsub#access_model': 'open' });
    expect(pubsubErrorOf(refused)).to.deep.equal({
      type: 'cancel',
      condition: 'conflict',
      app: 'precondition-not-met',
    });
    const configured = await request(
      alice,
      'set',
      owner(
        xml(
          'configure',
          { node: AXOLOTL_DEVICES },
          form(`${NS.PUBSUB}#node_config`, { 'pubsub#access_model': 'open' }),
        ),
      ),
    );
    expect(configured.attrs.type, configured.toString()).to.equal('result');
    const again = await publish(alice, AXOLOTL_DEVICES, 'current', list, { 'pubsub#access_model': 'open' });
    expect(again.attrs.type, again.toString()).to.equal('result');
    expect(itemsOf(await items(carol, ALICE, AXOLOTL_DEVICES))).to.deep.equal([
      `<item id="current"><list xmlns="${AXOLOTL}"><device id="1"/><device id="2"/></list></item>`,
    ]);
  });
});
