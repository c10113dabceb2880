// The pure parts of modern group chat: who may read a room archive (XEP-0313 §5.2.2), what
// the archive keeps of a message, the room archive store's paging (on an in-memory SQLite),
// XEP-0421 occupant ids, and XEP-0425 requests, announcements and tombstones.

import { expect } from 'chai';
import { StanzaError } from '../../src/core/errors.js';
import { jid } from '../../src/jid.js';
import { silentLogger } from '../../src/log.js';
import { openDatabase } from '../../src/storage/db.js';
import { migrate } from '../../src/storage/migrations.js';
import { type Element, x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { mayReadArchive, roomStanzaId, storedForm } from '../../xeps/0045-muc/archive.js';
import { RoomArchives, UnknownRoomArchiveId } from '../../xeps/0045-muc/archive-store.js';
import { defaultConfig } from '../../xeps/0045-muc/config.js';
import { parseModeration, retractionAnnouncement, tombstone } from '../../xeps/0045-muc/moderation.js';
import { OccupantIds, stampOccupantId } from '../../xeps/0045-muc/occupant-id.js';
import type { Affiliation } from '../../xeps/0045-muc/permissions.js';
import { MUC_MIGRATIONS } from '../../xeps/0045-muc/store.js';

const ROOM = jid('coven', 'chat.example');

describe('MUC archive: who may read it (XEP-0313 §5.2.2)', () => {
  const open = defaultConfig();
  const members = defaultConfig({ membersOnly: true });
  const secret = defaultConfig({ passwordProtected: true, password: 'pw' });
  const cases: Array<[string, Affiliation, boolean, ReturnType<typeof defaultConfig>, boolean]> = [
    ['anyone, in an open room', 'none', false, open, true],
    ['not an outcast, even in an open room', 'outcast', false, open, false],
    ['not an outcast, even in the room', 'outcast', true, open, false],
    ['not a stranger to a members-only room', 'none', false, members, false],
    ['a member of a members-only room', 'member', false, members, true],
    ['an occupant of a members-only room', 'none', true, members, true],
    ['not a stranger to a password-protected room', 'none', false, secret, false],
    ['an occupant of a password-protected room', 'none', true, secret, true],
    ['an admin of a password-protected room', 'admin', false, secret, true],
  ];
  for (const [what, affiliation, occupant, config, allowed] of cases)
    it(what, () => expect(mayReadArchive(affiliation, occupant, config)).to.equal(allowed));
});

describe('MUC archive: what is kept of a message', () => {
  it('drops a client’s muc#user <x/> (XEP-0313 §8) and keeps the rest', () => {
    const message = x(
      'message',
      { from: 'coven@chat.example/n', type: 'groupchat', id: '1' },
      x('body', null, 'hi'),
      x('x', { xmlns: NS.MUC_USER }, x('item', { jid: 'forged@example.org' })),
      x('stanza-id', { xmlns: NS.SID, id: 'abc', by: 'coven@chat.example' }),
    );
    expect(storedForm(message)).to.equal(
      '<message from="coven@chat.example/n" type="groupchat" id="1" xmlns="jabber:client"><body>hi</body>' +
        '<stanza-id xmlns="urn:xmpp:sid:0" id="abc" by="coven@chat.example"/></message>',
    );
    expect(roomStanzaId(message, 'coven@chat.example')).to.equal('abc');
    expect(roomStanzaId(message, 'other@chat.example')).to.equal(undefined);
  });
});

describe('MUC archive store: reserve, write at the end of the turn, page', () => {
  const db = openDatabase(':memory:');
  migrate(db, MUC_MIGRATIONS);
  const archives = new RoomArchives(db, silentLogger);
  const base = Date.UTC(2026, 0, 1);
  const ids: string[] = [];
  const bodies = (page: { messages: { stanza: string }[] }) =>
    page.messages.map((m) => /<body>(.*)<\/body>/.exec(m.stanza)![1]);

  before(() => {
    for (let i = 0; i < 5; i++) {
      const slot = archives.reserve(ROOM, base + i * 1000);
      ids.push(slot.id);
      const nick = i % 2 === 0 ? 'even' : 'odd';
      archives.append(slot, nick, jid(nick, 'example.org', 'r'), `<message><body>${i}</body></message>`);
    }
  });

  it('gives strictly increasing, opaque ids even when the clock stands still', () => {
    const a = archives.reserve(jid('other', 'chat.example'), base);
    const b = archives.reserve(jid('other', 'chat.example'), base);
    expect(a.seq).to.be.below(b.seq);
    expect(a.id).to.match(/^[A-Za-z0-9_-]{22}$/);
    expect(a.id).to.not.equal(b.id);
  });

  it('pages forwards and backwards with counts and indexes', () => {
    const first = archives.query(ROOM, {}, { from: 'start' }, 2);
    expect(bodies(first)).to.deep.equal(['0', '1']);
    expect(first).to.include({ count: 5, firstIndex: 0, complete: false });
    const next = archives.query(ROOM, {}, { from: 'start', after: ids[1] }, 2);
    expect(bodies(next)).to.deep.equal(['2', '3']);
    expect(next.firstIndex).to.equal(2);
    const last = archives.query(ROOM, {}, { from: 'end' }, 2);
    expect(bodies(last)).to.deep.equal(['3', '4']);
    expect(last.complete).to.equal(false);
    const before = archives.query(ROOM, {}, { from: 'end', before: ids[1] }, 2);
    expect(bodies(before)).to.deep.equal(['0']);
    expect(before.complete).to.equal(true);
    expect(bodies(archives.query(ROOM, {}, { from: 'index', index: 3 }, 10))).to.deep.equal(['3', '4']);
  });

  it('filters by nickname, real JID, time and ids', () => {
    expect(bodies(archives.query(ROOM, { nick: 'odd' }, { from: 'start' }, 10))).to.deep.equal(['1', '3']);
    expect(
      bodies(archives.query(ROOM, { realBare: 'even@example.org' }, { from: 'start' }, 10)),
    ).to.deep.equal(['0', '2', '4']);
    expect(
      bodies(archives.query(ROOM, { start: base + 1000, end: base + 3000 }, { from: 'start' }, 10)),
    ).to.deep.equal(['1', '2', '3']);
    expect(bodies(archives.query(ROOM, { ids: [ids[4]!, ids[0]!] }, { from: 'start' }, 10))).to.deep.equal([
      '0',
      '4',
    ]);
    expect(bodies(archives.query(ROOM, { afterId: ids[3] }, { from: 'start' }, 10))).to.deep.equal(['4']);
  });

  it('refuses ids of other archives and made-up ones', () => {
    const other = archives.reserve(jid('third', 'chat.example'), base).id;
    expect(() => archives.query(ROOM, { afterId: other }, { from: 'start' }, 10)).to.throw(
      UnknownRoomArchiveId,
    );
    expect(() => archives.query(ROOM, {}, { from: 'start', after: 'nonsense' }, 10)).to.throw(
      UnknownRoomArchiveId,
    );
    expect(archives.find(ROOM, other)).to.equal(undefined);
  });

  it('replaces a message, and keeps recent messages for history', () => {
    const found = archives.find(ROOM, ids[2]!)!;
    archives.replace(found.archive, found.seq, '<message><body>gone</body></message>');
    expect(archives.recent(ROOM, 3).map((m) => m.stanza)).to.deep.equal([
      '<message><body>gone</body></message>',
      '<message><body>3</body></message>',
      '<message><body>4</body></message>',
    ]);
    expect(archives.find(ROOM, ids[2]!)?.real).to.equal('even@example.org/r');
  });

  it('at start, forgets the archives of rooms that are gone (temporary rooms of a crashed server)', () => {
    archives.reserve(jid('kept', 'chat.example'), base);
    const gone = jid('gone', 'chat.example');
    const slot = archives.reserve(gone, base);
    archives.append(slot, 'n', jid('n', 'example.org'), '<message><body>x</body></message>');
    archives.keepOnly('chat.example', new Set(['coven', 'kept', 'other', 'third']));
    expect(archives.find(gone, slot.id)).to.equal(undefined);
    expect(archives.query(ROOM, {}, { from: 'start' }, 10).count).to.equal(5);
  });

  it('forgets a dropped room, whose ids then name nothing', () => {
    archives.drop(ROOM);
    expect(archives.find(ROOM, ids[0]!)).to.equal(undefined);
    expect(archives.query(ROOM, {}, { from: 'start' }, 10).count).to.equal(0);
    // A room of the same name starts a new archive: the old ids are not reused.
    const fresh = archives.reserve(ROOM, base);
    expect(ids).to.not.include(fresh.id);
  });
});

describe('MUC occupant ids (XEP-0421 §4)', () => {
  const secret = Buffer.alloc(32, 7);
  const ids = new OccupantIds(secret);

  it('is stable for a user in a room, and differs between users, rooms and services', () => {
    const id = ids.of(ROOM, 'alice@example.org');
    expect(new OccupantIds(Buffer.alloc(32, 7)).of(ROOM, 'alice@example.org')).to.equal(id);
    expect(ids.of(ROOM, 'bob@example.org')).to.not.equal(id);
    expect(ids.of(jid('other', 'chat.example'), 'alice@example.org')).to.not.equal(id);
    expect(new OccupantIds(Buffer.alloc(32, 8)).of(ROOM, 'alice@example.org')).to.not.equal(id);
  });

  it('replaces any occupant-id a client sent by the room’s one', () => {
    const stanza = x(
      'message',
      null,
      x('body', null, 'hi'),
      x('occupant-id', { xmlns: NS.OCCUPANT_ID, id: 'forged' }),
      x('occupant-id', { xmlns: 'urn:example:other', id: 'kept' }),
    );
    stampOccupantId(stanza, 'real');
    expect(stanza.toString()).to.equal(
      '<message><body>hi</body><occupant-id xmlns="urn:example:other" id="kept"/>' +
        '<occupant-id xmlns="urn:xmpp:occupant-id:0" id="real"/></message>',
    );
  });
});

describe('MUC moderation (XEP-0425)', () => {
  const condition = (payload: Element): string | undefined => {
    try {
      parseModeration(payload);
      return undefined;
    } catch (err) {
      if (err instanceof StanzaError) return err.condition;
      throw err;
    }
  };

  it('reads both versions of the request', () => {
    expect(
      parseModeration(
        x(
          'moderate',
          { xmlns: NS.MESSAGE_MODERATE, id: 's1' },
          x('retract', { xmlns: NS.MESSAGE_RETRACT }),
          x('reason', null, 'Spam'),
        ),
      ),
    ).to.deep.equal({ id: 's1', reason: 'Spam' });
    expect(
      parseModeration(
        x(
          'apply-to',
          { xmlns: NS.FASTEN, id: 's2' },
          x('moderate', { xmlns: NS.MESSAGE_MODERATE_0 }, x('retract', { xmlns: NS.MESSAGE_RETRACT_0 })),
        ),
      ),
    ).to.deep.equal({ id: 's2', reason: undefined });
  });

  it('refuses a request that retracts nothing or names no message (bad-request)', () => {
    expect(condition(x('moderate', { xmlns: NS.MESSAGE_MODERATE, id: 's1' }))).to.equal('bad-request');
    expect(
      condition(x('moderate', { xmlns: NS.MESSAGE_MODERATE }, x('retract', { xmlns: NS.MESSAGE_RETRACT }))),
    ).to.equal('bad-request');
    // The :1 retract inside the :0 request is not the :0 one.
    expect(
      condition(
        x(
          'apply-to',
          { xmlns: NS.FASTEN, id: 's2' },
          x('moderate', { xmlns: NS.MESSAGE_MODERATE_0 }, x('retract', { xmlns: NS.MESSAGE_RETRACT })),
        ),
      ),
    ).to.equal('bad-request');
  });

  const moderator = { by: 'coven@chat.example/Mod', occupantId: 'mod-id' };

  it('announces the retraction in both versions', () => {
    const message = retractionAnnouncement(
      'coven@chat.example',
      's1',
      { id: 's1', reason: 'Spam' },
      moderator,
      'm1',
    );
    expect(message.toString()).to.equal(
      '<message from="coven@chat.example" type="groupchat" id="m1">' +
        '<retract xmlns="urn:xmpp:message-retract:1" id="s1">' +
        '<moderated xmlns="urn:xmpp:message-moderate:1" by="coven@chat.example/Mod">' +
        '<occupant-id xmlns="urn:xmpp:occupant-id:0" id="mod-id"/></moderated><reason>Spam</reason></retract>' +
        '<apply-to xmlns="urn:xmpp:fasten:0" id="s1">' +
        '<moderated xmlns="urn:xmpp:message-moderate:0" by="coven@chat.example/Mod">' +
        '<retract xmlns="urn:xmpp:message-retract:0"/><reason>Spam</reason></moderated></apply-to></message>',
    );
  });

  const original = x(
    'message',
    { from: 'coven@chat.example/Spammer', type: 'groupchat', id: 'x1' },
    x('body', null, 'buy potions'),
    x('occupant-id', { xmlns: NS.OCCUPANT_ID, id: 'spammer-id' }),
    x('stanza-id', { xmlns: NS.SID, id: 's1', by: 'coven@chat.example' }),
    x('stanza-id', { xmlns: NS.SID, id: 'other', by: 'someone@else' }),
    x('reference', { xmlns: 'urn:xmpp:reference:0', uri: 'https://potions.example' }),
  );

  it('makes a tombstone that keeps the author’s occupant id and the room’s stanza-id, and nothing else', () => {
    const retraction = { by: 'moderator', moderator, reason: undefined } as const;
    const stone = tombstone(original, 'coven@chat.example', retraction, Date.UTC(2026, 0, 1));
    expect(stone.toString()).to.equal(
      '<message from="coven@chat.example/Spammer" type="groupchat" id="x1">' +
        '<occupant-id xmlns="urn:xmpp:occupant-id:0" id="spammer-id"/>' +
        '<stanza-id xmlns="urn:xmpp:sid:0" id="s1" by="coven@chat.example"/>' +
        '<retracted xmlns="urn:xmpp:message-retract:1" stamp="2026-01-01T00:00:00.000Z">' +
        '<moderated xmlns="urn:xmpp:message-moderate:1" by="coven@chat.example/Mod">' +
        '<occupant-id xmlns="urn:xmpp:occupant-id:0" id="mod-id"/></moderated></retracted></message>',
    );
  });

  it('names the retraction in the tombstone of a message its author retracted (XEP-0424 §5)', () => {
    const stone = tombstone(original, 'coven@chat.example', { by: 'author', id: 'r1' }, Date.UTC(2026, 0, 1));
    expect(stone.toString()).to.equal(
      '<message from="coven@chat.example/Spammer" type="groupchat" id="x1">' +
        '<occupant-id xmlns="urn:xmpp:occupant-id:0" id="spammer-id"/>' +
        '<stanza-id xmlns="urn:xmpp:sid:0" id="s1" by="coven@chat.example"/>' +
        '<retracted xmlns="urn:xmpp:message-retract:1" id="r1" stamp="2026-01-01T00:00:00.000Z"/></message>',
    );
  });
});
