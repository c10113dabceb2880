// XEP-0313 room archives with XEP-0359 stanza ids, over real sockets with three and four
// @xmpp/client users: the stanza-id by the room on every occupant's copy (a forged one
// replaced), queries paged with RSM both ways and flipped, filtered by occupant, time and id,
// real JIDs only for those who may see them, members-only rooms read by members only, the
// feature advertised only where archiving is on, and history on entry coming back from the
// archive after a restart.

import { rmSync } from 'node:fs';
import { xml } from '@xmpp/client';
import { expect } from 'chai';
import type { TestClient } from '../helpers/client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import {
  addUsers,
  createReservedRoom,
  DELAY,
  DISCO_INFO,
  expectError,
  expectResult,
  finOf,
  forwardedOf,
  iq,
  join,
  login,
  MAM,
  MUC_ADMIN,
  MUC_USER,
  nextId,
  queryArchive,
  resultBodies,
  resultIds,
  roomName,
  SID,
  say,
  seen,
  stanzaIdBy,
  stopAll,
} from './muc-support.js';

describe('MUC: room archives (XEP-0313, XEP-0359)', () => {
  let ts: TestServer;
  let alice: TestClient;
  let bob: TestClient;
  let carol: TestClient;
  const clients: TestClient[] = [];
  const room = roomName('archived');
  /** The stanza-ids occupants saw, by body. */
  const ids = new Map<string, string>();

  before(async () => {
    ts = await startTestServer();
    await addUsers(ts);
    alice = await login(ts, 'alice');
    bob = await login(ts, 'bob');
    carol = await login(ts, 'carol');
    clients.push(alice, bob, carol);
    await createReservedRoom(alice, room, 'Alice', { 'muc#roomconfig_persistentroom': '1' });
    await join(bob, `${room}/Bob`);
    await join(carol, `${room}/Carol`);
    await seen(alice, `${room}/Carol`);
    const talk: Array<[TestClient, string]> = [
      [alice, 'one'],
      [bob, 'two'],
      [alice, 'three'],
      [bob, 'four'],
      [alice, 'five'],
    ];
    for (const [who, body] of talk) {
      const reflected = await say(who, room, body);
      ids.set(body, stanzaIdBy(reflected, room)!);
    }
  });
  after(async () => {
    await stopAll(clients);
    await ts.stop();
  });

  it('gives every occupant the same stanza-id by the room, and replaces one a client forged', async () => {
    const id = nextId('gc');
    const copies = [alice, bob, carol].map((c) =>
      c.waitFor((el) => el.name === 'message' && el.attrs.id === id),
    );
    await bob.send(
      xml(
        'message',
        { to: room, type: 'groupchat', id },
        xml('body', {}, 'six'),
        xml('stanza-id', { xmlns: SID, by: room, id: 'forged' }),
      ),
    );
    const got = await Promise.all(copies);
    const stanzaIds = got.map((m) => m.getChildren('stanza-id', SID).filter((s) => s.attrs.by === room));
    for (const list of stanzaIds) expect(list, got[0]!.toString()).to.have.length(1);
    const seenIds = stanzaIds.map((list) => list[0]!.attrs.id);
    expect(seenIds[0]).to.not.equal('forged');
    expect(seenIds).to.deep.equal([seenIds[0], seenIds[0], seenIds[0]]);
    ids.set('six', seenIds[0]!);
    expect(new Set(ids.values()).size).to.equal(6);
  });

  it('advertises urn:xmpp:mam:2 on the room', async () => {
    const info = (await expectResult(iq(carol, 'get', room, xml('query', { xmlns: DISCO_INFO })))).getChild(
      'query',
      DISCO_INFO,
    )!;
    expect(info.getChildren('feature').map((f) => f.attrs.var)).to.include.members([MAM, SID]);
  });

  it('pages through the archive with RSM, both ways and flipped', async () => {
    const first = await queryArchive(carol, room, { rsm: { max: 2 } });
    expect(resultBodies(first)).to.deep.equal(['one', 'two']);
    expect(resultIds(first)).to.deep.equal([ids.get('one'), ids.get('two')]);
    expect(finOf(first)).to.deep.equal({
      complete: undefined,
      first: ids.get('one'),
      index: '0',
      last: ids.get('two'),
      count: '6',
    });
    // §4.2: from the room, the message as occupants got it, with the archive time.
    const result = first.results[0]!;
    expect(result.attrs.from).to.equal(room);
    const message = forwardedOf(result);
    // In the client namespace, not <forwarded/>'s.
    expect(message.attrs).to.include({ from: `${room}/Alice`, type: 'groupchat', xmlns: 'jabber:client' });
    expect(
      result.getChild('result', MAM)!.getChild('forwarded')!.getChild('delay', DELAY)?.attrs.stamp,
    ).to.match(/^\d{4}-\d\d-\d\dT/);
    // A client's muc#user <x/> is not archived, and the room hides real JIDs from a participant.
    expect(message.getChild('x', MUC_USER)).to.equal(undefined);

    const second = await queryArchive(carol, room, { rsm: { max: 2, after: ids.get('two') } });
    expect(resultBodies(second)).to.deep.equal(['three', 'four']);
    expect(finOf(second)).to.include({ index: '2', count: '6', complete: undefined });
    const third = await queryArchive(carol, room, { rsm: { max: 2, after: ids.get('four') } });
    expect(resultBodies(third)).to.deep.equal(['five', 'six']);
    expect(finOf(third).complete).to.equal('true');

    const last = await queryArchive(carol, room, { rsm: { max: 4, before: '' } });
    expect(resultBodies(last)).to.deep.equal(['three', 'four', 'five', 'six']);
    expect(finOf(last)).to.include({ index: '2', complete: undefined });
    const earlier = await queryArchive(carol, room, { rsm: { max: 4, before: ids.get('three') } });
    expect(resultBodies(earlier)).to.deep.equal(['one', 'two']);
    expect(finOf(earlier).complete).to.equal('true');

    const flipped = await queryArchive(carol, room, { rsm: { max: 2, before: '' }, flip: true });
    expect(resultBodies(flipped)).to.deep.equal(['six', 'five']);
  });

  it('filters by occupant, by time and by id; an unknown id is item-not-found', async () => {
    const bobs = await queryArchive(carol, room, { fields: { with: `${room}/Bob` } });
    expect(resultBodies(bobs)).to.deep.equal(['two', 'four', 'six']);
    expect(finOf(bobs).count).to.equal('3');
    const after = await queryArchive(carol, room, { fields: { 'after-id': ids.get('four')! } });
    expect(resultBodies(after)).to.deep.equal(['five', 'six']);
    const between = await queryArchive(carol, room, {
      fields: { 'after-id': ids.get('one')!, 'before-id': ids.get('four')! },
    });
    expect(resultBodies(between)).to.deep.equal(['two', 'three']);
    const picked = await queryArchive(carol, room, { fields: { ids: [ids.get('five')!, ids.get('two')!] } });
    expect(resultBodies(picked)).to.deep.equal(['two', 'five']);
    const future = await queryArchive(carol, room, { fields: { start: '2999-01-01T00:00:00Z' } });
    expect(resultBodies(future)).to.deep.equal([]);
    expect(finOf(future)).to.deep.equal({
      complete: 'true',
      first: undefined,
      index: undefined,
      last: undefined,
      count: '0',
    });
    const unknown = await queryArchive(carol, room, { rsm: { after: 'AAAAAAAAAAAAAAAAAAAAAA' } });
    await expectError(unknown.iq, 'item-not-found');
  });

  it('shows real JIDs only to those who may see them (semi-anonymous room)', async () => {
    // Alice owns the room: a moderator, she sees who said what.
    const forAlice = await queryArchive(alice, room, { fields: { with: 'bob@localhost' } });
    expect(resultBodies(forAlice)).to.deep.equal(['two', 'four', 'six']);
    const item = forwardedOf(forAlice.results[0]!).getChild('x', MUC_USER)?.getChild('item');
    expect(item?.attrs).to.deep.equal({ jid: 'bob@localhost/r' });
    // Carol is a participant: no real JIDs, and no filtering by them.
    const forCarol = await queryArchive(carol, room);
    expect(forCarol.results.map((r) => forwardedOf(r).getChild('x', MUC_USER))).to.deep.equal(
      forCarol.results.map(() => undefined),
    );
    await expectError(
      (await queryArchive(carol, room, { fields: { with: 'bob@localhost' } })).iq,
      'forbidden',
    );
  });

  it('lets only members read the archive of a members-only room', async () => {
    const club = roomName('club');
    await createReservedRoom(alice, club, 'Alice', { 'muc#roomconfig_membersonly': '1' });
    await say(alice, club, 'members only');
    const dave = await login(ts, 'dave');
    clients.push(dave);
    await expectError((await queryArchive(dave, club)).iq, 'forbidden');
    await expectResult(
      iq(
        alice,
        'set',
        club,
        xml('query', { xmlns: MUC_ADMIN }, xml('item', { affiliation: 'member', jid: 'dave@localhost' })),
      ),
    );
    expect(resultBodies(await queryArchive(dave, club))).to.deep.equal(['members only']);
  });

  it('keeps nothing, and says so, when archiving is off', async () => {
    const quiet = roomName('quiet');
    await createReservedRoom(alice, quiet, 'Alice', { 'muc#roomconfig_enablearchiving': '0' });
    const reflected = await say(alice, quiet, 'off the record');
    expect(stanzaIdBy(reflected, quiet)).to.equal(undefined);
    const info = (await expectResult(iq(alice, 'get', quiet, xml('query', { xmlns: DISCO_INFO })))).getChild(
      'query',
      DISCO_INFO,
    )!;
    expect(info.getChildren('feature').map((f) => f.attrs.var)).to.not.include(MAM);
    await expectError((await queryArchive(alice, quiet)).iq, 'service-unavailable');
  });
});

describe('MUC: history on entry comes from the archive after a restart', () => {
  let ts: TestServer;
  const clients: TestClient[] = [];
  const room = roomName('remembered');
  const temporary = roomName('fleeting');
  const sent = new Map<string, string>();

  before(async () => {
    ts = await startTestServer();
    await addUsers(ts);
    const alice = await login(ts, 'alice');
    clients.push(alice);
    await createReservedRoom(alice, room, 'Alice', { 'muc#roomconfig_persistentroom': '1' });
    for (const body of ['first', 'second', 'third'])
      sent.set(body, stanzaIdBy(await say(alice, room, body), room)!);
    // A temporary room still open when the server stops.
    await createReservedRoom(alice, temporary, 'Alice', {});
    await say(alice, temporary, 'not for the next room of this name');
    await stopAll(clients);
    await ts.server.stop();
    ts = await startTestServer({ dir: ts.dir });
  });
  afterEach(() => stopAll(clients));
  after(async () => {
    await ts.stop();
    rmSync(ts.dir, { recursive: true, force: true });
  });

  /** Enters the room and collects the history it sends before the subject. */
  async function enter(who: 'bob' | 'carol', history?: Record<string, string>) {
    const client = await login(ts, who);
    clients.push(client);
    const nick = who === 'bob' ? 'Bob' : 'Carol';
    const since = client.received.length;
    await join(client, `${room}/${nick}`, { history });
    const subject = await client.waitFor(
      (el) =>
        client.received.indexOf(el) >= since && el.name === 'message' && el.getChild('subject') !== undefined,
    );
    return client.received
      .slice(since, client.received.indexOf(subject))
      .filter((el) => el.name === 'message' && el.attrs.type === 'groupchat');
  }

  it('sends the archived messages with their delay and stanza-id', async () => {
    const history = await enter('bob');
    expect(history.map((m) => m.getChildText('body'))).to.deep.equal(['first', 'second', 'third']);
    for (const message of history) {
      expect(message.attrs.from).to.equal(`${room}/Alice`);
      // Not pinned to jabber:client: it takes the namespace of the stream (jabber:server on s2s).
      expect(message.attrs.xmlns).to.equal(undefined);
      expect(message.getChild('delay', DELAY)?.attrs.from).to.equal(room);
      expect(stanzaIdBy(message, room)).to.equal(sent.get(message.getChildText('body')!));
    }
  });

  it("does not give a temporary room's archive to a new room of the same name", async () => {
    const alice = await login(ts, 'alice');
    clients.push(alice);
    await createReservedRoom(alice, temporary, 'Alice', {});
    const answer = await queryArchive(alice, temporary);
    expect(resultBodies(answer)).to.deep.equal([]);
    expect(finOf(answer).count).to.equal('0');
  });

  it('still honours maxstanzas', async () => {
    const history = await enter('carol', { maxstanzas: '2' });
    expect(history.map((m) => m.getChildText('body'))).to.deep.equal(['second', 'third']);
  });
});
