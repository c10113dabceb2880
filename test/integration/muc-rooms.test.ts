// XEP-0045 rooms end to end: creation (§10.1 instant and reserved), entering (§7.1, §7.2 with
// its status codes and error conditions), nickname changes (§7.6), presence changes (§7.7),
// leaving (§7.14) and the end of a temporary room, the groupchat 1.0 kick (§7.2.24),
// service discovery (§6), and room avatars (XEP-0486) — with alice, bob and carol on real
// sockets.

import { createHash } from 'node:crypto';
import { xml } from '@xmpp/client';
import { expect } from 'chai';
import type { TestClient } from '../helpers/client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import {
  addUsers,
  createInstantRoom,
  createReservedRoom,
  DATA,
  DISCO_INFO,
  DISCO_ITEMS,
  errorCondition,
  expectError,
  expectResult,
  formValues,
  iq,
  itemOf,
  join,
  login,
  MUC,
  MUC_OWNER,
  MUC_USER,
  next,
  roomName,
  SERVICE,
  seen,
  statusCodes,
  stopAll,
} from './muc-support.js';

describe('MUC: creating and entering rooms (XEP-0045 §7, §10.1)', () => {
  let ts: TestServer;
  let alice: TestClient;
  let bob: TestClient;
  let carol: TestClient;
  const extra: TestClient[] = [];

  before(async () => {
    ts = await startTestServer();
    await addUsers(ts);
    alice = await login(ts, 'alice');
    bob = await login(ts, 'bob');
    carol = await login(ts, 'carol');
  });
  afterEach(() => stopAll(extra));
  after(async () => {
    await stopAll([alice, bob, carol]);
    await ts.stop();
  });

  it('creates an instant room: 110 and 201 for its owner, locked until the empty form is submitted', async () => {
    const room = roomName('instant');
    const self = await join(alice, `${room}/Alice`);
    expect(self.attrs.type).to.equal(undefined);
    expect(statusCodes(self)).to.deep.equal([110, 201]);
    expect(itemOf(self)).to.deep.equal({ affiliation: 'owner', role: 'moderator', jid: 'alice@localhost/r' });
    // §7.2.10: nobody else gets in before the owner configures the room.
    const locked = await join(bob, `${room}/Bob`);
    expect(locked.attrs.type).to.equal('error');
    expect(errorCondition(locked)).to.equal('item-not-found');
    expect(locked.getChild('error')?.attrs.by).to.equal(room);
    await expectResult(
      iq(alice, 'set', room, xml('query', { xmlns: MUC_OWNER }, xml('x', { xmlns: DATA, type: 'submit' }))),
    );
    const entered = await join(bob, `${room}/Bob`);
    expect(statusCodes(entered)).to.deep.equal([110]);
  });

  it('creates a reserved room from the configuration form, and the room has what was submitted', async () => {
    const room = roomName('reserved');
    const self = await join(alice, `${room}/Alice`);
    expect(statusCodes(self)).to.deep.equal([110, 201]);
    const form = (await expectResult(iq(alice, 'get', room, xml('query', { xmlns: MUC_OWNER }))))
      .getChild('query', MUC_OWNER)!
      .getChild('x', DATA);
    expect(form?.attrs.type).to.equal('form');
    const values = formValues(form);
    expect(values.FORM_TYPE).to.deep.equal(['http://jabber.org/protocol/muc#roomconfig']);
    for (const field of [
      'muc#roomconfig_roomname',
      'muc#roomconfig_roomdesc',
      'muc#roomconfig_lang',
      'muc#roomconfig_enablelogging',
      'muc#roomconfig_changesubject',
      'muc#roomconfig_allowinvites',
      'muc#roomconfig_allowpm',
      'muc#roomconfig_maxusers',
      'muc#roomconfig_presencebroadcast',
      'muc#roomconfig_getmemberlist',
      'muc#roomconfig_publicroom',
      'muc#roomconfig_persistentroom',
      'muc#roomconfig_moderatedroom',
      'muc#roomconfig_membersonly',
      'muc#roomconfig_passwordprotectedroom',
      'muc#roomconfig_roomsecret',
      'muc#roomconfig_whois',
      'muc#maxhistoryfetch',
      'muc#roomconfig_roomadmins',
      'muc#roomconfig_roomowners',
      'muc#roomconfig_pubsub',
    ])
      expect(values, field).to.have.property(field);
    expect(values['muc#roomconfig_roomowners']).to.deep.equal(['alice@localhost']);
    await expectResult(
      iq(
        alice,
        'set',
        room,
        xml(
          'query',
          { xmlns: MUC_OWNER },
          xml(
            'x',
            { xmlns: DATA, type: 'submit' },
            xml('field', { var: 'FORM_TYPE' }, xml('value', {}, 'http://jabber.org/protocol/muc#roomconfig')),
            xml('field', { var: 'muc#roomconfig_roomname' }, xml('value', {}, 'A Dark Cave')),
            xml(
              'field',
              { var: 'muc#roomconfig_roomdesc' },
              xml('value', {}, 'The place for all good witches!'),
            ),
            xml('field', { var: 'muc#roomconfig_whois' }, xml('value', {}, 'anyone')),
            xml('field', { var: 'muc#roomconfig_publicroom' }, xml('value', {}, '0')),
          ),
        ),
      ),
    );
    const info = (await expectResult(iq(bob, 'get', room, xml('query', { xmlns: DISCO_INFO })))).getChild(
      'query',
      DISCO_INFO,
    )!;
    expect(info.getChild('identity')?.attrs).to.deep.equal({
      category: 'conference',
      type: 'text',
      name: 'A Dark Cave',
    });
    const features = info.getChildren('feature').map((f) => f.attrs.var);
    expect(features).to.include.members([
      'http://jabber.org/protocol/muc',
      'http://jabber.org/protocol/muc#stable_id',
      'muc_hidden',
      'muc_temporary',
      'muc_open',
      'muc_unmoderated',
      'muc_nonanonymous',
      'muc_unsecured',
    ]);
    const roominfo = formValues(info.getChild('x', DATA));
    expect(roominfo.FORM_TYPE).to.deep.equal(['http://jabber.org/protocol/muc#roominfo']);
    expect(roominfo['muc#roominfo_description']).to.deep.equal(['The place for all good witches!']);
    expect(roominfo['muc#roominfo_occupants']).to.deep.equal(['1']);
    expect(roominfo['muc#roominfo_contactjid']).to.deep.equal(['alice@localhost']);
    // Non-anonymous: the joiner is warned (100) and everyone sees real JIDs.
    const entered = await join(bob, `${room}/Bob`);
    expect(statusCodes(entered)).to.deep.equal([100, 110]);
  });

  it('refuses a configuration the service cannot accept (a password-protected room without a password)', async () => {
    const room = roomName('bad-config');
    await join(alice, `${room}/Alice`);
    await expectError(
      iq(
        alice,
        'set',
        room,
        xml(
          'query',
          { xmlns: MUC_OWNER },
          xml(
            'x',
            { xmlns: DATA, type: 'submit' },
            xml('field', { var: 'muc#roomconfig_passwordprotectedroom' }, xml('value', {}, '1')),
          ),
        ),
      ),
      'not-acceptable',
    );
    // §10.1.3: cancelling the initial configuration destroys the room.
    const gone = next(alice, (el) => el.name === 'presence' && el.attrs.type === 'unavailable');
    await expectResult(
      iq(alice, 'set', room, xml('query', { xmlns: MUC_OWNER }, xml('x', { xmlns: DATA, type: 'cancel' }))),
    );
    const presence = await gone;
    expect(presence.getChild('x', MUC_USER)?.getChild('destroy')).to.not.equal(undefined);
    await expectError(iq(bob, 'get', room, xml('query', { xmlns: DISCO_INFO })), 'item-not-found');
  });

  it('sends the joiner every occupant first, then its own presence; everyone else sees the joiner', async () => {
    const room = roomName('order');
    await createInstantRoom(alice, room, 'Alice');
    await join(bob, `${room}/Bob`);
    const since = carol.received.length;
    const aliceSees = next(alice, (el) => el.name === 'presence' && el.attrs.from === `${room}/Carol`);
    const bobSees = next(bob, (el) => el.name === 'presence' && el.attrs.from === `${room}/Carol`);
    const self = await join(carol, `${room}/Carol`);
    const presences = carol.received.slice(since).filter((el) => el.name === 'presence');
    expect(presences.map((p) => p.attrs.from)).to.deep.equal([
      `${room}/Alice`,
      `${room}/Bob`,
      `${room}/Carol`,
    ]);
    expect(presences[2]).to.equal(self);
    // Semi-anonymous by default: bob (a participant) sees no JID; alice (a moderator) does.
    expect(itemOf(presences[0]!)).to.deep.equal({ affiliation: 'owner', role: 'moderator' });
    expect(itemOf(presences[1]!)).to.deep.equal({ affiliation: 'none', role: 'participant' });
    expect(itemOf(await bobSees)).to.deep.equal({ affiliation: 'none', role: 'participant' });
    const seenByAlice = await aliceSees;
    expect(itemOf(seenByAlice)).to.deep.equal({
      affiliation: 'none',
      role: 'participant',
      jid: 'carol@localhost/r',
    });
    expect(statusCodes(seenByAlice)).to.deep.equal([]);
    // After the presences: the (empty) subject, the last thing of the entry.
    const subject = await carol.waitFor((el) => el.name === 'message' && el.attrs.from === room);
    expect(subject.getChildText('subject')).to.equal('');
    expect(carol.received.indexOf(subject)).to.be.greaterThan(carol.received.indexOf(self));
  });

  it('refuses a nickname in use (conflict), and a blank one', async () => {
    const room = roomName('conflict');
    await createInstantRoom(alice, room, 'Alice');
    const refused = await join(bob, `${room}/Alice`);
    expect(refused.attrs.type).to.equal('error');
    expect(errorCondition(refused)).to.equal('conflict');
    expect(refused.getChild('x')?.attrs.xmlns).to.equal('http://jabber.org/protocol/muc');
    // Trimmed: "Bob " is Bob, and the room says it changed the nickname (§7.2.3: 210).
    const self = next(bob, (el) => el.name === 'presence' && el.attrs.from === `${room}/Bob`);
    await bob.send(xml('presence', { to: `${room}/Bob ` }, xml('x', { xmlns: MUC })));
    expect(statusCodes(await self)).to.deep.equal([110, 210]);
    const blank = next(carol, (el) => el.name === 'presence' && el.attrs.type === 'error');
    await carol.send(xml('presence', { to: `${room}/ ` }, xml('x', { xmlns: MUC })));
    expect(errorCondition(await blank)).to.equal('not-acceptable');
  });

  it('lets one user enter with the same nickname from a second client (multi-session)', async () => {
    const room = roomName('multi');
    await createInstantRoom(alice, room, 'Alice');
    await join(bob, `${room}/Bob`);
    const phone = await login(ts, 'bob', 'phone');
    extra.push(phone);
    const self = await join(phone, `${room}/Bob`);
    expect(self.attrs.type).to.equal(undefined);
    expect(statusCodes(self)).to.deep.equal([110]);
    // Both sessions get the room's messages.
    await alice.send(
      xml('message', { to: room, type: 'groupchat', id: 'both' }, xml('body', {}, 'hello both')),
    );
    await bob.waitFor((el) => el.name === 'message' && el.attrs.id === 'both');
    const copy = await phone.waitFor((el) => el.name === 'message' && el.attrs.id === 'both');
    expect(copy.attrs.to).to.equal('bob@localhost/phone');
  });

  it('changes nicknames with 303, and shows presence changes to everyone', async () => {
    const room = roomName('nick');
    await createInstantRoom(alice, room, 'Alice');
    await join(bob, `${room}/Bob`);
    await seen(alice, `${room}/Bob`);
    const aliceSeesGone = next(
      alice,
      (el) => el.name === 'presence' && el.attrs.from === `${room}/Bob` && el.attrs.type === 'unavailable',
    );
    const aliceSeesNew = next(alice, (el) => el.name === 'presence' && el.attrs.from === `${room}/Robert`);
    const bobGone = next(
      bob,
      (el) => el.name === 'presence' && el.attrs.from === `${room}/Bob` && el.attrs.type === 'unavailable',
    );
    const bobNew = next(bob, (el) => el.name === 'presence' && el.attrs.from === `${room}/Robert`);
    await bob.send(xml('presence', { to: `${room}/Robert` }));
    const gone = await aliceSeesGone;
    expect(statusCodes(gone)).to.deep.equal([303]);
    expect(itemOf(gone)).to.deep.equal({
      affiliation: 'none',
      role: 'participant',
      jid: 'bob@localhost/r',
      nick: 'Robert',
    });
    expect(itemOf(await aliceSeesNew)).to.deep.equal({
      affiliation: 'none',
      role: 'participant',
      jid: 'bob@localhost/r',
    });
    expect(statusCodes(await bobGone)).to.deep.equal([110, 303]);
    expect(statusCodes(await bobNew)).to.deep.equal([110]);
    // A nickname taken by someone else.
    const refused = next(bob, (el) => el.name === 'presence' && el.attrs.type === 'error');
    await bob.send(xml('presence', { to: `${room}/Alice` }));
    expect(errorCondition(await refused)).to.equal('conflict');
    // §7.7: a presence change reaches everyone.
    const away = next(alice, (el) => el.name === 'presence' && el.attrs.from === `${room}/Robert`);
    await bob.send(
      xml('presence', { to: `${room}/Robert` }, xml('show', {}, 'away'), xml('status', {}, 'brb')),
    );
    const changed = await away;
    expect(changed.getChildText('show')).to.equal('away');
    expect(changed.getChildText('status')).to.equal('brb');
  });

  it('leaves with unavailable presence (110 for the leaver), and a temporary room ends with its last occupant', async () => {
    const room = roomName('leave');
    await createInstantRoom(alice, room, 'Alice');
    await join(bob, `${room}/Bob`);
    await seen(alice, `${room}/Bob`);
    const aliceSees = next(alice, (el) => el.name === 'presence' && el.attrs.from === `${room}/Bob`);
    const own = next(bob, (el) => el.name === 'presence' && el.attrs.from === `${room}/Bob`);
    await bob.send(xml('presence', { to: `${room}/Bob`, type: 'unavailable' }, xml('status', {}, 'bye')));
    const departure = await aliceSees;
    expect(departure.attrs.type).to.equal('unavailable');
    expect(departure.getChildText('status')).to.equal('bye');
    expect(itemOf(departure)).to.deep.equal({ affiliation: 'none', role: 'none', jid: 'bob@localhost/r' });
    const mine = await own;
    expect(statusCodes(mine)).to.deep.equal([110]);
    expect(itemOf(mine)).to.deep.equal({ affiliation: 'none', role: 'none', jid: 'bob@localhost/r' });
    // The owner leaves too: the temporary room is gone, and a new one of that name is new.
    await alice.send(xml('presence', { to: `${room}/Alice`, type: 'unavailable' }));
    await next(alice, (el) => el.name === 'presence' && el.attrs.type === 'unavailable');
    const again = await join(carol, `${room}/Carol`);
    expect(statusCodes(again)).to.deep.equal([110, 201]);
    expect(itemOf(again).affiliation).to.equal('owner');
  });

  it('removes an occupant whose client goes offline', async () => {
    const room = roomName('offline');
    await createInstantRoom(alice, room, 'Alice');
    const dave = await login(ts, 'dave');
    await join(dave, `${room}/Dave`);
    await seen(alice, `${room}/Dave`);
    const gone = next(
      alice,
      (el) => el.name === 'presence' && el.attrs.from === `${room}/Dave` && el.attrs.type === 'unavailable',
    );
    await dave.stop();
    // Alice moderates: she sees the JID of whoever leaves.
    expect(itemOf(await gone)).to.deep.equal({ affiliation: 'none', role: 'none', jid: 'dave@localhost/r' });
  });

  it('answers a groupchat 1.0 presence from a stranger with a kick (110, 307, 333)', async () => {
    const room = roomName('gc10');
    await createInstantRoom(alice, room, 'Alice');
    const kick = await join(bob, `${room}/Bob`, { bare: true });
    expect(kick.attrs.type).to.equal('unavailable');
    expect(statusCodes(kick)).to.deep.equal([110, 307, 333]);
  });

  it('refuses entry: password (not-authorized), members-only (registration-required), full (service-unavailable)', async () => {
    const secret = roomName('secret');
    await createReservedRoom(alice, secret, 'Alice', { 'muc#roomconfig_roomsecret': 'cauldronburn' });
    const info = (await expectResult(iq(bob, 'get', secret, xml('query', { xmlns: DISCO_INFO })))).getChild(
      'query',
      DISCO_INFO,
    )!;
    expect(info.getChildren('feature').map((f) => f.attrs.var)).to.include('muc_passwordprotected');
    expect(errorCondition(await join(bob, `${secret}/Bob`))).to.equal('not-authorized');
    expect(errorCondition(await join(bob, `${secret}/Bob`, { password: 'wrong' }))).to.equal(
      'not-authorized',
    );
    expect(statusCodes(await join(bob, `${secret}/Bob`, { password: 'cauldronburn' }))).to.deep.equal([110]);

    const members = roomName('members');
    await createReservedRoom(alice, members, 'Alice', { 'muc#roomconfig_membersonly': '1' });
    const refused = await join(carol, `${members}/Carol`);
    expect(errorCondition(refused)).to.equal('registration-required');
    expect(refused.getChild('error')?.attrs.type).to.equal('auth');

    const small = roomName('small');
    await createReservedRoom(alice, small, 'Alice', { 'muc#roomconfig_maxusers': '2' });
    await join(bob, `${small}/Bob`);
    const full = await join(carol, `${small}/Carol`);
    expect(errorCondition(full)).to.equal('service-unavailable');
  });

  it('logs: the joiner of a logged room is warned (170), and occupants hear of a change (170, 171)', async () => {
    const room = roomName('logged');
    await createReservedRoom(alice, room, 'Alice', { 'muc#roomconfig_enablelogging': '1' });
    expect(statusCodes(await join(bob, `${room}/Bob`))).to.deep.equal([110, 170]);
    const notice = next(
      bob,
      (el) => el.name === 'message' && el.attrs.from === room && el.attrs.type === 'groupchat',
    );
    await expectResult(
      iq(
        alice,
        'set',
        room,
        xml(
          'query',
          { xmlns: MUC_OWNER },
          xml(
            'x',
            { xmlns: DATA, type: 'submit' },
            xml('field', { var: 'muc#roomconfig_enablelogging' }, xml('value', {}, '0')),
          ),
        ),
      ),
    );
    expect(statusCodes(await notice)).to.deep.equal([171]);
  });

  it('lists public rooms in the service disco#items, and the service in the server disco#items', async () => {
    const open = roomName('public');
    await createReservedRoom(alice, open, 'Alice', { 'muc#roomconfig_roomname': 'Open House' });
    const hidden = roomName('hidden');
    await createReservedRoom(alice, hidden, 'Alice', { 'muc#roomconfig_publicroom': '0' });
    const items = (
      await expectResult(iq(bob, 'get', SERVICE, xml('query', { xmlns: DISCO_ITEMS })))
    ).getChild('query', DISCO_ITEMS)!;
    const listed = items.getChildren('item').map((i) => i.attrs);
    expect(listed).to.deep.include({ jid: open, name: 'Open House' });
    expect(listed.map((i) => i.jid)).to.not.include(hidden);
    const info = (await expectResult(iq(bob, 'get', SERVICE, xml('query', { xmlns: DISCO_INFO })))).getChild(
      'query',
      DISCO_INFO,
    )!;
    expect(info.getChild('identity')?.attrs).to.deep.equal({
      category: 'conference',
      type: 'text',
      name: 'Chatrooms',
    });
    expect(info.getChildren('feature').map((f) => f.attrs.var)).to.include.members([
      'http://jabber.org/protocol/muc',
      'vcard-temp',
    ]);
    const server = (
      await expectResult(iq(bob, 'get', 'localhost', xml('query', { xmlns: DISCO_ITEMS })))
    ).getChild('query', DISCO_ITEMS)!;
    expect(server.getChildren('item').map((i) => i.attrs)).to.deep.include({
      jid: SERVICE,
      name: 'Chatrooms',
    });
  });

  it('keeps a room vCard set by an owner (XEP-0486): its avatar hash in muc#roominfo, 104 to occupants', async () => {
    const room = roomName('avatar');
    await createInstantRoom(alice, room, 'Alice');
    await join(bob, `${room}/Bob`);
    const photo = Buffer.from('not really a png').toString('base64');
    const vcard = xml(
      'vCard',
      { xmlns: 'vcard-temp' },
      xml('PHOTO', {}, xml('TYPE', {}, 'image/png'), xml('BINVAL', {}, photo)),
    );
    await expectError(iq(bob, 'set', room, vcard), 'forbidden');
    const notice = next(bob, (el) => el.name === 'message' && el.attrs.from === room);
    await expectResult(iq(alice, 'set', room, vcard));
    expect(statusCodes(await notice)).to.deep.equal([104]);
    const got = (await expectResult(iq(carol, 'get', room, xml('vCard', { xmlns: 'vcard-temp' })))).getChild(
      'vCard',
      'vcard-temp',
    )!;
    expect(got.getChild('PHOTO')?.getChildText('BINVAL')).to.equal(photo);
    const info = (await expectResult(iq(carol, 'get', room, xml('query', { xmlns: DISCO_INFO })))).getChild(
      'query',
      DISCO_INFO,
    )!;
    // XEP-0153 §3.1: the SHA-1 of the image data, not of its base64.
    const hash = createHash('sha1').update('not really a png').digest('hex');
    expect(formValues(info.getChild('x', DATA))['muc#roominfo_avatarhash']).to.deep.equal([hash]);
  });
});
