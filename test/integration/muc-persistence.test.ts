// XEP-0045 persistent rooms across a restart of the server on the same directory: the
// configuration, the affiliations (owners, admins, members with their nicknames, outcasts
// with the reason), the subject and the room's vCard come back from SQLite; temporary rooms
// and destroyed rooms do not. Occupants are told the service is going (§14.2, status 332).

import { rmSync } from 'node:fs';
import { xml } from '@xmpp/client';
import { expect } from 'chai';
import type { TestClient } from '../helpers/client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import {
  addUsers,
  createInstantRoom,
  createReservedRoom,
  DATA,
  DELAY,
  DISCO_INFO,
  DISCO_ITEMS,
  errorCondition,
  expectResult,
  formValues,
  iq,
  itemOf,
  join,
  login,
  MUC_ADMIN,
  MUC_OWNER,
  next,
  roomName,
  SERVICE,
  statusCodes,
  stopAll,
  submitForm,
} from './muc-support.js';

const COMMANDS = 'http://jabber.org/protocol/commands';
const HATS_FORM = 'urn:xmpp:hats:commands';
const SCRIBE = 'urn:example:hats#scribe';

describe('MUC: persistent rooms survive a restart (XEP-0045 §10.1.3 persistentroom)', () => {
  let ts: TestServer;
  const clients: TestClient[] = [];
  const room = roomName('persistent');
  const temporary = roomName('temporary');
  const destroyed = roomName('destroyed');
  const photo = Buffer.from('a tiny avatar').toString('base64');

  const admin = (attrs: Record<string, string>, reason?: string) =>
    xml(
      'query',
      { xmlns: MUC_ADMIN },
      xml('item', attrs, ...(reason === undefined ? [] : [xml('reason', {}, reason)])),
    );

  before(async () => {
    ts = await startTestServer();
    await addUsers(ts);
    const alice = await login(ts, 'alice');
    const bob = await login(ts, 'bob');
    clients.push(alice, bob);
    await createReservedRoom(alice, room, 'Alice', {
      'muc#roomconfig_persistentroom': '1',
      'muc#roomconfig_roomname': 'The Keep',
      'muc#roomconfig_roomdesc': 'It stays',
      'muc#roomconfig_moderatedroom': '1',
      'muc#roomconfig_roomsecret': 'sesame',
      'muc#roomconfig_whois': 'anyone',
      'muc#roomconfig_roomadmins': ['bob@localhost'],
    });
    await expectResult(
      iq(alice, 'set', room, admin({ affiliation: 'member', jid: 'carol@localhost', nick: 'Caz' })),
    );
    await expectResult(
      iq(alice, 'set', room, admin({ affiliation: 'outcast', jid: 'dave@localhost' }, 'Spam')),
    );
    await alice.send(
      xml('message', { to: room, type: 'groupchat', id: 'topic' }, xml('subject', {}, 'Kept topic')),
    );
    await alice.waitFor((el) => el.name === 'message' && el.attrs.id === 'topic');
    await expectResult(
      iq(
        alice,
        'set',
        room,
        xml(
          'vCard',
          { xmlns: 'vcard-temp' },
          xml('PHOTO', {}, xml('TYPE', {}, 'image/png'), xml('BINVAL', {}, photo)),
        ),
      ),
    );
    // XEP-0317: a hat, worn by Carol.
    for (const [node, fields] of [
      ['create', { 'hats#title': 'Scribe', 'hats#uri': SCRIBE }],
      ['assign', { 'hats#jid': 'carol@localhost', 'hats#uri': SCRIBE }],
    ] as const)
      await expectResult(
        iq(
          alice,
          'set',
          room,
          xml('command', { xmlns: COMMANDS, node: `${HATS_FORM}:${node}` }, submitForm(HATS_FORM, fields)),
        ),
      );
    await createInstantRoom(alice, temporary, 'Alice');
    await createReservedRoom(alice, destroyed, 'Alice', { 'muc#roomconfig_persistentroom': '1' });
    await expectResult(iq(alice, 'set', destroyed, xml('query', { xmlns: MUC_OWNER }, xml('destroy', {}))));
    await join(bob, `${room}/Bob`, { password: 'sesame' });

    // §14.2: the service tells its occupants it is stopping.
    const shutdown = next(
      bob,
      (el) => el.name === 'presence' && el.attrs.type === 'unavailable' && statusCodes(el).includes(332),
    );
    const stopping = ts.server.stop();
    const told = await shutdown;
    expect(statusCodes(told)).to.deep.equal([110, 332]);
    await stopping;
    await stopAll(clients);
    ts = await startTestServer({ dir: ts.dir });
  });
  afterEach(() => stopAll(clients));
  after(async () => {
    await ts.stop();
    // Restarted on a directory of its own choosing, the server leaves it: it is ours to remove.
    rmSync(ts.dir, { recursive: true, force: true });
  });

  it('keeps the configuration', async () => {
    const alice = await login(ts, 'alice');
    clients.push(alice);
    const form = (await expectResult(iq(alice, 'get', room, xml('query', { xmlns: MUC_OWNER })))).getChild(
      'query',
      MUC_OWNER,
    )!;
    const values = formValues(form.getChild('x', DATA));
    expect(values).to.deep.include({
      'muc#roomconfig_persistentroom': ['1'],
      'muc#roomconfig_roomname': ['The Keep'],
      'muc#roomconfig_roomdesc': ['It stays'],
      'muc#roomconfig_moderatedroom': ['1'],
      'muc#roomconfig_passwordprotectedroom': ['1'],
      'muc#roomconfig_roomsecret': ['sesame'],
      'muc#roomconfig_whois': ['anyone'],
      'muc#roomconfig_roomadmins': ['bob@localhost'],
      'muc#roomconfig_roomowners': ['alice@localhost'],
    });
    const items = (
      await expectResult(iq(alice, 'get', SERVICE, xml('query', { xmlns: DISCO_ITEMS })))
    ).getChild('query', DISCO_ITEMS)!;
    expect(items.getChildren('item').map((i) => i.attrs)).to.deep.equal([{ jid: room, name: 'The Keep' }]);
    const info = (await expectResult(iq(alice, 'get', room, xml('query', { xmlns: DISCO_INFO })))).getChild(
      'query',
      DISCO_INFO,
    )!;
    expect(info.getChildren('feature').map((f) => f.attrs.var)).to.include.members([
      'muc_persistent',
      'muc_moderated',
      'muc_passwordprotected',
      'muc_nonanonymous',
    ]);
  });

  it('keeps the affiliations: the admin, the member with her nickname, the outcast with the reason', async () => {
    const alice = await login(ts, 'alice');
    clients.push(alice);
    const list = async (affiliation: string) =>
      (await expectResult(iq(alice, 'get', room, admin({ affiliation }))))
        .getChild('query', MUC_ADMIN)!
        .getChildren('item')
        .map((i) => ({
          ...i.attrs,
          ...(i.getChildText('reason') ? { reason: i.getChildText('reason') } : {}),
        }));
    expect(await list('admin')).to.deep.equal([{ affiliation: 'admin', jid: 'bob@localhost' }]);
    expect(await list('member')).to.deep.equal([
      { affiliation: 'member', jid: 'carol@localhost', nick: 'Caz' },
    ]);
    expect(await list('outcast')).to.deep.equal([
      { affiliation: 'outcast', jid: 'dave@localhost', reason: 'Spam' },
    ]);
    const dave = await login(ts, 'dave');
    clients.push(dave);
    expect(errorCondition(await join(dave, `${room}/Dave`, { password: 'sesame' }))).to.equal('forbidden');
    // The member's role in the moderated room follows her stored affiliation.
    const carol = await login(ts, 'carol');
    clients.push(carol);
    const self = await join(carol, `${room}/Caz`, { password: 'sesame' });
    expect(itemOf(self)).to.deep.include({ affiliation: 'member', role: 'participant' });
    // And so do her hats (XEP-0317).
    expect(
      self
        .getChild('hats', 'urn:xmpp:hats:0')
        ?.getChildren('hat')
        .map((h) => h.attrs),
    ).to.deep.equal([{ uri: SCRIBE, title: 'Scribe' }]);
  });

  it('keeps the subject, given to whoever enters', async () => {
    const bob = await login(ts, 'bob');
    clients.push(bob);
    const subject = next(bob, (el) => el.name === 'message' && el.getChild('subject') !== undefined);
    const self = await join(bob, `${room}/Bob`, { password: 'sesame' });
    expect(itemOf(self)).to.deep.include({ affiliation: 'admin', role: 'moderator' });
    const got = await subject;
    expect(got.getChildText('subject')).to.equal('Kept topic');
    expect(got.attrs.from).to.equal(`${room}/Alice`);
    expect(got.getChild('delay', DELAY)?.attrs.from).to.equal(room);
  });

  it("keeps the room's vCard", async () => {
    const bob = await login(ts, 'bob');
    clients.push(bob);
    const vcard = (await expectResult(iq(bob, 'get', room, xml('vCard', { xmlns: 'vcard-temp' })))).getChild(
      'vCard',
      'vcard-temp',
    )!;
    expect(vcard.getChild('PHOTO')?.getChildText('BINVAL')).to.equal(photo);
  });

  it('forgets temporary and destroyed rooms', async () => {
    const bob = await login(ts, 'bob');
    clients.push(bob);
    for (const gone of [temporary, destroyed]) {
      const reply = await iq(bob, 'get', gone, xml('query', { xmlns: DISCO_INFO }));
      expect(errorCondition(reply), gone).to.equal('item-not-found');
    }
  });
});
