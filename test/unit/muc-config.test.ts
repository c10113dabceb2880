// XEP-0045 §15.5.3 muc#roomconfig: every field of a submitted form read (or refused) as
// §10.1.3 says, the form the room sends, the §10.2.1 status codes of a change, the §15.3
// features, and the stored form of a configuration.

import { expect } from 'chai';
import { StanzaError } from '../../src/core/errors.js';
import { NS } from '../../src/xml/ns.js';
import {
  applyConfigForm,
  configChangeCodes,
  configForm,
  defaultConfig,
  parseConfig,
  type RoomConfig,
  requiredPassword,
  roomTypeFeatures,
  serializeConfig,
} from '../../xeps/0045-muc/config.js';
import { readForm, type SubmittedForm } from '../../xeps/0045-muc/forms.js';

const limits = { maxUsers: 500, maxHistory: 50 };
const base = defaultConfig();

function submitted(
  fields: Record<string, string | string[]>,
  formType: string | undefined = NS.MUC_ROOMCONFIG,
): SubmittedForm {
  return {
    type: 'submit',
    formType,
    fields: new Map(Object.entries(fields).map(([k, v]) => [k, Array.isArray(v) ? v : [v]])),
  };
}

function refusal(fields: Record<string, string | string[]>, formType?: string): string | undefined {
  try {
    applyConfigForm(base, submitted(fields, formType), limits);
    return undefined;
  } catch (err) {
    if (err instanceof StanzaError) return err.condition;
    throw err;
  }
}

describe('MUC configuration: each muc#roomconfig field (§15.5.3)', () => {
  const cases: Array<[string, Record<string, string | string[]>, Partial<RoomConfig>]> = [
    ['roomname', { 'muc#roomconfig_roomname': 'A Dark Cave' }, { name: 'A Dark Cave' }],
    ['roomdesc', { 'muc#roomconfig_roomdesc': 'For witches' }, { description: 'For witches' }],
    ['lang', { 'muc#roomconfig_lang': 'en' }, { lang: 'en' }],
    ['enablelogging', { 'muc#roomconfig_enablelogging': '1' }, { logging: true }],
    ['enablearchiving', { 'muc#roomconfig_enablearchiving': '0' }, { archiving: false }],
    ['changesubject', { 'muc#roomconfig_changesubject': 'true' }, { changeSubject: true }],
    ['allowinvites', { 'muc#roomconfig_allowinvites': '1' }, { allowInvites: true }],
    ['allowpm', { 'muc#roomconfig_allowpm': 'participants' }, { allowPm: 'participants' }],
    ['maxusers', { 'muc#roomconfig_maxusers': '30' }, { maxUsers: 30 }],
    ['maxusers none', { 'muc#roomconfig_maxusers': 'none' }, { maxUsers: 0 }],
    [
      'presencebroadcast',
      { 'muc#roomconfig_presencebroadcast': ['moderator', 'participant'] },
      { presenceBroadcast: ['moderator', 'participant'] },
    ],
    ['getmemberlist', { 'muc#roomconfig_getmemberlist': ['moderator'] }, { getMemberList: ['moderator'] }],
    ['publicroom', { 'muc#roomconfig_publicroom': '0' }, { public: false }],
    ['persistentroom', { 'muc#roomconfig_persistentroom': '1' }, { persistent: true }],
    ['moderatedroom', { 'muc#roomconfig_moderatedroom': '1' }, { moderated: true }],
    ['membersonly', { 'muc#roomconfig_membersonly': '1' }, { membersOnly: true }],
    [
      'passwordprotectedroom with roomsecret',
      { 'muc#roomconfig_passwordprotectedroom': '1', 'muc#roomconfig_roomsecret': 'cauldronburn' },
      { passwordProtected: true, password: 'cauldronburn' },
    ],
    [
      'a roomsecret alone protects the room',
      { 'muc#roomconfig_roomsecret': 'pw' },
      { passwordProtected: true, password: 'pw' },
    ],
    [
      'an explicit 0 leaves it unprotected and forgets the secret',
      { 'muc#roomconfig_passwordprotectedroom': '0', 'muc#roomconfig_roomsecret': 'pw' },
      { passwordProtected: false, password: '' },
    ],
    ['whois', { 'muc#roomconfig_whois': 'anyone' }, { whois: 'anyone' }],
    ['maxhistoryfetch', { 'muc#maxhistoryfetch': '5' }, { historyLength: 5 }],
    [
      'pubsub',
      { 'muc#roomconfig_pubsub': 'xmpp:pubsub.example.org?;node=n' },
      { pubsub: 'xmpp:pubsub.example.org?;node=n' },
    ],
    ['unknown fields are ignored', { 'x-unknown': 'value' }, {}],
  ];
  for (const [what, fields, expected] of cases) {
    it(what, () => {
      const { config } = applyConfigForm(base, submitted(fields), limits);
      expect(config).to.deep.equal({ ...base, ...expected });
    });
  }

  it('a field left out keeps its value', () => {
    const first = applyConfigForm(base, submitted({ 'muc#roomconfig_roomname': 'Kept' }), limits).config;
    const second = applyConfigForm(first, submitted({ 'muc#roomconfig_moderatedroom': '1' }), limits).config;
    expect(second.name).to.equal('Kept');
    expect(second.moderated).to.equal(true);
  });

  it('owners and admins are full lists of bare JIDs', () => {
    const { owners, admins } = applyConfigForm(
      base,
      submitted({
        'muc#roomconfig_roomowners': ['crone1@shakespeare.lit/desktop', 'crone1@shakespeare.lit'],
        'muc#roomconfig_roomadmins': ['wiccarocks@shakespeare.lit', '', 'hecate@shakespeare.lit'],
      }),
      limits,
    );
    expect(owners).to.deep.equal(['crone1@shakespeare.lit']);
    expect(admins).to.deep.equal(['wiccarocks@shakespeare.lit', 'hecate@shakespeare.lit']);
    expect(applyConfigForm(base, submitted({}), limits).owners).to.equal(undefined);
  });

  describe('refusals', () => {
    const cases: Array<[string, Record<string, string | string[]>, string, string?]> = [
      [
        '§10.1.3: a password-protected room without a password',
        { 'muc#roomconfig_passwordprotectedroom': '1' },
        'not-acceptable',
      ],
      ['maxusers beyond the service limit', { 'muc#roomconfig_maxusers': '501' }, 'not-acceptable'],
      ['maxusers not a number', { 'muc#roomconfig_maxusers': 'many' }, 'bad-request'],
      ['maxhistoryfetch beyond the service limit', { 'muc#maxhistoryfetch': '51' }, 'not-acceptable'],
      ['maxhistoryfetch negative', { 'muc#maxhistoryfetch': '-1' }, 'bad-request'],
      ['a boolean that is not one', { 'muc#roomconfig_moderatedroom': 'yes' }, 'bad-request'],
      ['an unknown allowpm', { 'muc#roomconfig_allowpm': 'friends' }, 'not-acceptable'],
      ['the deprecated whois none', { 'muc#roomconfig_whois': 'none' }, 'not-acceptable'],
      [
        'an unknown role in presencebroadcast',
        { 'muc#roomconfig_presencebroadcast': ['king'] },
        'not-acceptable',
      ],
      ['a room without owners', { 'muc#roomconfig_roomowners': [] }, 'not-acceptable'],
      ['an owner that is not a JID', { 'muc#roomconfig_roomowners': ['not a jid@@'] }, 'jid-malformed'],
      ['a name too long', { 'muc#roomconfig_roomname': 'x'.repeat(1001) }, 'not-acceptable'],
      ['another FORM_TYPE', {}, 'bad-request', 'http://jabber.org/protocol/muc#register'],
    ];
    for (const [what, fields, condition, formType] of cases) {
      it(what, () => {
        expect(refusal(fields, formType)).to.equal(condition);
      });
    }
  });
});

describe('MUC configuration: the form', () => {
  it('shows every §15.5.3 field with the current values, and the options within the service limits', () => {
    const config = defaultConfig({ name: 'Cave', passwordProtected: true, password: 'pw', maxUsers: 30 });
    const form = readForm(
      configForm(config, { roomJid: 'coven@chat.example', owners: ['a@x'], admins: [], limits }),
    )!;
    expect(form.type).to.equal('form');
    expect(form.formType).to.equal(NS.MUC_ROOMCONFIG);
    expect(Object.fromEntries(form.fields)).to.deep.equal({
      'muc#roomconfig_roomname': ['Cave'],
      'muc#roomconfig_roomdesc': [''],
      'muc#roomconfig_lang': [''],
      'muc#roomconfig_enablelogging': ['0'],
      'muc#roomconfig_enablearchiving': ['1'],
      'muc#roomconfig_changesubject': ['0'],
      'muc#roomconfig_allowinvites': ['0'],
      'muc#roomconfig_allowpm': ['anyone'],
      'muc#roomconfig_maxusers': ['30'],
      'muc#roomconfig_presencebroadcast': ['moderator', 'participant', 'visitor'],
      'muc#roomconfig_getmemberlist': ['moderator', 'participant', 'visitor'],
      'muc#roomconfig_publicroom': ['1'],
      'muc#roomconfig_persistentroom': ['0'],
      'muc#roomconfig_moderatedroom': ['0'],
      'muc#roomconfig_membersonly': ['0'],
      'muc#roomconfig_passwordprotectedroom': ['1'],
      'muc#roomconfig_roomsecret': ['pw'],
      'muc#roomconfig_whois': ['moderators'],
      'muc#maxhistoryfetch': ['20'],
      'muc#roomconfig_pubsub': [],
      'muc#roomconfig_roomadmins': [],
      'muc#roomconfig_roomowners': ['a@x'],
    });
    const element = configForm(config, { roomJid: 'coven@chat.example', owners: [], admins: [], limits });
    const options = element
      .getChildren('field')
      .find((f) => f.attrs.var === 'muc#roomconfig_maxusers')!
      .getChildren('option')
      .map((o) => o.getChildText('value'));
    expect(options).to.deep.equal(['10', '20', '30', '50', '100', '200', '500', 'none']);
  });

  it('submitted back unchanged, gives the same configuration', () => {
    const config = defaultConfig({ name: 'Cave', moderated: true, whois: 'anyone', allowPm: 'moderators' });
    const form = readForm(configForm(config, { roomJid: 'r@s', owners: ['o@x'], admins: [], limits }))!;
    const again = applyConfigForm(base, { ...form, type: 'submit' }, limits);
    expect(again.config).to.deep.equal(config);
    expect(again.owners).to.deep.equal(['o@x']);
  });
});

describe('MUC configuration: what a change says (§10.2.1) and shows (§15.3)', () => {
  const cases: Array<[string, Partial<RoomConfig>, Partial<RoomConfig>, number[]]> = [
    ['nothing changed', {}, {}, []],
    ['logging enabled', {}, { logging: true }, [170]],
    ['logging disabled', { logging: true }, { logging: false }, [171]],
    ['now non-anonymous', {}, { whois: 'anyone' }, [172]],
    ['now semi-anonymous', { whois: 'anyone' }, { whois: 'moderators' }, [173]],
    ['anything else', {}, { name: 'New name' }, [104]],
    ['both kinds', {}, { logging: true, moderated: true }, [170, 104]],
  ];
  for (const [what, before, after, codes] of cases) {
    it(what, () => {
      expect(configChangeCodes(defaultConfig(before), defaultConfig(after))).to.deep.equal(codes);
    });
  }

  it('the room type features', () => {
    expect(roomTypeFeatures(defaultConfig())).to.deep.equal([
      'muc_public',
      'muc_temporary',
      'muc_open',
      'muc_unmoderated',
      'muc_semianonymous',
      'muc_unsecured',
    ]);
    expect(
      roomTypeFeatures(
        defaultConfig({
          public: false,
          persistent: true,
          membersOnly: true,
          moderated: true,
          whois: 'anyone',
          passwordProtected: true,
          password: 'pw',
        }),
      ),
    ).to.deep.equal([
      'muc_hidden',
      'muc_persistent',
      'muc_membersonly',
      'muc_moderated',
      'muc_nonanonymous',
      'muc_passwordprotected',
    ]);
  });

  it('a password is required only when the room is protected by one', () => {
    expect(requiredPassword(defaultConfig({ password: 'pw' }))).to.equal(undefined);
    expect(requiredPassword(defaultConfig({ passwordProtected: true, password: 'pw' }))).to.equal('pw');
  });

  it('a stored configuration reads back, onto the defaults for what it lacks', () => {
    const config = defaultConfig({ name: 'Stored', moderated: true, presenceBroadcast: ['moderator'] });
    expect(parseConfig(serializeConfig(config), base)).to.deep.equal(config);
    expect(parseConfig('{"name":"Old","gone":1,"moderated":"yes"}', base)).to.deep.equal({
      ...base,
      name: 'Old',
    });
    expect(parseConfig('not json', base)).to.deep.equal(base);
  });
});
