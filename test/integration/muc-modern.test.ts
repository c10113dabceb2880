// Modern group chat over real sockets with three @xmpp/client users: XEP-0421 occupant ids
// (on presence, messages, history and archive results; stable across rejoins and nicknames,
// different between users, a client's own replaced), XEP-0410 self-pings answered by the room,
// and XEP-0425 moderation (the retraction told to every occupant in both versions, the
// archive and the history holding a tombstone, non-moderators and unknown ids refused).

import { type XmlElement, xml } from '@xmpp/client';
import { expect } from 'chai';
import type { TestClient } from '../helpers/client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import {
  addUsers,
  createReservedRoom,
  DATA,
  DISCO_INFO,
  DISCO_ITEMS,
  expectError,
  expectResult,
  formValues,
  forwardedOf,
  iq,
  join,
  login,
  next,
  OCCUPANT_ID,
  queryArchive,
  roomName,
  SERVICE,
  say,
  seen,
  stanzaIdBy,
  statusCodes,
  stopAll,
  submitForm,
} from './muc-support.js';

const MODERATE = 'urn:xmpp:message-moderate:1';
const RETRACT = 'urn:xmpp:message-retract:1';
const MODERATE_0 = 'urn:xmpp:message-moderate:0';
const RETRACT_0 = 'urn:xmpp:message-retract:0';
const FASTEN = 'urn:xmpp:fasten:0';
const PING = 'urn:xmpp:ping';

/** The occupant ids of a stanza (there must be exactly one). */
function occupantIds(stanza: XmlElement): string[] {
  return stanza.getChildren('occupant-id', OCCUPANT_ID).map((o) => o.attrs.id!);
}

function occupantId(stanza: XmlElement): string {
  const ids = occupantIds(stanza);
  expect(ids, stanza.toString()).to.have.length(1);
  return ids[0]!;
}

async function features(client: TestClient, jid: string): Promise<string[]> {
  const reply = await expectResult(iq(client, 'get', jid, xml('query', { xmlns: DISCO_INFO })));
  return reply
    .getChild('query', DISCO_INFO)!
    .getChildren('feature')
    .map((f) => f.attrs.var!);
}

describe('MUC: occupant ids (XEP-0421)', () => {
  let ts: TestServer;
  let alice: TestClient;
  let bob: TestClient;
  let carol: TestClient;
  const clients: TestClient[] = [];
  const room = roomName('ids');

  before(async () => {
    ts = await startTestServer({ c2s: 'resumption_timeout = 0' });
    await addUsers(ts);
    alice = await login(ts, 'alice');
    bob = await login(ts, 'bob');
    carol = await login(ts, 'carol');
    clients.push(alice, bob, carol);
    await createReservedRoom(alice, room, 'Alice', {});
  });
  after(async () => {
    await stopAll(clients);
    await ts.stop();
  });

  it('is advertised by the service and by every room', async () => {
    expect(await features(alice, SERVICE)).to.include(OCCUPANT_ID);
    expect(await features(alice, room)).to.include(OCCUPANT_ID);
  });

  it('marks presence and messages with one id per user, the same for everyone, a forged one replaced', async () => {
    const bobSeen = seen(alice, `${room}/Bob`);
    const self = await join(bob, `${room}/Bob`, {});
    const bobId = occupantId(self);
    expect(occupantId(await bobSeen)).to.equal(bobId);

    const carolSeen = seen(bob, `${room}/Carol`);
    // Carol's client tries to pass as Bob.
    await carol.send(
      xml(
        'presence',
        { to: `${room}/Carol` },
        xml('x', { xmlns: 'http://jabber.org/protocol/muc' }),
        xml('occupant-id', { xmlns: OCCUPANT_ID, id: bobId }),
      ),
    );
    const carolId = occupantId(await carolSeen);
    expect(carolId).to.not.equal(bobId);

    const id = 'forged-gc';
    const copies = [alice, bob, carol].map((c) =>
      c.waitFor((el) => el.name === 'message' && el.attrs.id === id),
    );
    await carol.send(
      xml(
        'message',
        { to: room, type: 'groupchat', id },
        xml('body', {}, 'I am Bob'),
        xml('occupant-id', { xmlns: OCCUPANT_ID, id: bobId }),
      ),
    );
    for (const copy of await Promise.all(copies)) expect(occupantIds(copy)).to.deep.equal([carolId]);
    // The id is the user's, not the nickname's or the room's: Alice has her own.
    const aliceId = occupantId(await say(alice, room, 'hello'));
    expect(new Set([aliceId, bobId, carolId]).size).to.equal(3);
  });

  it('stays the same when a user leaves and comes back under another nickname', async () => {
    const before = occupantId(await say(bob, room, 'before'));
    await bob.send(xml('presence', { to: `${room}/Bob`, type: 'unavailable' }));
    await bob.waitFor(
      (el) => el.name === 'presence' && el.attrs.type === 'unavailable' && el.attrs.from === `${room}/Bob`,
    );
    const self = await join(bob, `${room}/Robert`);
    expect(occupantId(self)).to.equal(before);
    expect(occupantId(await say(bob, room, 'after'))).to.equal(before);
  });

  it('is kept in the archive', async () => {
    const aliceId = occupantId(await say(alice, room, 'archived with my id'));
    const answer = await queryArchive(carol, room, { rsm: { max: 1, before: '' } });
    expect(occupantIds(forwardedOf(answer.results[0]!))).to.deep.equal([aliceId]);
  });
});

describe('MUC: self-ping (XEP-0410)', () => {
  let ts: TestServer;
  const clients: TestClient[] = [];
  const room = roomName('ping');

  before(async () => {
    ts = await startTestServer();
    await addUsers(ts);
  });
  after(async () => {
    await stopAll(clients);
    await ts.stop();
  });

  it('answers a joined occupant itself, and tells one who is not joined', async () => {
    const alice = await login(ts, 'alice');
    const bob = await login(ts, 'bob', 'phone');
    clients.push(alice, bob);
    await createReservedRoom(alice, room, 'Alice', {});
    expect(await features(alice, room)).to.include('http://jabber.org/protocol/muc#self-ping-optimization');
    await join(bob, `${room}/Bob`);
    // Bob's second client would be asked if the room passed the ping on; it must not be.
    const other = await login(ts, 'bob', 'desktop');
    clients.push(other);
    await join(other, `${room}/Bob`);
    let relayed = false;
    other.on('stanza', (el) => {
      if (el.name === 'iq' && el.getChild('ping', PING)) relayed = true;
    });
    const reply = await expectResult(iq(bob, 'get', `${room}/Bob`, xml('ping', { xmlns: PING })));
    expect(reply.attrs.from).to.equal(`${room}/Bob`);
    expect(reply.children).to.deep.equal([]);
    expect(relayed).to.equal(false);

    const carol = await login(ts, 'carol');
    clients.push(carol);
    const refused = await expectError(
      iq(carol, 'get', `${room}/Carol`, xml('ping', { xmlns: PING })),
      'not-acceptable',
    );
    expect(refused.attrs.from).to.equal(`${room}/Carol`);
    // Not joined under the nickname pinged either: still not-acceptable.
    await expectError(iq(carol, 'get', `${room}/Bob`, xml('ping', { xmlns: PING })), 'not-acceptable');
  });
});

describe('MUC: moderation (XEP-0425 with XEP-0424)', () => {
  let ts: TestServer;
  let alice: TestClient;
  let bob: TestClient;
  let carol: TestClient;
  const clients: TestClient[] = [];
  const room = roomName('moderated');

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
  });
  after(async () => {
    await stopAll(clients);
    await ts.stop();
  });

  const moderate = (id: string, reason?: string) =>
    xml(
      'moderate',
      { xmlns: MODERATE, id },
      xml('retract', { xmlns: RETRACT }),
      ...(reason === undefined ? [] : [xml('reason', {}, reason)]),
    );

  it('is advertised on the room', async () => {
    expect(await features(carol, room)).to.include.members([
      MODERATE,
      MODERATE_0,
      RETRACT,
      `${RETRACT}#tombstone`,
    ]);
  });

  it('tells every occupant, and leaves a tombstone in the archive and the history', async () => {
    const spam = await say(bob, room, 'DM me for free magic potions!');
    const id = stanzaIdBy(spam, room)!;
    const bobId = occupantId(spam);
    const aliceId = occupantId(await say(alice, room, 'Moderating'));
    const told = [alice, bob, carol].map((c) =>
      next(c, (el) => el.name === 'message' && el.getChild('retract', RETRACT) !== undefined),
    );
    await expectResult(iq(alice, 'set', room, moderate(id, 'Spam')));
    for (const message of await Promise.all(told)) {
      expect(message.attrs).to.include({ from: room, type: 'groupchat' });
      const retract = message.getChild('retract', RETRACT)!;
      expect(retract.attrs.id).to.equal(id);
      const moderated = retract.getChild('moderated', MODERATE)!;
      expect(moderated.attrs.by).to.equal(`${room}/Alice`);
      expect(occupantIds(moderated)).to.deep.equal([aliceId]);
      expect(retract.getChildText('reason')).to.equal('Spam');
      // COMPAT: the first version too, for clients that know only it.
      const applyTo = message.getChild('apply-to', FASTEN)!;
      expect(applyTo.attrs.id).to.equal(id);
      const old = applyTo.getChild('moderated', MODERATE_0)!;
      expect(old.attrs.by).to.equal(`${room}/Alice`);
      expect(old.getChild('retract', RETRACT_0)).to.not.equal(undefined);
    }

    const archived = await queryArchive(carol, room, { fields: { ids: [id] } });
    expect(archived.results).to.have.length(1);
    const stone = forwardedOf(archived.results[0]!);
    expect(stone.attrs).to.include({ from: `${room}/Bob`, type: 'groupchat' });
    expect(stone.getChild('body')).to.equal(undefined);
    expect(occupantIds(stone)).to.deep.equal([bobId]);
    const retracted = stone.getChild('retracted', RETRACT)!;
    expect(retracted.attrs.stamp).to.match(/^\d{4}-\d\d-\d\dT/);
    expect(retracted.getChild('moderated', MODERATE)?.attrs.by).to.equal(`${room}/Alice`);
    expect(retracted.getChildText('reason')).to.equal('Spam');

    // A newcomer's history holds the tombstone, not the message.
    const dave = await login(ts, 'dave');
    clients.push(dave);
    const since = dave.received.length;
    await join(dave, `${room}/Dave`);
    await dave.waitFor((el) => el.name === 'message' && el.getChild('subject') !== undefined);
    const history = dave.received
      .slice(since)
      .filter((el) => el.name === 'message' && el.attrs.from === `${room}/Bob`);
    expect(history.map((m) => m.getChild('body')?.getText() ?? 'retracted')).to.deep.equal(['retracted']);
    expect(history[0]!.getChild('retracted', RETRACT)).to.not.equal(undefined);
    expect(history[0]!.attrs.xmlns).to.equal(undefined);
  });

  it('accepts the first version of the request (urn:xmpp:message-moderate:0)', async () => {
    const id = stanzaIdBy(await say(bob, room, 'more spam'), room)!;
    const told = next(carol, (el) => el.name === 'message' && el.getChild('apply-to', FASTEN) !== undefined);
    await expectResult(
      iq(
        alice,
        'set',
        room,
        xml(
          'apply-to',
          { xmlns: FASTEN, id },
          xml('moderate', { xmlns: MODERATE_0 }, xml('retract', { xmlns: RETRACT_0 })),
        ),
      ),
    );
    expect((await told).getChild('retract', RETRACT)?.attrs.id).to.equal(id);
  });

  it("keeps a tombstone for a message its author retracted, and ignores others' retractions (XEP-0424)", async () => {
    const id = stanzaIdBy(await say(bob, room, 'oops, wrong room'), room)!;
    const other = stanzaIdBy(await say(alice, room, 'not yours to retract'), room)!;
    const retraction = (target: string, messageId: string) =>
      xml(
        'message',
        { to: room, type: 'groupchat', id: messageId },
        xml('retract', { xmlns: RETRACT, id: target }),
        xml('fallback', { xmlns: 'urn:xmpp:fallback:0', for: RETRACT }),
        xml('body', {}, '/me retracted a previous message, but it is unsupported by your client.'),
      );
    // Passed on to everyone, and archived.
    const told = next(carol, (el) => el.name === 'message' && el.attrs.id === 'retract-1');
    await bob.send(retraction(id, 'retract-1'));
    const passed = await told;
    expect(passed.getChild('retract', RETRACT)?.attrs.id).to.equal(id);
    const retractionId = stanzaIdBy(passed, room)!;
    // Carol may not retract Alice's message: it stays.
    const tried = next(carol, (el) => el.name === 'message' && el.attrs.id === 'retract-2');
    await carol.send(retraction(other, 'retract-2'));
    await tried;

    const archived = await queryArchive(carol, room, { fields: { ids: [id, other, retractionId] } });
    const [stone, kept, stored] = archived.results.map(forwardedOf);
    expect(stone!.getChild('body')).to.equal(undefined);
    expect(stone!.getChild('retracted', RETRACT)?.attrs.id).to.equal('retract-1');
    expect(kept!.getChildText('body')).to.equal('not yours to retract');
    expect(stored!.getChild('retract', RETRACT)?.attrs.id).to.equal(id);
  });

  it('refuses non-moderators (forbidden) and unknown ids (item-not-found)', async () => {
    const id = stanzaIdBy(await say(alice, room, 'keep this'), room)!;
    await expectError(iq(carol, 'set', room, moderate(id)), 'forbidden');
    await expectError(iq(alice, 'set', room, moderate('AAAAAAAAAAAAAAAAAAAAAA')), 'item-not-found');
    await expectError(iq(alice, 'set', room, xml('moderate', { xmlns: MODERATE, id })), 'bad-request');
    const kept = await queryArchive(carol, room, { fields: { ids: [id] } });
    expect(forwardedOf(kept.results[0]!).getChildText('body')).to.equal('keep this');
  });
});

describe('MUC: hats (XEP-0317)', () => {
  const HATS = 'urn:xmpp:hats:0';
  const COMMANDS = 'http://jabber.org/protocol/commands';
  const FORM = 'urn:xmpp:hats:commands';
  const TEACHER = 'http://tech.example.edu/hats#Teacher';
  let ts: TestServer;
  let alice: TestClient;
  let bob: TestClient;
  let carol: TestClient;
  const clients: TestClient[] = [];
  const room = roomName('hats');

  const command = (client: TestClient, node: string, fields?: Record<string, string>, sessionid?: string) =>
    iq(
      client,
      'set',
      room,
      xml(
        'command',
        { xmlns: COMMANDS, node: `${FORM}:${node}`, action: 'execute', sessionid },
        ...(fields === undefined ? [] : [submitForm(FORM, fields)]),
      ),
    );
  const hatsOf = (presence: XmlElement) =>
    presence
      .getChild('hats', HATS)
      ?.getChildren('hat')
      .map((h) => h.attrs);
  const presenceOf = (client: TestClient, occupant: string) =>
    next(client, (el) => el.name === 'presence' && el.attrs.from === occupant && el.attrs.type === undefined);

  before(async () => {
    ts = await startTestServer();
    await addUsers(ts);
    alice = await login(ts, 'alice');
    bob = await login(ts, 'bob');
    carol = await login(ts, 'carol');
    clients.push(alice, bob, carol);
    await createReservedRoom(alice, room, 'Alice', {});
    await join(bob, `${room}/Bob`);
    await join(carol, `${room}/Carol`);
    await seen(bob, `${room}/Carol`);
  });
  after(async () => {
    await stopAll(clients);
    await ts.stop();
  });

  it('are advertised, with the commands each user may run', async () => {
    expect(await features(carol, room)).to.include.members([HATS, COMMANDS]);
    const nodes = async (client: TestClient) =>
      (await expectResult(iq(client, 'get', room, xml('query', { xmlns: DISCO_ITEMS, node: COMMANDS }))))
        .getChild('query', DISCO_ITEMS)!
        .getChildren('item')
        .map((i) => i.attrs.node);
    expect(await nodes(alice)).to.deep.equal(
      ['create', 'destroy', 'list', 'assign', 'unassign', 'list-assigned'].map((n) => `${FORM}:${n}`),
    );
    expect(await nodes(carol)).to.deep.equal([`${FORM}:list`, `${FORM}:list-assigned`]);
  });

  it('are created by an owner through the command form, and listed', async () => {
    const first = (await expectResult(command(alice, 'create'))).getChild('command', COMMANDS)!;
    expect(first.attrs.status).to.equal('executing');
    const notice = next(carol, (el) => el.name === 'message' && el.attrs.from === room);
    expect(formValues(first.getChild('x', DATA))).to.have.keys(
      'FORM_TYPE',
      'hats#title',
      'hats#uri',
      'hats#hue',
    );
    const done = (
      await expectResult(
        command(
          alice,
          'create',
          { 'hats#title': 'Teacher', 'hats#uri': TEACHER, 'hats#hue': '327.25' },
          first.attrs.sessionid,
        ),
      )
    ).getChild('command', COMMANDS)!;
    expect(done.attrs).to.include({ status: 'completed', sessionid: first.attrs.sessionid });
    // §3.2: the room's configuration changed (104).
    expect(statusCodes(await notice)).to.deep.equal([104]);
    const list = (await expectResult(command(carol, 'list'))).getChild('command', COMMANDS)!;
    const item = list.getChild('x', DATA)!.getChildren('item')[0]!;
    // §2: muc#roominfo tells clients when the list of hats changed.
    const info = (await expectResult(iq(carol, 'get', room, xml('query', { xmlns: DISCO_INFO })))).getChild(
      'query',
      DISCO_INFO,
    )!;
    expect(formValues(info.getChild('x', DATA))['hats#hash']?.[0]).to.match(/^[0-9a-f]{40}$/);
    expect(formValues(item)).to.deep.equal({
      'hats#title': ['Teacher'],
      'hats#uri': [TEACHER],
      'hats#hue': ['327.25'],
    });
  });

  it('are shown in the wearer’s presence when assigned, and gone when removed', async () => {
    const carolSees = presenceOf(carol, `${room}/Bob`);
    const bobSees = presenceOf(bob, `${room}/Bob`);
    await expectResult(command(alice, 'assign', { 'hats#jid': 'bob@localhost', 'hats#uri': TEACHER }));
    expect(hatsOf(await carolSees)).to.deep.equal([{ uri: TEACHER, title: 'Teacher', hue: '327.25' }]);
    expect(hatsOf(await bobSees)).to.deep.equal([{ uri: TEACHER, title: 'Teacher', hue: '327.25' }]);
    const assigned = (await expectResult(command(carol, 'list-assigned'))).getChild('command', COMMANDS)!;
    expect(formValues(assigned.getChild('x', DATA)!.getChildren('item')[0])).to.deep.include({
      'hats#jid': ['bob@localhost'],
      'hats#uri': [TEACHER],
    });

    const removed = presenceOf(carol, `${room}/Bob`);
    await expectResult(command(alice, 'unassign', { 'hats#jid': 'bob@localhost', 'hats#uri': TEACHER }));
    expect(hatsOf(await removed)).to.equal(undefined);
  });

  it('cannot be claimed by a client, nor managed by a participant', async () => {
    const bobSees = presenceOf(bob, `${room}/Carol`);
    await carol.send(
      xml(
        'presence',
        { to: `${room}/Carol` },
        xml('hats', { xmlns: HATS }, xml('hat', { uri: TEACHER, title: 'Teacher' })),
      ),
    );
    expect(hatsOf(await bobSees)).to.equal(undefined);
    await expectError(
      command(carol, 'assign', { 'hats#jid': 'carol@localhost', 'hats#uri': TEACHER }),
      'forbidden',
    );
    await expectError(
      command(alice, 'assign', { 'hats#jid': 'carol@localhost', 'hats#uri': 'urn:nope' }),
      'item-not-found',
    );
  });

  it('are taken from their wearers when destroyed', async () => {
    const worn = presenceOf(carol, `${room}/Bob`);
    await expectResult(command(alice, 'assign', { 'hats#jid': 'bob@localhost', 'hats#uri': TEACHER }));
    expect(hatsOf(await worn)).to.have.length(1);
    const gone = presenceOf(carol, `${room}/Bob`);
    await expectResult(command(alice, 'destroy', { hat: TEACHER }));
    expect(hatsOf(await gone)).to.equal(undefined);
    const list = (await expectResult(command(carol, 'list'))).getChild('command', COMMANDS)!;
    expect(list.getChild('x', DATA)!.getChildren('item')).to.deep.equal([]);
  });
});
