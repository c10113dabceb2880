// XEP-0084 User Avatar over PEP, and XEP-0398 conversion between it and the vCard photo of
// XEP-0054/XEP-0153, end to end: a real server on loopback, @xmpp/client over STARTTLS, an
// account (alice) whose client asks for avatar metadata notifications, a contact (bob) who
// does too, and a stranger (carol) reading the open avatar nodes.
//
// XEP-0398 §2 (the feature), §3.1 (PEP → vCard, from an open data node only; an empty
// <metadata/> removes the photo), §3.2 (vCard → PEP, notifications included), §4 (the hash in
// presence follows); XEP-0084 §4 (data and metadata items, the image's size in pixels).

import { type XmlElement, xml } from '@xmpp/client';
import { expect } from 'chai';
import { NS } from '../../src/xml/ns.js';
import type { TestClient } from '../helpers/client.js';
import { befriend, login, presenceFrom, request, upcoming } from '../helpers/im.js';
import {
  type CapsClient,
  capsLogin,
  eventFrom,
  eventOf,
  goOnline,
  items,
  itemsOf,
  publish,
} from '../helpers/pep.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const ALICE = 'alice@localhost';
// PNG images made apart (Python's zlib and struct), with their SHA-1 from hashlib.
const ONE_BY_ONE = {
  base64: 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  bytes: 70,
  sha1: 'c7a9c45fd419815a5ab1998503a9f03514c0e229',
};
const TWO_BY_THREE = {
  base64:
    'iVBORw0KGgoAAAANSUhEUgAAAAIAAAADCAIAAAA2iEnWAAAAEElEQVR4nGP4z8AARAwoFABE0AX7pM/egAAAAABJRU5ErkJggg==',
  bytes: 73,
  sha1: '94458be1f7b2ef1fe17a4bae328e75cc134ea5c9',
};

function vCard(photo?: { base64: string }): XmlElement {
  return xml(
    'vCard',
    { xmlns: NS.VCARD },
    xml('FN', {}, 'Alice'),
    ...(photo === undefined
      ? []
      : [xml('PHOTO', {}, xml('TYPE', {}, 'image/png'), xml('BINVAL', {}, photo.base64))]),
  );
}

async function getVCard(c: TestClient): Promise<string> {
  const reply = await request(c, 'get', xml('vCard', { xmlns: NS.VCARD }));
  expect(reply.attrs.type, reply.toString()).to.equal('result');
  return reply.getChild('vCard', NS.VCARD)!.toString();
}

const metadataXml = (image: typeof ONE_BY_ONE, width: number, height: number) =>
  `<metadata xmlns="${NS.AVATAR_METADATA}"><info bytes="${image.bytes}" height="${height}" id="${image.sha1}" ` +
  `type="image/png" width="${width}"/></metadata>`;

describe('XEP-0398 avatar conversion', () => {
  let ts: TestServer;
  const clients: TestClient[] = [];
  let alice: CapsClient;
  let bob: CapsClient;
  let carol: TestClient;

  before(async () => {
    ts = await startTestServer();
    for (const user of ['alice', 'bob', 'carol']) await ts.addUser(user, `${user}-secret`);
    alice = await capsLogin(ts, 'alice', 'laptop', [NS.AVATAR_METADATA]);
    bob = await capsLogin(ts, 'bob', 'desk', [NS.AVATAR_METADATA]);
    carol = await login(ts, 'carol', 'pda');
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

  it('announces the conversion on the account (§2)', async () => {
    const reply = await request(alice, 'get', xml('query', { xmlns: NS.DISCO_INFO }), ALICE);
    const features = reply
      .getChild('query', NS.DISCO_INFO)!
      .getChildren('feature')
      .map((f) => f.attrs.var);
    expect(features).to.include(NS.PEP_VCARD_CONVERSION);
  });

  it('publishes a vCard photo as the PEP avatar, with notifications (§3.2)', async () => {
    const own = upcoming(alice)(eventFrom(ALICE, NS.AVATAR_METADATA));
    const contact = upcoming(bob)(eventFrom(ALICE, NS.AVATAR_METADATA));
    const reply = await request(alice, 'set', vCard(ONE_BY_ONE));
    expect(reply.attrs.type, reply.toString()).to.equal('result');
    const expected =
      `<event xmlns="${NS.PUBSUB_EVENT}"><items node="${NS.AVATAR_METADATA}"><item id="${ONE_BY_ONE.sha1}">` +
      `${metadataXml(ONE_BY_ONE, 1, 1)}</item></items></event>`;
    expect(eventOf(await own)).to.equal(expected);
    expect(eventOf(await contact)).to.equal(expected);
    // Open nodes: a stranger reads them too.
    expect(itemsOf(await items(carol, ALICE, NS.AVATAR_DATA))).to.deep.equal([
      `<item id="${ONE_BY_ONE.sha1}"><data xmlns="${NS.AVATAR_DATA}">${ONE_BY_ONE.base64}</data></item>`,
    ]);
    expect(itemsOf(await items(carol, ALICE, NS.AVATAR_METADATA))).to.deep.equal([
      `<item id="${ONE_BY_ONE.sha1}">${metadataXml(ONE_BY_ONE, 1, 1)}</item>`,
    ]);
  });

  it('puts a PEP avatar from an open data node in the vCard, and its hash in presence (§3.1, §4)', async () => {
    const data = await publish(
      alice,
      NS.AVATAR_DATA,
      TWO_BY_THREE.sha1,
      xml('data', { xmlns: NS.AVATAR_DATA }, TWO_BY_THREE.base64),
      { 'pubsub#access_model': 'open' },
    );
    expect(data.attrs.type, data.toString()).to.equal('result');
    const metadata = await publish(
      alice,
      NS.AVATAR_METADATA,
      TWO_BY_THREE.sha1,
      xml(
        'metadata',
        { xmlns: NS.AVATAR_METADATA },
        xml('info', {
          bytes: '73',
          id: TWO_BY_THREE.sha1,
          type: 'image/png',
          url: 'https://example.org/a.png',
        }),
        xml('info', { bytes: '73', id: TWO_BY_THREE.sha1, type: 'image/png', width: '2', height: '3' }),
      ),
    );
    expect(metadata.attrs.type, metadata.toString()).to.equal('result');
    expect(await getVCard(alice)).to.equal(
      `<vCard xmlns="${NS.VCARD}"><FN>Alice</FN><PHOTO><TYPE>image/png</TYPE>` +
        `<BINVAL>${TWO_BY_THREE.base64}</BINVAL></PHOTO></vCard>`,
    );
    // The next presence carries the new photo's hash (XEP-0153, done for the client).
    const seen = upcoming(bob)(presenceFrom(alice.jid!.toString()));
    await alice.send(xml('presence', {}, xml('status', {}, 'new face')));
    const presence = await seen;
    expect(presence.getChild('x', NS.VCARD_UPDATE)!.getChildText('photo')).to.equal(TWO_BY_THREE.sha1);
  });

  it('leaves the vCard alone for an avatar in a data node not everyone may read (§7)', async () => {
    // The data node is alice's own from here on: presence access.
    const config = await request(
      alice,
      'set',
      xml(
        'pubsub',
        { xmlns: NS.PUBSUB_OWNER },
        xml(
          'configure',
          { node: NS.AVATAR_DATA },
          xml(
            'x',
            { xmlns: NS.DATA_FORMS, type: 'submit' },
            xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, `${NS.PUBSUB}#node_config`)),
            xml('field', { var: 'pubsub#access_model' }, xml('value', {}, 'presence')),
          ),
        ),
      ),
    );
    expect(config.attrs.type, config.toString()).to.equal('result');
    await publish(
      alice,
      NS.AVATAR_DATA,
      ONE_BY_ONE.sha1,
      xml('data', { xmlns: NS.AVATAR_DATA }, ONE_BY_ONE.base64),
    );
    await publish(
      alice,
      NS.AVATAR_METADATA,
      ONE_BY_ONE.sha1,
      xml(
        'metadata',
        { xmlns: NS.AVATAR_METADATA },
        xml('info', { bytes: '70', id: ONE_BY_ONE.sha1, type: 'image/png' }),
      ),
    );
    expect(await getVCard(alice)).to.contain(TWO_BY_THREE.base64);
  });

  it('removes the vCard photo when the avatar is disabled with an empty <metadata/> (§3.1)', async () => {
    const reply = await publish(
      alice,
      NS.AVATAR_METADATA,
      'current',
      xml('metadata', { xmlns: NS.AVATAR_METADATA }),
    );
    expect(reply.attrs.type, reply.toString()).to.equal('result');
    expect(await getVCard(alice)).to.equal(`<vCard xmlns="${NS.VCARD}"><FN>Alice</FN></vCard>`);
  });

  it('leaves the PEP avatar alone for a vCard without a photo', async () => {
    await request(alice, 'set', vCard());
    expect(itemsOf(await items(alice, undefined, NS.AVATAR_METADATA))).to.deep.equal([
      `<item id="current"><metadata xmlns="${NS.AVATAR_METADATA}"/></item>`,
    ]);
  });
});
