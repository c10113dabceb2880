// XEP-0045 messages end to end: groupchat to every occupant from the sender's occupant JID with
// its id kept (§7.4), the subject (§8.1) and its place after the history on entry (§7.2.15),
// the history limits (§7.2.13: maxstanzas, maxchars, seconds, since, with XEP-0203 delay),
// private messages (§7.5, muc#roomconfig_allowpm), mediated invitations and declines (§7.8.2)
// and direct invitations (XEP-0249) passing untouched — alice, bob and carol on real sockets.

import { type XmlElement, xml } from '@xmpp/client';
import { expect } from 'chai';
import type { TestClient } from '../helpers/client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import {
  addUsers,
  createInstantRoom,
  createReservedRoom,
  DELAY,
  errorCondition,
  expectResult,
  iq,
  join,
  login,
  MUC_ADMIN,
  MUC_USER,
  next,
  nextId,
  roomName,
  say,
  seen,
  statusCodes,
  stopAll,
} from './muc-support.js';

/**
 * The canonical text of an element: attributes sorted, the client namespace left implicit, and
 * without the XEP-0359 stanza-ids archives add and the XEP-0421 occupant-id of the room
 * (muc-archive.test.ts and muc-modern.test.ts assert those).
 */
function canon(el: XmlElement | string): string {
  if (typeof el === 'string') return el;
  if (el.name === 'stanza-id' && el.attrs.xmlns === 'urn:xmpp:sid:0') return '';
  if (el.name === 'occupant-id' && el.attrs.xmlns === 'urn:xmpp:occupant-id:0') return '';
  const attrs = Object.keys(el.attrs)
    .filter((k) => !(k === 'xmlns' && el.attrs[k] === 'jabber:client'))
    .sort()
    .map((k) => ` ${k}="${el.attrs[k]}"`)
    .join('');
  return `<${el.name}${attrs}>${el.children.map((c) => canon(c as XmlElement | string)).join('')}</${el.name}>`;
}

describe('MUC: messages (XEP-0045 §7.4, §7.5, §7.8, §8.1)', () => {
  let ts: TestServer;
  let alice: TestClient;
  let bob: TestClient;
  let carol: TestClient;

  before(async () => {
    ts = await startTestServer();
    await addUsers(ts);
    alice = await login(ts, 'alice');
    bob = await login(ts, 'bob');
    carol = await login(ts, 'carol');
  });
  after(async () => {
    await stopAll([alice, bob, carol]);
    await ts.stop();
  });

  it('reflects a groupchat message to every occupant, the sender included, from its occupant JID with its id', async () => {
    const room = roomName('broadcast');
    await createInstantRoom(alice, room, 'Alice');
    await join(bob, `${room}/Bob`);
    await join(carol, `${room}/Carol`);
    const got = [alice, bob, carol].map((c) =>
      c.waitFor((el) => el.name === 'message' && el.attrs.id === 'hysf1v37'),
    );
    await bob.send(
      xml(
        'message',
        { to: room, type: 'groupchat', id: 'hysf1v37' },
        xml('body', {}, "Harpier cries: 'tis time, 'tis time."),
        xml('active', { xmlns: 'http://jabber.org/protocol/chatstates' }),
      ),
    );
    const [toAlice, toBob, toCarol] = await Promise.all(got);
    for (const [message, to] of [
      [toAlice!, 'alice@localhost/r'],
      [toBob!, 'bob@localhost/r'],
      [toCarol!, 'carol@localhost/r'],
    ] as const) {
      expect(canon(message)).to.equal(
        canon(
          xml(
            'message',
            { from: `${room}/Bob`, to, type: 'groupchat', id: 'hysf1v37' },
            xml('body', {}, "Harpier cries: 'tis time, 'tis time."),
            xml('active', { xmlns: 'http://jabber.org/protocol/chatstates' }),
          ),
        ),
      );
    }
  });

  it('refuses groupchat from someone not in the room (not-acceptable)', async () => {
    const room = roomName('outsider');
    await createInstantRoom(alice, room, 'Alice');
    const refused = next(carol, (el) => el.name === 'message' && el.attrs.type === 'error');
    await carol.send(
      xml('message', { to: room, type: 'groupchat', id: 'out' }, xml('body', {}, 'let me in')),
    );
    const error = await refused;
    expect(error.attrs.from).to.equal(room);
    expect(errorCondition(error)).to.equal('not-acceptable');
  });

  it('sets the subject (moderators by default), and gives it to newcomers after the history', async () => {
    const room = roomName('subject');
    await createInstantRoom(alice, room, 'Alice');
    await join(bob, `${room}/Bob`);
    // A participant may not change it unless muc#roomconfig_changesubject allows.
    const refused = next(bob, (el) => el.name === 'message' && el.attrs.type === 'error');
    await bob.send(xml('message', { to: room, type: 'groupchat', id: 's1' }, xml('subject', {}, 'Mine')));
    expect(errorCondition(await refused)).to.equal('forbidden');
    const bobSees = next(bob, (el) => el.name === 'message' && el.getChild('subject') !== undefined);
    await alice.send(
      xml(
        'message',
        { to: room, type: 'groupchat', id: 's2' },
        xml('subject', {}, 'Fire Burn and Cauldron Bubble!'),
      ),
    );
    const change = await bobSees;
    expect(change.attrs.from).to.equal(`${room}/Alice`);
    expect(change.getChildText('subject')).to.equal('Fire Burn and Cauldron Bubble!');
    await say(alice, room, 'first');
    await say(bob, room, 'second');
    const since = carol.received.length;
    const subject = next(carol, (el) => el.name === 'message' && el.getChild('subject') !== undefined);
    await join(carol, `${room}/Carol`);
    const delivered = await subject;
    const messages = carol.received.slice(since).filter((el) => el.name === 'message');
    expect(
      messages.map((m) => m.getChildText('body') ?? `subject: ${m.getChildText('subject')}`),
    ).to.deep.equal(['first', 'second', 'subject: Fire Burn and Cauldron Bubble!']);
    expect(delivered.attrs.from).to.equal(`${room}/Alice`);
    expect(delivered.getChild('delay', DELAY)?.attrs.from).to.equal(room);
    // A message with a subject and a body is an ordinary message (§8.1).
    const plain = await say(alice, room, 'not a subject');
    expect(plain.getChildText('body')).to.equal('not a subject');
  });

  it('stamps history with XEP-0203 delay from the room, and honours maxstanzas, maxchars, seconds and since', async () => {
    const room = roomName('history');
    await createInstantRoom(alice, room, 'Alice');
    for (const body of ['one', 'two', 'three', 'four']) await say(alice, room, body);
    const historyOf = async (client: TestClient, nick: string, history?: Record<string, string>) => {
      const since = client.received.length;
      const done = next(client, (el) => el.name === 'message' && el.getChild('subject') !== undefined);
      await join(client, `${room}/${nick}`, history === undefined ? {} : { history });
      await done;
      const bodies = client.received
        .slice(since)
        .filter((el) => el.name === 'message' && el.getChild('body'));
      await client.send(xml('presence', { to: `${room}/${nick}`, type: 'unavailable' }));
      await next(client, (el) => el.name === 'presence' && el.attrs.type === 'unavailable');
      return bodies;
    };
    const all = await historyOf(bob, 'Bob');
    expect(all.map((m) => m.getChildText('body'))).to.deep.equal(['one', 'two', 'three', 'four']);
    const delay = all[0]!.getChild('delay', DELAY)!;
    expect(delay.attrs.from).to.equal(room);
    expect(Date.now() - Date.parse(delay.attrs.stamp!)).to.be.within(0, 60_000);
    expect(all[0]!.attrs.from).to.equal(`${room}/Alice`);
    expect(all[0]!.attrs.to).to.equal('bob@localhost/r');

    expect(
      (await historyOf(bob, 'Bob', { maxstanzas: '2' })).map((m) => m.getChildText('body')),
    ).to.deep.equal(['three', 'four']);
    expect(await historyOf(bob, 'Bob', { maxchars: '0' })).to.deep.equal([]);
    // maxchars counts whole stanzas as sent: one stanza's length lets exactly the last one through.
    const lastLength = all[3]!.toString().length;
    expect(
      (await historyOf(bob, 'Bob', { maxchars: String(lastLength + 5) })).map((m) => m.getChildText('body')),
    ).to.deep.equal(['four']);
    expect((await historyOf(bob, 'Bob', { seconds: '3600' })).length).to.equal(4);
    const future = new Date(Date.now() + 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
    expect(await historyOf(bob, 'Bob', { since: future })).to.deep.equal([]);
    expect((await historyOf(bob, 'Bob', { since: '1970-01-01T00:00:00Z' })).length).to.equal(4);
  });

  it('keeps only muc#maxhistoryfetch messages of history', async () => {
    const room = roomName('short-history');
    await createReservedRoom(alice, room, 'Alice', { 'muc#maxhistoryfetch': '2' });
    for (const body of ['a', 'b', 'c']) await say(alice, room, body);
    const since = bob.received.length;
    const done = next(bob, (el) => el.name === 'message' && el.getChild('subject') !== undefined);
    await join(bob, `${room}/Bob`);
    await done;
    const bodies = bob.received.slice(since).filter((el) => el.name === 'message' && el.getChild('body'));
    expect(bodies.map((m) => m.getChildText('body'))).to.deep.equal(['b', 'c']);
  });

  it('delivers private messages between occupants with the muc#user marker, and refuses what §7.5 refuses', async () => {
    const room = roomName('pm');
    await createInstantRoom(alice, room, 'Alice');
    await join(bob, `${room}/Bob`);
    await join(carol, `${room}/Carol`);
    const got = next(carol, (el) => el.name === 'message' && el.attrs.id === 'pm1');
    await bob.send(
      xml(
        'message',
        { to: `${room}/Carol`, type: 'chat', id: 'pm1' },
        xml('body', {}, "I'll give thee a wind."),
      ),
    );
    expect(canon(await got)).to.equal(
      canon(
        xml(
          'message',
          { from: `${room}/Bob`, to: 'carol@localhost/r', type: 'chat', id: 'pm1' },
          xml('body', {}, "I'll give thee a wind."),
          xml('x', { xmlns: MUC_USER }),
        ),
      ),
    );
    const errors = async (client: TestClient, to: string, type: string) => {
      const id = nextId('pm');
      const error = next(
        client,
        (el) => el.name === 'message' && el.attrs.id === id && el.attrs.type === 'error',
      );
      await client.send(xml('message', { to, type, id }, xml('body', {}, 'hello')));
      return errorCondition(await error);
    };
    expect(await errors(bob, `${room}/Carol`, 'groupchat')).to.equal('bad-request');
    expect(await errors(bob, `${room}/Nobody`, 'chat')).to.equal('item-not-found');
    const dave = await login(ts, 'dave');
    try {
      expect(await errors(dave, `${room}/Carol`, 'chat')).to.equal('not-acceptable');
    } finally {
      await dave.stop();
    }
    // muc#roomconfig_allowpm: moderators only.
    await expectResult(
      iq(
        alice,
        'set',
        room,
        xml(
          'query',
          { xmlns: 'http://jabber.org/protocol/muc#owner' },
          xml(
            'x',
            { xmlns: 'jabber:x:data', type: 'submit' },
            xml('field', { var: 'muc#roomconfig_allowpm' }, xml('value', {}, 'moderators')),
          ),
        ),
      ),
    );
    expect(await errors(bob, `${room}/Carol`, 'chat')).to.equal('forbidden');
    const fromModerator = next(carol, (el) => el.name === 'message' && el.attrs.id === 'pm2');
    await alice.send(
      xml('message', { to: `${room}/Carol`, type: 'chat', id: 'pm2' }, xml('body', {}, 'a word')),
    );
    expect((await fromModerator).attrs.from).to.equal(`${room}/Alice`);
  });

  it('sends mediated invitations from the room (with the password), and passes declines back', async () => {
    const room = roomName('invite');
    await createReservedRoom(alice, room, 'Alice', {
      'muc#roomconfig_roomsecret': 'cauldronburn',
      'muc#roomconfig_allowinvites': '1',
    });
    const invitation = next(carol, (el) => el.name === 'message' && el.attrs.from === room);
    await alice.send(
      xml(
        'message',
        { to: room, id: 'nzd143v8' },
        xml(
          'x',
          { xmlns: MUC_USER },
          xml('invite', { to: 'carol@localhost' }, xml('reason', {}, 'Hey Carol, this is the place!')),
        ),
      ),
    );
    const got = await invitation;
    expect(got.attrs.id).to.equal('nzd143v8');
    expect(got.attrs.to).to.equal('carol@localhost');
    const x = got.getChild('x', MUC_USER)!;
    expect(x.getChild('invite')?.attrs.from).to.equal('alice@localhost');
    expect(x.getChild('invite')?.getChildText('reason')).to.equal('Hey Carol, this is the place!');
    expect(x.getChildText('password')).to.equal('cauldronburn');
    // An account this server does not have.
    const unknown = next(alice, (el) => el.name === 'message' && el.attrs.type === 'error');
    await alice.send(
      xml('message', { to: room }, xml('x', { xmlns: MUC_USER }, xml('invite', { to: 'nobody@localhost' }))),
    );
    expect(errorCondition(await unknown)).to.equal('item-not-found');
    const declined = next(
      alice,
      (el) =>
        el.name === 'message' &&
        el.attrs.from === room &&
        el.getChild('x', MUC_USER)?.getChild('decline') !== undefined,
    );
    await carol.send(
      xml(
        'message',
        { to: room, id: 'jk2vs61v' },
        xml(
          'x',
          { xmlns: MUC_USER },
          xml('decline', { to: 'alice@localhost/r' }, xml('reason', {}, 'Too busy.')),
        ),
      ),
    );
    const decline = (await declined).getChild('x', MUC_USER)!.getChild('decline')!;
    expect(decline.attrs.from).to.equal('carol@localhost');
    expect(decline.getChildText('reason')).to.equal('Too busy.');
  });

  it('lets only moderators invite when muc#roomconfig_allowinvites is off; in a members-only room an invitation makes a member', async () => {
    const room = roomName('members-invite');
    await createReservedRoom(alice, room, 'Alice', { 'muc#roomconfig_membersonly': '1' });
    // bob is made a member, enters, and may not invite (only admins may add members).
    await expectResult(
      iq(
        alice,
        'set',
        room,
        xml('query', { xmlns: MUC_ADMIN }, xml('item', { affiliation: 'member', jid: 'bob@localhost' })),
      ),
    );
    await join(bob, `${room}/Bob`);
    const refused = next(bob, (el) => el.name === 'message' && el.attrs.type === 'error');
    await bob.send(
      xml('message', { to: room }, xml('x', { xmlns: MUC_USER }, xml('invite', { to: 'carol@localhost' }))),
    );
    expect(errorCondition(await refused)).to.equal('forbidden');
    expect(errorCondition(await join(carol, `${room}/Carol`))).to.equal('registration-required');
    // The owner's invitation puts carol on the member list: she may enter.
    const invitation = next(carol, (el) => el.name === 'message' && el.attrs.from === room);
    await alice.send(
      xml('message', { to: room }, xml('x', { xmlns: MUC_USER }, xml('invite', { to: 'carol@localhost' }))),
    );
    await invitation;
    expect(statusCodes(await join(carol, `${room}/Carol`))).to.deep.equal([110]);
  });

  it('leaves direct invitations (XEP-0249) alone: they go from user to user', async () => {
    const room = roomName('direct');
    await createInstantRoom(alice, room, 'Alice');
    const got = next(carol, (el) => el.name === 'message' && el.attrs.id === 'direct1');
    await alice.send(
      xml(
        'message',
        { to: 'carol@localhost', id: 'direct1' },
        xml('x', { xmlns: 'jabber:x:conference', jid: room, password: 'pw', reason: 'Join us' }),
      ),
    );
    expect(canon(await got)).to.equal(
      canon(
        xml(
          'message',
          { from: 'alice@localhost/r', to: 'carol@localhost', id: 'direct1' },
          xml('x', { xmlns: 'jabber:x:conference', jid: room, password: 'pw', reason: 'Join us' }),
        ),
      ),
    );
  });

  it('passes an iq to an occupant through the room without revealing real JIDs', async () => {
    const room = roomName('iq');
    await createInstantRoom(alice, room, 'Alice');
    await join(bob, `${room}/Bob`);
    await seen(alice, `${room}/Bob`);
    // @xmpp/client answers disco#info itself; the answer comes back from bob's occupant JID.
    const reply = await iq(
      alice,
      'get',
      `${room}/Bob`,
      xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }),
    );
    expect(reply.attrs.from).to.equal(`${room}/Bob`);
    const asked = bob.received.find((el) => el.name === 'iq' && el.attrs.type === 'get');
    expect(asked?.attrs.from).to.equal(`${room}/Alice`);
  });
});
