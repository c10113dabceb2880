// What goes into a user's archive (XEP-0313 §7.1.1, XEP-0334 §4, XEP-0085 §5.5), the
// XEP-0441 preferences (§2.1.1 default modes, §2.3.1 JID matching) and the XML of <prefs/>.

import { expect } from 'chai';
import { StanzaError } from '../../src/core/errors.js';
import { parseJID } from '../../src/jid.js';
import { parseStored } from '../../src/xml/fragment.js';
import { storedForm, stripStanzaIds } from '../../xeps/0313-mam/archiver.js';
import {
  type DefaultMode,
  isArchivable,
  type Listing,
  listingOf,
  shouldArchive,
} from '../../xeps/0313-mam/policy.js';
import { parsePrefs, prefsElement } from '../../xeps/0313-mam/prefs.js';

const message = (xml: string) => parseStored(xml.replace('<message', "<message xmlns='jabber:client'"));

describe('XEP-0313 §7.1.1 which messages are archived', () => {
  const table: Array<[string, string, boolean]> = [
    ['a chat message with a body', "<message type='chat'><body>hi</body></message>", true],
    ['a message without a type (normal) with a body', '<message><body>hi</body></message>', true],
    ['a normal message with a body', "<message type='normal'><body>hi</body></message>", true],
    ['an empty body still counts', "<message type='chat'><body/></message>", true],
    [
      'a chat state alone',
      "<message type='chat'><active xmlns='http://jabber.org/protocol/chatstates'/></message>",
      false,
    ],
    [
      'a body with a chat state',
      "<message type='chat'><body>hi</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>",
      true,
    ],
    ['a receipt alone', "<message><received xmlns='urn:xmpp:receipts' id='a'/></message>", false],
    ['a thread alone', "<message type='chat'><thread>t</thread></message>", false],
    ['a groupchat message', "<message type='groupchat'><body>hi</body></message>", false],
    [
      'a groupchat message asking to be stored',
      "<message type='groupchat'><body>hi</body><store xmlns='urn:xmpp:hints'/></message>",
      false,
    ],
    ['a headline', "<message type='headline'><body>news</body></message>", false],
    [
      'a headline asking to be stored',
      "<message type='headline'><body>news</body><store xmlns='urn:xmpp:hints'/></message>",
      true,
    ],
    ['an error', "<message type='error'><body>hi</body></message>", false],
    [
      'an error asking to be stored',
      "<message type='error'><body>hi</body><store xmlns='urn:xmpp:hints'/></message>",
      false,
    ],
    ['an unknown type', "<message type='shout'><body>hi</body></message>", false],
    ['no-store', "<message type='chat'><body>hi</body><no-store xmlns='urn:xmpp:hints'/></message>", false],
    [
      'no-permanent-store',
      "<message type='chat'><body>hi</body><no-permanent-store xmlns='urn:xmpp:hints'/></message>",
      false,
    ],
    [
      'store and no-store: not stored',
      "<message type='chat'><body>hi</body><store xmlns='urn:xmpp:hints'/><no-store xmlns='urn:xmpp:hints'/></message>",
      false,
    ],
    ['store without a body', "<message type='chat'><store xmlns='urn:xmpp:hints'/></message>", true],
    [
      'OMEMO (legacy namespace)',
      "<message type='chat'><encrypted xmlns='eu.siacs.conversations.axolotl'><header sid='1'/></encrypted></message>",
      true,
    ],
    [
      'OMEMO 2',
      "<message type='chat'><encrypted xmlns='urn:xmpp:omemo:2'><header sid='1'/></encrypted></message>",
      true,
    ],
    ['OpenPGP', "<message type='chat'><openpgp xmlns='urn:xmpp:openpgp:0'>b64</openpgp></message>", true],
    [
      'a reaction',
      "<message type='chat'><reactions xmlns='urn:xmpp:reactions:0' id='a'><reaction>👍</reaction></reactions></message>",
      true,
    ],
    [
      'a retraction',
      "<message type='chat'><retract xmlns='urn:xmpp:message-retract:1' id='a'/></message>",
      true,
    ],
    [
      'a displayed marker',
      "<message type='chat'><displayed xmlns='urn:xmpp:chat-markers:0' id='a'/></message>",
      true,
    ],
    [
      'a received marker',
      "<message type='chat'><received xmlns='urn:xmpp:chat-markers:0' id='a'/></message>",
      false,
    ],
    [
      'a direct invitation',
      "<message><x xmlns='jabber:x:conference' jid='room@muc.example.com'/></message>",
      true,
    ],
    [
      'a mediated invitation',
      "<message><x xmlns='http://jabber.org/protocol/muc#user'><invite from='a@example.com'/></x></message>",
      true,
    ],
    [
      'a muc#user payload that is no invitation',
      "<message><x xmlns='http://jabber.org/protocol/muc#user'/></message>",
      false,
    ],
    [
      'a carbon copy',
      "<message><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'/></received></message>",
      false,
    ],
    ['an archive result', "<message><result xmlns='urn:xmpp:mam:2' id='a'/></message>", false],
    ['a body in another namespace', "<message><body xmlns='urn:example'>hi</body></message>", false],
  ];
  for (const [what, xml, archived] of table) {
    it(`${what}: ${archived ? 'archived' : 'not archived'}`, () => {
      expect(isArchivable(message(xml))).to.equal(archived);
    });
  }
});

describe('XEP-0441 preferences', () => {
  describe('§2.3.1 JID matching', () => {
    // [listed JIDs (jid → always?), contact, listing]
    const table: Array<[Record<string, boolean>, string, Listing]> = [
      [{ 'romeo@montague.lit': true }, 'romeo@montague.lit', 'always'],
      [{ 'romeo@montague.lit': true }, 'romeo@montague.lit/orchard', 'always'],
      [{ 'romeo@montague.lit/orchard': false }, 'romeo@montague.lit/orchard', 'never'],
      [{ 'romeo@montague.lit/orchard': false }, 'romeo@montague.lit/balcony', undefined],
      [{ 'romeo@montague.lit/orchard': false }, 'romeo@montague.lit', undefined],
      [
        { 'romeo@montague.lit': true, 'romeo@montague.lit/orchard': false },
        'romeo@montague.lit/orchard',
        'never',
      ],
      [
        { 'romeo@montague.lit': false, 'romeo@montague.lit/orchard': true },
        'romeo@montague.lit/orchard',
        'always',
      ],
      [
        { 'romeo@montague.lit': false, 'romeo@montague.lit/orchard': true },
        'romeo@montague.lit/balcony',
        'never',
      ],
      [{}, 'romeo@montague.lit', undefined],
    ];
    for (const [entries, contact, listing] of table) {
      it(`${JSON.stringify(entries)} for ${contact}: ${listing ?? 'not listed'}`, () => {
        expect(listingOf(parseJID(contact), new Map(Object.entries(entries)))).to.equal(listing);
      });
    }
  });

  describe('§2.1.1 the default mode, after the lists', () => {
    // [mode, listing, in roster, archived]
    const table: Array<[DefaultMode, Listing, boolean, boolean]> = [
      ['always', undefined, false, true],
      ['never', undefined, true, false],
      ['roster', undefined, true, true],
      ['roster', undefined, false, false],
      ['never', 'always', false, true],
      ['always', 'never', true, false],
      ['roster', 'always', false, true],
      ['roster', 'never', true, false],
    ];
    for (const [mode, listing, inRoster, archived] of table) {
      it(`${mode}, listed ${listing ?? 'nowhere'}, ${inRoster ? 'in' : 'not in'} the roster: ${archived}`, async () => {
        let asked = false;
        const verdict = await shouldArchive(mode, listing, () => {
          asked = true;
          return inRoster;
        });
        expect(verdict).to.equal(archived);
        // The roster is read only when the answer depends on it.
        expect(asked).to.equal(mode === 'roster' && listing === undefined);
      });
    }
  });

  describe('<prefs/>', () => {
    const prefs = (xml: string) => parseStored(xml);

    it('reads a set, keeping the current default when none is given', () => {
      expect(
        parsePrefs(
          prefs(
            "<prefs xmlns='urn:xmpp:mam:2'><always><jid>Romeo@Montague.lit</jid></always><never><jid>tybalt@capulet.lit/x</jid><jid>tybalt@capulet.lit/x</jid></never></prefs>",
          ),
          'roster',
          10,
        ),
      ).to.deep.equal({ default: 'roster', always: ['romeo@montague.lit'], never: ['tybalt@capulet.lit/x'] });
      expect(
        parsePrefs(prefs("<prefs xmlns='urn:xmpp:mam:2' default='never'/>"), 'roster', 10),
      ).to.deep.equal({
        default: 'never',
        always: [],
        never: [],
      });
    });

    const refusals: Array<[string, string, string]> = [
      ['an unknown default', "<prefs xmlns='urn:xmpp:mam:2' default='sometimes'/>", 'bad-request'],
      [
        'a bad JID',
        "<prefs xmlns='urn:xmpp:mam:2'><always><jid>@bad</jid></always></prefs>",
        'jid-malformed',
      ],
      [
        'too many JIDs',
        "<prefs xmlns='urn:xmpp:mam:2'><always><jid>a@b</jid><jid>c@d</jid></always><never><jid>e@f</jid></never></prefs>",
        'policy-violation',
      ],
    ];
    for (const [what, xml, condition] of refusals) {
      it(`refuses ${what} with ${condition}`, () => {
        expect(() => parsePrefs(prefs(xml), undefined, 2))
          .to.throw(StanzaError)
          .with.property('condition', condition);
      });
    }

    it('writes both lists, even empty, and the server default when the user has none', () => {
      expect(prefsElement({ default: undefined, always: [], never: ['a@b'] }, 'always').toString()).to.equal(
        '<prefs xmlns="urn:xmpp:mam:2" default="always"><always/><never><jid>a@b</jid></never></prefs>',
      );
    });
  });
});

describe('XEP-0359 §4 and the stored form', () => {
  it('removes stanza-ids claiming to be by the account, and only those', () => {
    const m = message(
      "<message><body>hi</body><stanza-id xmlns='urn:xmpp:sid:0' by='Alice@Example.com' id='forged'/><stanza-id xmlns='urn:xmpp:sid:0' by='room@muc.example.com' id='r'/><origin-id xmlns='urn:xmpp:sid:0' id='o'/><stanza-id xmlns='urn:xmpp:sid:0' by='alice@example.com' id='forged2'/></message>",
    );
    stripStanzaIds(m, 'alice@example.com');
    expect(m.toString()).to.equal(
      '<message xmlns="jabber:client"><body>hi</body><stanza-id xmlns="urn:xmpp:sid:0" by="room@muc.example.com" id="r"/><origin-id xmlns="urn:xmpp:sid:0" id="o"/></message>',
    );
  });

  it('keeps a message standing alone in jabber:client, whatever stream it came on', () => {
    const m = parseStored(
      "<message xmlns='jabber:server' from='a@b/c' to='d@e' type='chat' id='1'>\n  <body>a &amp; b</body>\n</message>",
    );
    expect(storedForm(m)).to.equal(
      '<message xmlns="jabber:client" from="a@b/c" to="d@e" type="chat" id="1"><body>a &amp; b</body></message>',
    );
  });
});
