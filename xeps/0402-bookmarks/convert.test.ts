// XEP-0402 §5.3 conversions: a native item to a XEP-0048 conference and back, the legacy list
// read (invalid rooms skipped, the last of a room winning, URL bookmarks set aside), and the
// diff that publishes only what changed (keeping <extensions/>) and retracts what is gone.

import { expect } from 'chai';
import { parseStored } from '../../src/xml/fragment.js';
import { NS } from '../../src/xml/ns.js';
import { type Bookmark, diff, fromLegacy, fromNative, sameInLegacy, toLegacy, toNative } from './convert.js';

const ROOM = 'council@conference.example';

function bookmark(fields: Partial<Bookmark> = {}): Bookmark {
  return {
    jid: ROOM,
    name: 'Council',
    autojoin: 'true',
    nick: 'Puck',
    password: undefined,
    extensions: undefined,
    ...fields,
  };
}

describe('XEP-0402 bookmark conversions', () => {
  it('reads a native item, extensions included', () => {
    const conference = parseStored(
      `<conference xmlns="${NS.BOOKMARKS}" name="Council" autojoin="1"><nick>Puck</nick>` +
        '<password>secret</password><extensions><x xmlns="urn:c"/></extensions></conference>',
    );
    const b = fromNative(ROOM, conference);
    expect({ ...b, extensions: b.extensions?.toString() }).to.deep.equal({
      jid: ROOM,
      name: 'Council',
      autojoin: '1',
      nick: 'Puck',
      password: 'secret',
      extensions: '<extensions><x xmlns="urn:c"/></extensions>',
    });
    expect(toNative(b).toString()).to.equal(conference.toString());
  });

  it('writes the native payload with only what the bookmark has', () => {
    expect(toNative(bookmark({ name: undefined, autojoin: undefined, nick: undefined })).toString()).to.equal(
      `<conference xmlns="${NS.BOOKMARKS}"/>`,
    );
  });

  it('reads a legacy list: valid rooms, the last of each, the rest set aside', () => {
    const storage = parseStored(
      `<storage xmlns="${NS.STORAGE_BOOKMARKS}">` +
        `<conference jid="${ROOM}" name="Old"/>` +
        '<conference name="No JID"/>' +
        '<conference jid="not a@valid@jid"/>' +
        '<url name="Works" url="http://example.org/"/>' +
        `<conference jid="${ROOM}" name="Council" autojoin="true"><nick>Puck</nick></conference>` +
        '</storage>',
    );
    const { bookmarks, others } = fromLegacy(storage);
    expect(bookmarks).to.deep.equal([bookmark()]);
    expect(others.map(String)).to.deep.equal(['<url name="Works" url="http://example.org/"/>']);
    expect(fromLegacy(undefined)).to.deep.equal({ bookmarks: [], others: [] });
  });

  it('writes the legacy list with what else it held', () => {
    const url = parseStored('<url xmlns="storage:bookmarks" name="W" url="http://e/"/>');
    expect(toLegacy([bookmark({ password: 'pw' })], [url]).toString()).to.equal(
      `<storage xmlns="${NS.STORAGE_BOOKMARKS}"><conference jid="${ROOM}" name="Council" autojoin="true">` +
        '<nick>Puck</nick><password>pw</password></conference>' +
        '<url xmlns="storage:bookmarks" name="W" url="http://e/"/></storage>',
    );
  });

  const same: Array<[string, Partial<Bookmark>, Partial<Bookmark>, boolean]> = [
    ['identical', {}, {}, true],
    ["'1' and 'true'", { autojoin: '1' }, { autojoin: 'true' }, true],
    ['absent and false', { autojoin: undefined }, { autojoin: 'false' }, true],
    ['absent name and empty name', { name: undefined }, { name: '' }, true],
    [
      'extensions only differ',
      { extensions: parseStored('<extensions xmlns="urn:xmpp:bookmarks:1"/>') },
      {},
      true,
    ],
    ['another nick', { nick: 'Bottom' }, {}, false],
    ['autojoin off', { autojoin: '0' }, {}, false],
    ['a password', { password: 'pw' }, {}, false],
  ];
  for (const [what, a, b, expected] of same) {
    it(`compares ${what}: ${expected ? 'same' : 'different'}`, () => {
      expect(sameInLegacy(bookmark(a), bookmark(b))).to.equal(expected);
    });
  }

  it('diffs a legacy list against the native bookmarks', () => {
    const extensions = parseStored(`<extensions xmlns="${NS.BOOKMARKS}"><x xmlns="urn:c"/></extensions>`);
    const current = new Map<string, Bookmark>([
      [ROOM, bookmark({ extensions })],
      ['play@conference.example', bookmark({ jid: 'play@conference.example', name: 'Play' })],
      ['gone@conference.example', bookmark({ jid: 'gone@conference.example' })],
    ]);
    const wanted = [
      bookmark({ autojoin: '1' }),
      bookmark({ jid: 'play@conference.example', name: 'The Play' }),
      bookmark({ jid: 'new@conference.example' }),
    ];
    const { publish, retract } = diff(current, wanted);
    expect(publish.map((b) => [b.jid, b.name, b.extensions])).to.deep.equal([
      ['play@conference.example', 'The Play', undefined],
      ['new@conference.example', 'Council', undefined],
    ]);
    expect(retract).to.deep.equal(['gone@conference.example']);
    // A changed bookmark keeps the extensions of the one it replaces.
    const renamed = diff(current, [bookmark({ name: 'Renamed' })]).publish[0]!;
    expect(renamed.extensions).to.equal(extensions);
  });
});
