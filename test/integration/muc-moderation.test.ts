// XEP-0045 moderation end to end: kicking (§8.2, 307), voice in moderated rooms (§8.3, §8.4,
// §7.13 and §8.6 voice requests), banning and the ban list (§9.1, §9.2, 301), membership
// (§9.3–§9.5, 321, 322 when a room turns members-only), moderator status (§9.6, §9.7), owners
// and admins (§10.3–§10.8, the last owner), registration (§7.10) and destruction (§10.9) —
// each refused where the tables of §5 refuse it.

import { type XmlElement, xml } from '@xmpp/client';
import { expect } from 'chai';
import type { TestClient } from '../helpers/client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import {
  addUsers,
  createInstantRoom,
  createReservedRoom,
  DATA,
  DISCO_INFO,
  errorCondition,
  expectError,
  expectResult,
  formValues,
  iq,
  itemOf,
  join,
  login,
  MUC_ADMIN,
  MUC_OWNER,
  MUC_USER,
  next,
  nextId,
  roomName,
  say,
  seen,
  statusCodes,
  stopAll,
  submitForm,
} from './muc-support.js';

const admin = (...items: XmlElement[]) => xml('query', { xmlns: MUC_ADMIN }, ...items);
const item = (attrs: Record<string, string>, reason?: string) =>
  xml('item', attrs, ...(reason === undefined ? [] : [xml('reason', {}, reason)]));

describe('MUC: moderation (XEP-0045 §8, §9, §10)', () => {
  let ts: TestServer;
  let alice: TestClient;
  let bob: TestClient;
  let carol: TestClient;
  let dave: TestClient;

  before(async () => {
    ts = await startTestServer();
    await addUsers(ts);
    alice = await login(ts, 'alice');
    bob = await login(ts, 'bob');
    carol = await login(ts, 'carol');
    dave = await login(ts, 'dave');
  });
  after(async () => {
    await stopAll([alice, bob, carol, dave]);
    await ts.stop();
  });

  /** A room where alice owns, bob and carol are in, and everyone has seen everyone. */
  async function roomWithBobAndCarol(prefix: string, fields?: Record<string, string>): Promise<string> {
    const room = roomName(prefix);
    if (fields === undefined) await createInstantRoom(alice, room, 'Alice');
    else await createReservedRoom(alice, room, 'Alice', fields);
    await join(bob, `${room}/Bob`);
    await join(carol, `${room}/Carol`);
    await Promise.all([seen(alice, `${room}/Carol`), seen(bob, `${room}/Carol`)]);
    return room;
  }

  it('kicks: 307 with actor and reason to the kicked, 307 to the others; a participant may not kick', async () => {
    const room = await roomWithBobAndCarol('kick');
    await expectError(iq(bob, 'set', room, admin(item({ nick: 'Carol', role: 'none' }))), 'forbidden');
    const kicked = next(carol, (el) => el.name === 'presence' && el.attrs.from === `${room}/Carol`);
    const others = next(bob, (el) => el.name === 'presence' && el.attrs.from === `${room}/Carol`);
    await expectResult(
      iq(alice, 'set', room, admin(item({ nick: 'Carol', role: 'none' }, 'Avaunt, you cullion!'))),
    );
    const own = await kicked;
    expect(own.attrs.type).to.equal('unavailable');
    expect(statusCodes(own)).to.deep.equal([110, 307]);
    const ownItem = own.getChild('x', MUC_USER)!.getChild('item')!;
    expect(ownItem.getChild('actor')?.attrs.nick).to.equal('Alice');
    expect(ownItem.getChildText('reason')).to.equal('Avaunt, you cullion!');
    const seenByBob = await others;
    expect(seenByBob.attrs.type).to.equal('unavailable');
    expect(statusCodes(seenByBob)).to.deep.equal([307]);
    // Kicked is not banned: carol may come back.
    expect(statusCodes(await join(carol, `${room}/Carol`))).to.deep.equal([110]);
    // §8.2: nobody kicks someone of a higher affiliation.
    await expectResult(iq(alice, 'set', room, admin(item({ nick: 'Bob', role: 'moderator' }))));
    await expectError(iq(bob, 'set', room, admin(item({ nick: 'Alice', role: 'none' }))), 'not-allowed');
  });

  it('bans by bare JID: 301 to everyone, the ban list, forbidden on re-entry, conflict for banning oneself', async () => {
    const room = await roomWithBobAndCarol('ban');
    const banned = next(carol, (el) => el.name === 'presence' && el.attrs.from === `${room}/Carol`);
    const others = next(bob, (el) => el.name === 'presence' && el.attrs.from === `${room}/Carol`);
    await expectResult(
      iq(alice, 'set', room, admin(item({ affiliation: 'outcast', jid: 'carol@localhost' }, 'Treason'))),
    );
    const own = await banned;
    expect(statusCodes(own)).to.deep.equal([110, 301]);
    expect(itemOf(own)).to.deep.include({ affiliation: 'outcast', role: 'none' });
    expect(statusCodes(await others)).to.deep.equal([301]);
    const refused = await join(carol, `${room}/Carol`);
    expect(errorCondition(refused)).to.equal('forbidden');
    const list = (
      await expectResult(iq(alice, 'get', room, admin(item({ affiliation: 'outcast' }))))
    ).getChild('query', MUC_ADMIN)!;
    expect(list.getChildren('item').map((i) => [i.attrs, i.getChildText('reason')])).to.deep.equal([
      [{ affiliation: 'outcast', jid: 'carol@localhost' }, 'Treason'],
    ]);
    // Only admins read the ban list.
    await expectError(iq(bob, 'get', room, admin(item({ affiliation: 'outcast' }))), 'forbidden');
    await expectError(
      iq(alice, 'set', room, admin(item({ affiliation: 'outcast', jid: 'alice@localhost' }))),
      'conflict',
    );
    // Lifting the ban.
    await expectResult(iq(alice, 'set', room, admin(item({ affiliation: 'none', jid: 'carol@localhost' }))));
    expect(statusCodes(await join(carol, `${room}/Carol`))).to.deep.equal([110]);
  });

  it('applies a list edit whole or not at all', async () => {
    const room = await roomWithBobAndCarol('atomic');
    await expectResult(iq(alice, 'set', room, admin(item({ affiliation: 'admin', jid: 'bob@localhost' }))));
    // An admin may ban dave but not the owner: nothing of the request is applied.
    await expectError(
      iq(
        bob,
        'set',
        room,
        admin(
          item({ affiliation: 'outcast', jid: 'dave@localhost' }),
          item({ affiliation: 'outcast', jid: 'alice@localhost' }),
        ),
      ),
      'not-allowed',
    );
    const list = (
      await expectResult(iq(alice, 'get', room, admin(item({ affiliation: 'outcast' }))))
    ).getChild('query', MUC_ADMIN)!;
    expect(list.getChildren('item')).to.deep.equal([]);
    // §17.4 #4: a role and an affiliation in one item.
    await expectError(
      iq(alice, 'set', room, admin(item({ nick: 'Carol', role: 'visitor', affiliation: 'member' }))),
      'bad-request',
    );
  });

  it('runs a moderated room: visitors have no voice, ask for it, and a moderator grants and revokes it', async () => {
    const room = await roomWithBobAndCarol('moderated', { 'muc#roomconfig_moderatedroom': '1' });
    const bobSelf = bob.received
      .filter((el) => el.name === 'presence' && el.attrs.from === `${room}/Bob`)
      .at(-1)!;
    expect(itemOf(bobSelf).role).to.equal('visitor');
    const refused = next(bob, (el) => el.name === 'message' && el.attrs.type === 'error');
    await bob.send(xml('message', { to: room, type: 'groupchat', id: nextId() }, xml('body', {}, 'may I?')));
    expect(errorCondition(await refused)).to.equal('forbidden');
    // §7.13: the request goes to the moderators as a form to approve.
    const approval = next(
      alice,
      (el) => el.name === 'message' && el.attrs.from === room && el.getChild('x', DATA) !== undefined,
    );
    await bob.send(
      xml(
        'message',
        { to: room },
        submitForm('http://jabber.org/protocol/muc#request', { 'muc#role': 'participant' }),
      ),
    );
    const form = (await approval).getChild('x', DATA)!;
    expect(form.attrs.type).to.equal('form');
    expect(formValues(form)).to.deep.include({
      FORM_TYPE: ['http://jabber.org/protocol/muc#request'],
      'muc#role': ['participant'],
      'muc#jid': ['bob@localhost/r'],
      'muc#roomnick': ['Bob'],
      'muc#request_allow': ['false'],
    });
    // §8.6: approving grants voice, which everyone sees.
    const voiced = next(carol, (el) => el.name === 'presence' && el.attrs.from === `${room}/Bob`);
    await alice.send(
      xml(
        'message',
        { to: room },
        submitForm('http://jabber.org/protocol/muc#request', {
          'muc#role': 'participant',
          'muc#jid': 'bob@localhost/r',
          'muc#roomnick': 'Bob',
          'muc#request_allow': 'true',
        }),
      ),
    );
    expect(itemOf(await voiced)).to.deep.include({ role: 'participant' });
    await say(bob, room, 'thank you');
    // §8.4: revoking voice.
    const revoked = next(bob, (el) => el.name === 'presence' && el.attrs.from === `${room}/Bob`);
    await expectResult(
      iq(alice, 'set', room, admin(item({ nick: 'Bob', role: 'visitor' }, 'Not so worthy'))),
    );
    const own = await revoked;
    expect(itemOf(own)).to.deep.include({ role: 'visitor' });
    expect(own.getChild('x', MUC_USER)!.getChild('item')!.getChildText('reason')).to.equal('Not so worthy');
    // The voice list (§8.5) is the moderators'.
    await expectError(iq(carol, 'get', room, admin(item({ role: 'participant' }))), 'forbidden');
    const visitors = (await expectResult(iq(alice, 'get', room, admin(item({ role: 'visitor' }))))).getChild(
      'query',
      MUC_ADMIN,
    )!;
    expect(visitors.getChildren('item').map((i) => i.attrs)).to.deep.equal([
      { affiliation: 'none', jid: 'bob@localhost/r', nick: 'Bob', role: 'visitor' },
      { affiliation: 'none', jid: 'carol@localhost/r', nick: 'Carol', role: 'visitor' },
    ]);
    // §8.4: nobody takes an owner's voice.
    await expectResult(iq(alice, 'set', room, admin(item({ nick: 'Carol', role: 'moderator' }))));
    await expectError(iq(carol, 'set', room, admin(item({ nick: 'Alice', role: 'visitor' }))), 'not-allowed');
  });

  it('hides the presence of roles left out of muc#roomconfig_presencebroadcast, until they gain one shown', async () => {
    const room = roomName('broadcast-roles');
    await createReservedRoom(alice, room, 'Alice', {
      'muc#roomconfig_moderatedroom': '1',
      'muc#roomconfig_presencebroadcast': ['moderator', 'participant'],
    });
    const since = alice.received.length;
    const self = await join(carol, `${room}/Carol`);
    expect(itemOf(self).role).to.equal('visitor');
    await join(bob, `${room}/Bob`);
    // Alice's own message comes back after anything the room sent her while they entered.
    await say(alice, room, 'marker');
    expect(alice.received.slice(since).filter((el) => el.attrs.from === `${room}/Carol`)).to.deep.equal([]);
    // Bob (a visitor too) is not shown to carol either, nor carol to bob.
    expect(
      bob.received.filter((el) => el.name === 'presence' && el.attrs.from === `${room}/Carol`),
    ).to.deep.equal([]);
    const arrives = next(alice, (el) => el.name === 'presence' && el.attrs.from === `${room}/Carol`);
    await expectResult(iq(alice, 'set', room, admin(item({ nick: 'Carol', role: 'participant' }))));
    expect(itemOf(await arrives)).to.deep.equal({
      affiliation: 'none',
      role: 'participant',
      jid: 'carol@localhost/r',
    });
  });

  it('keeps outsiders out of a members-only room; members come and go as admins say (321, 322)', async () => {
    const room = await roomWithBobAndCarol('members');
    // Turning members-only removes the non-members (322), and says so to the others.
    await expectResult(
      iq(alice, 'set', room, admin(item({ affiliation: 'member', jid: 'bob@localhost', nick: 'Bob' }))),
    );
    const removed = next(carol, (el) => el.name === 'presence' && el.attrs.from === `${room}/Carol`);
    const told = next(bob, (el) => el.name === 'presence' && el.attrs.from === `${room}/Carol`);
    await expectResult(
      iq(
        alice,
        'set',
        room,
        xml(
          'query',
          { xmlns: MUC_OWNER },
          submitForm('http://jabber.org/protocol/muc#roomconfig', { 'muc#roomconfig_membersonly': '1' }),
        ),
      ),
    );
    expect(statusCodes(await removed)).to.deep.equal([110, 322]);
    expect(statusCodes(await told)).to.deep.equal([322]);
    expect(errorCondition(await join(carol, `${room}/Carol`))).to.equal('registration-required');
    // The member list, with the reserved nickname.
    const members = (
      await expectResult(iq(alice, 'get', room, admin(item({ affiliation: 'member' }))))
    ).getChild('query', MUC_ADMIN)!;
    expect(members.getChildren('item').map((i) => i.attrs)).to.deep.equal([
      { affiliation: 'member', jid: 'bob@localhost', nick: 'Bob' },
    ]);
    // A reserved nickname is bob's alone.
    await expectResult(iq(alice, 'set', room, admin(item({ affiliation: 'member', jid: 'dave@localhost' }))));
    expect(errorCondition(await join(dave, `${room}/Bob`))).to.equal('conflict');
    // §9.4: losing membership of a members-only room means leaving it (321).
    const out = next(bob, (el) => el.name === 'presence' && el.attrs.from === `${room}/Bob`);
    await expectResult(iq(alice, 'set', room, admin(item({ affiliation: 'none', jid: 'bob@localhost' }))));
    const own = await out;
    expect(own.attrs.type).to.equal('unavailable');
    expect(statusCodes(own)).to.deep.equal([110, 321]);
  });

  it('grants and revokes admin and owner status as only owners may; the last owner stays', async () => {
    const room = await roomWithBobAndCarol('owners');
    const promoted = next(carol, (el) => el.name === 'presence' && el.attrs.from === `${room}/Bob`);
    await expectResult(iq(alice, 'set', room, admin(item({ affiliation: 'admin', jid: 'bob@localhost' }))));
    expect(itemOf(await promoted)).to.deep.equal({ affiliation: 'admin', role: 'moderator' });
    // An admin may not make owners or admins, nor touch the owner.
    await expectError(
      iq(bob, 'set', room, admin(item({ affiliation: 'owner', jid: 'carol@localhost' }))),
      'forbidden',
    );
    await expectError(
      iq(bob, 'set', room, admin(item({ affiliation: 'admin', jid: 'carol@localhost' }))),
      'forbidden',
    );
    await expectError(
      iq(bob, 'set', room, admin(item({ affiliation: 'none', jid: 'alice@localhost' }))),
      'not-allowed',
    );
    // The admin list is the owners' in a semi-anonymous room.
    await expectError(iq(bob, 'get', room, admin(item({ affiliation: 'admin' }))), 'forbidden');
    const admins = (
      await expectResult(iq(alice, 'get', room, admin(item({ affiliation: 'admin' }))))
    ).getChild('query', MUC_ADMIN)!;
    expect(admins.getChildren('item').map((i) => i.attrs)).to.deep.equal([
      { affiliation: 'admin', jid: 'bob@localhost' },
    ]);
    // §10.2: the only owner cannot step down; with a second owner it can.
    await expectError(
      iq(alice, 'set', room, admin(item({ affiliation: 'admin', jid: 'alice@localhost' }))),
      'conflict',
    );
    await expectResult(iq(alice, 'set', room, admin(item({ affiliation: 'owner', jid: 'carol@localhost' }))));
    const owners = (
      await expectResult(iq(carol, 'get', room, admin(item({ affiliation: 'owner' }))))
    ).getChild('query', MUC_ADMIN)!;
    expect(
      owners
        .getChildren('item')
        .map((i) => i.attrs.jid)
        .sort(),
    ).to.deep.equal(['alice@localhost', 'carol@localhost']);
    const demoted = next(bob, (el) => el.name === 'presence' && el.attrs.from === `${room}/Alice`);
    await expectResult(
      iq(alice, 'set', room, admin(item({ affiliation: 'member', jid: 'alice@localhost' }))),
    );
    // Bob moderates (as an admin): he sees her JID.
    expect(itemOf(await demoted)).to.deep.equal({
      affiliation: 'member',
      role: 'participant',
      jid: 'alice@localhost/r',
    });
    // Only owners configure.
    await expectError(iq(alice, 'get', room, xml('query', { xmlns: MUC_OWNER })), 'forbidden');
    await expectResult(iq(carol, 'get', room, xml('query', { xmlns: MUC_OWNER })));
  });

  it('registers a nickname with an open room (§7.10), and tells it through x-roomuser-item', async () => {
    const room = roomName('register');
    await createInstantRoom(alice, room, 'Alice');
    const form = (
      await expectResult(iq(dave, 'get', room, xml('query', { xmlns: 'jabber:iq:register' })))
    ).getChild('query', 'jabber:iq:register')!;
    expect(formValues(form.getChild('x', DATA))).to.have.property('muc#register_roomnick');
    await expectResult(
      iq(
        dave,
        'set',
        room,
        xml(
          'query',
          { xmlns: 'jabber:iq:register' },
          submitForm('http://jabber.org/protocol/muc#register', { 'muc#register_roomnick': 'Davey' }),
        ),
      ),
    );
    const registered = (
      await expectResult(iq(dave, 'get', room, xml('query', { xmlns: 'jabber:iq:register' })))
    ).getChild('query', 'jabber:iq:register')!;
    expect(registered.getChild('registered')).to.not.equal(undefined);
    expect(registered.getChildText('username')).to.equal('Davey');
    const nick = (
      await expectResult(iq(dave, 'get', room, xml('query', { xmlns: DISCO_INFO, node: 'x-roomuser-item' })))
    ).getChild('query', DISCO_INFO)!;
    expect(nick.getChild('identity')?.attrs).to.deep.equal({
      category: 'conference',
      type: 'text',
      name: 'Davey',
    });
    expect(errorCondition(await join(bob, `${room}/Davey`))).to.equal('conflict');
    expect(itemOf(await join(dave, `${room}/Davey`)).affiliation).to.equal('member');
  });

  it('destroys a room: everyone gets <destroy/> with the alternate venue and reason; only owners may', async () => {
    const room = await roomWithBobAndCarol('destroy');
    await expectError(
      iq(bob, 'set', room, xml('query', { xmlns: MUC_OWNER }, xml('destroy', {}))),
      'forbidden',
    );
    const gone = [bob, carol].map((c) =>
      next(c, (el) => el.name === 'presence' && el.attrs.type === 'unavailable'),
    );
    await expectResult(
      iq(
        alice,
        'set',
        room,
        xml(
          'query',
          { xmlns: MUC_OWNER },
          xml('destroy', { jid: 'coven@conference.localhost' }, xml('reason', {}, 'Macbeth doth come.')),
        ),
      ),
    );
    for (const presence of await Promise.all(gone)) {
      const destroy = presence.getChild('x', MUC_USER)!.getChild('destroy')!;
      expect(destroy.attrs.jid).to.equal('coven@conference.localhost');
      expect(destroy.getChildText('reason')).to.equal('Macbeth doth come.');
      expect(itemOf(presence).role).to.equal('none');
    }
    // The room is no more; a message to it says so.
    const refused = next(bob, (el) => el.name === 'message' && el.attrs.type === 'error');
    await bob.send(xml('message', { to: room, type: 'groupchat', id: nextId() }, xml('body', {}, 'hello?')));
    expect(errorCondition(await refused)).to.equal('item-not-found');
  });
});
