// XEP-0045 §10.1.3, §10.2 and §15.5.3: a room's configuration, the muc#roomconfig form that
// shows and changes it, and what changing it means (§10.2.1 status codes, §15.3 disco
// features). Pure: the owner module (owner.ts) applies what this returns, and every field
// here is enforced somewhere in the room logic, the place named beside it.

import { StanzaError } from '../../src/core/errors.js';
import { tryParseJID } from '../../src/jid.js';
import type { Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { bool, buildForm, type FieldSpec, parseBoolean, type SubmittedForm } from './forms.js';
import type { PmPolicy, Role, RoomRules, Whois } from './permissions.js';

export interface RoomConfig extends RoomRules {
  /** muc#roomconfig_roomname: the disco identity's name (disco.ts). */
  readonly name: string;
  /** muc#roomconfig_roomdesc: muc#roominfo_description (disco.ts). */
  readonly description: string;
  /** muc#roomconfig_lang: muc#roominfo_lang (disco.ts). */
  readonly lang: string;
  /**
   * muc#roomconfig_enablelogging: the discussion is logged (or archived): status 170 on entry
   * (presence.ts) and 170/171 when it changes. The room archive reads this flag.
   */
  readonly logging: boolean;
  /**
   * muc#roomconfig_enablearchiving: the room keeps a XEP-0313 archive of its messages
   * (archive.ts), queried on its JID; for persistent rooms it also brings the history back
   * after a restart.
   */
  readonly archiving: boolean;
  /** muc#roomconfig_maxusers: entries beyond it are refused (presence.ts); 0 for none. */
  readonly maxUsers: number;
  /** muc#roomconfig_publicroom: listed in the service's disco#items (disco.ts). */
  readonly public: boolean;
  /** muc#roomconfig_persistentroom: kept in the store, and when empty (service.ts). */
  readonly persistent: boolean;
  /** muc#roomconfig_passwordprotectedroom with muc#roomconfig_roomsecret (presence.ts). */
  readonly passwordProtected: boolean;
  readonly password: string;
  /** muc#maxhistoryfetch: messages kept for, and sent to, new occupants (messages.ts). */
  readonly historyLength: number;
  /** muc#roomconfig_pubsub: an associated node's URI, shown in muc#roominfo (disco.ts). */
  readonly pubsub: string;
}

/** What the service allows, from its configuration. */
export interface ConfigLimits {
  /** The most occupants a room may have, whatever its own limit. */
  readonly maxUsers: number;
  /** The longest history a room may keep. */
  readonly maxHistory: number;
}

const ALL_ROLES: readonly Role[] = ['moderator', 'participant', 'visitor'];
const PM_POLICIES: readonly PmPolicy[] = ['anyone', 'participants', 'moderators', 'none'];
const WHOIS: readonly Whois[] = ['moderators', 'anyone'];
const MAX_USERS_CHOICES = [10, 20, 30, 50, 100, 200, 500, 1000, 5000, 10000];
/** Longest room name, description, language tag, pubsub URI and password, in characters. */
const MAX_TEXT = 1000;

export function defaultConfig(overrides: Partial<RoomConfig> = {}): RoomConfig {
  return {
    name: '',
    description: '',
    lang: '',
    logging: false,
    archiving: true,
    changeSubject: false,
    allowInvites: false,
    allowPm: 'anyone',
    maxUsers: 0,
    presenceBroadcast: ALL_ROLES,
    getMemberList: ALL_ROLES,
    public: true,
    persistent: false,
    moderated: false,
    membersOnly: false,
    passwordProtected: false,
    password: '',
    whois: 'moderators',
    historyLength: 20,
    pubsub: '',
    ...overrides,
  };
}

/** The password a joiner must give, or undefined when the room has none. */
export function requiredPassword(config: RoomConfig): string | undefined {
  return config.passwordProtected && config.password !== '' ? config.password : undefined;
}

// ---- the form ----

export interface FormContext {
  readonly roomJid: string;
  readonly owners: readonly string[];
  readonly admins: readonly string[];
  readonly limits: ConfigLimits;
}

const roleOptions = [
  { label: 'Moderator', value: 'moderator' },
  { label: 'Participant', value: 'participant' },
  { label: 'Visitor', value: 'visitor' },
];

/** §10.1.3 / §10.2: the configuration form, with the current values. */
export function configForm(config: RoomConfig, context: FormContext): Element {
  const { limits } = context;
  const userChoices = MAX_USERS_CHOICES.filter((n) => n <= limits.maxUsers);
  const fields: FieldSpec[] = [
    {
      var: 'muc#roomconfig_roomname',
      type: 'text-single',
      label: 'Natural-Language Room Name',
      values: [config.name],
    },
    {
      var: 'muc#roomconfig_roomdesc',
      type: 'text-single',
      label: 'Short Description of Room',
      values: [config.description],
    },
    {
      var: 'muc#roomconfig_lang',
      type: 'text-single',
      label: 'Natural Language for Room Discussions',
      values: [config.lang],
    },
    {
      var: 'muc#roomconfig_enablelogging',
      type: 'boolean',
      label: 'Enable Public Logging?',
      values: [bool(config.logging)],
    },
    {
      var: 'muc#roomconfig_enablearchiving',
      type: 'boolean',
      label: 'Archive the Discussion (XEP-0313)?',
      values: [bool(config.archiving)],
    },
    {
      var: 'muc#roomconfig_changesubject',
      type: 'boolean',
      label: 'Allow Occupants to Change Subject?',
      values: [bool(config.changeSubject)],
    },
    {
      var: 'muc#roomconfig_allowinvites',
      type: 'boolean',
      label: 'Allow Occupants to Invite Others?',
      values: [bool(config.allowInvites)],
    },
    {
      var: 'muc#roomconfig_allowpm',
      type: 'list-single',
      label: 'Who Can Send Private Messages?',
      values: [config.allowPm],
      options: [
        { label: 'Anyone', value: 'anyone' },
        { label: 'Anyone with Voice', value: 'participants' },
        { label: 'Moderators Only', value: 'moderators' },
        { label: 'Nobody', value: 'none' },
      ],
    },
    {
      var: 'muc#roomconfig_maxusers',
      type: 'list-single',
      label: 'Maximum Number of Occupants',
      values: [config.maxUsers === 0 ? 'none' : String(config.maxUsers)],
      options: [
        ...userChoices.map((n) => ({ label: String(n), value: String(n) })),
        { label: `None (up to ${limits.maxUsers})`, value: 'none' },
      ],
    },
    {
      var: 'muc#roomconfig_presencebroadcast',
      type: 'list-multi',
      label: 'Roles for which Presence is Broadcasted',
      values: config.presenceBroadcast,
      options: roleOptions,
    },
    {
      var: 'muc#roomconfig_getmemberlist',
      type: 'list-multi',
      label: 'Roles and Affiliations that May Retrieve Member List',
      values: config.getMemberList,
      options: roleOptions,
    },
    {
      var: 'muc#roomconfig_publicroom',
      type: 'boolean',
      label: 'Make Room Publicly Searchable?',
      values: [bool(config.public)],
    },
    {
      var: 'muc#roomconfig_persistentroom',
      type: 'boolean',
      label: 'Make Room Persistent?',
      values: [bool(config.persistent)],
    },
    {
      var: 'muc#roomconfig_moderatedroom',
      type: 'boolean',
      label: 'Make Room Moderated?',
      values: [bool(config.moderated)],
    },
    {
      var: 'muc#roomconfig_membersonly',
      type: 'boolean',
      label: 'Make Room Members-Only?',
      values: [bool(config.membersOnly)],
    },
    {
      var: 'muc#roomconfig_passwordprotectedroom',
      type: 'boolean',
      label: 'Password Required to Enter?',
      values: [bool(config.passwordProtected)],
    },
    {
      type: 'fixed',
      values: ['If a password is required to enter this room, you must specify the password below.'],
    },
    {
      var: 'muc#roomconfig_roomsecret',
      type: 'text-private',
      label: 'Password',
      values: config.password === '' ? [] : [config.password],
    },
    {
      var: 'muc#roomconfig_whois',
      type: 'list-single',
      label: 'Who May Discover Real JIDs?',
      values: [config.whois],
      options: [
        { label: 'Moderators Only', value: 'moderators' },
        { label: 'Anyone', value: 'anyone' },
      ],
    },
    {
      var: 'muc#maxhistoryfetch',
      type: 'text-single',
      label: `Maximum Number of History Messages Returned by Room (at most ${limits.maxHistory})`,
      values: [String(config.historyLength)],
    },
    {
      var: 'muc#roomconfig_pubsub',
      type: 'text-single',
      label: 'XMPP URI of Associated Publish-Subscribe Node',
      values: config.pubsub === '' ? [] : [config.pubsub],
    },
    {
      type: 'fixed',
      values: [
        'You may specify additional people who have admin status in the room. Please provide one Jabber ID per line.',
      ],
    },
    { var: 'muc#roomconfig_roomadmins', type: 'jid-multi', label: 'Room Admins', values: context.admins },
    {
      type: 'fixed',
      values: ['You may specify additional owners for this room. Please provide one Jabber ID per line.'],
    },
    { var: 'muc#roomconfig_roomowners', type: 'jid-multi', label: 'Room Owners', values: context.owners },
  ];
  return buildForm('form', NS.MUC_ROOMCONFIG, fields, {
    title: `Configuration for ${context.roomJid}`,
    instructions:
      'Complete this form to configure the room, or submit it unchanged to accept these settings.',
  });
}

// ---- a submitted form ----

export interface ConfigSubmission {
  readonly config: RoomConfig;
  /** The full owner list (bare JIDs), when the form carried one. */
  readonly owners: readonly string[] | undefined;
  /** The full admin list (bare JIDs), when the form carried one. */
  readonly admins: readonly string[] | undefined;
}

/**
 * Applies a submitted muc#roomconfig form to `current` (§10.1.3, §10.2). Fields left out keep
 * their values; unknown fields are ignored. A malformed value is bad-request; a value the
 * service refuses (a password-protected room without a password, limits beyond the
 * service's, a room without an owner) is not-acceptable, as §10.1.3 prescribes.
 */
export function applyConfigForm(
  current: RoomConfig,
  form: SubmittedForm,
  limits: ConfigLimits,
): ConfigSubmission {
  if (form.formType !== undefined && form.formType !== NS.MUC_ROOMCONFIG)
    throw new StanzaError('bad-request', `the form's FORM_TYPE must be ${NS.MUC_ROOMCONFIG}`);
  const f = form.fields;
  const one = (name: string): string | undefined => f.get(name)?.[0];
  const text = (name: string, fallback: string): string => {
    const values = f.get(name);
    if (values === undefined) return fallback;
    const value = values.join('\n');
    if (value.length > MAX_TEXT)
      throw new StanzaError('not-acceptable', `${name} is longer than ${MAX_TEXT} characters`);
    return value;
  };
  const flag = (name: string, fallback: boolean): boolean => {
    if (!f.has(name)) return fallback;
    const value = parseBoolean(one(name));
    if (value === undefined) throw new StanzaError('bad-request', `${name} must be a boolean`);
    return value;
  };
  const choice = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => {
    if (!f.has(name)) return fallback;
    const value = one(name);
    if (!allowed.includes(value as T))
      throw new StanzaError('not-acceptable', `${name} must be one of ${allowed.join(', ')}`);
    return value as T;
  };
  const roles = (name: string, fallback: readonly Role[]): readonly Role[] => {
    const values = f.get(name);
    if (values === undefined) return fallback;
    const out: Role[] = [];
    for (const value of values) {
      if (!ALL_ROLES.includes(value as Role))
        throw new StanzaError('not-acceptable', `${name}: unknown role ${value}`);
      if (!out.includes(value as Role)) out.push(value as Role);
    }
    return out;
  };

  let maxUsers = current.maxUsers;
  if (f.has('muc#roomconfig_maxusers')) {
    const value = one('muc#roomconfig_maxusers');
    if (value === 'none' || value === '' || value === undefined) maxUsers = 0;
    else {
      const n = Number(value);
      if (!Number.isSafeInteger(n) || n < 1)
        throw new StanzaError('bad-request', 'muc#roomconfig_maxusers must be a number or none');
      if (n > limits.maxUsers)
        throw new StanzaError(
          'not-acceptable',
          `this service allows at most ${limits.maxUsers} occupants in a room`,
        );
      maxUsers = n;
    }
  }

  let historyLength = current.historyLength;
  if (f.has('muc#maxhistoryfetch')) {
    const value = one('muc#maxhistoryfetch') ?? '';
    const n = value === '' ? limits.maxHistory : Number(value);
    if (!Number.isSafeInteger(n) || n < 0)
      throw new StanzaError('bad-request', 'muc#maxhistoryfetch must be a number');
    if (n > limits.maxHistory)
      throw new StanzaError(
        'not-acceptable',
        `this service keeps at most ${limits.maxHistory} messages of history`,
      );
    historyLength = n;
  }

  const password = text('muc#roomconfig_roomsecret', current.password);
  // A client that sets a password without the flag means the room to be protected by it.
  const protectedDefault = f.has('muc#roomconfig_roomsecret') ? password !== '' : current.passwordProtected;
  const passwordProtected = flag('muc#roomconfig_passwordprotectedroom', protectedDefault);
  if (passwordProtected && password === '')
    throw new StanzaError('not-acceptable', 'a password-protected room needs a password');

  const config: RoomConfig = {
    name: text('muc#roomconfig_roomname', current.name),
    description: text('muc#roomconfig_roomdesc', current.description),
    lang: text('muc#roomconfig_lang', current.lang),
    logging: flag('muc#roomconfig_enablelogging', current.logging),
    archiving: flag('muc#roomconfig_enablearchiving', current.archiving),
    changeSubject: flag('muc#roomconfig_changesubject', current.changeSubject),
    allowInvites: flag('muc#roomconfig_allowinvites', current.allowInvites),
    allowPm: choice('muc#roomconfig_allowpm', PM_POLICIES, current.allowPm),
    maxUsers,
    presenceBroadcast: roles('muc#roomconfig_presencebroadcast', current.presenceBroadcast),
    getMemberList: roles('muc#roomconfig_getmemberlist', current.getMemberList),
    public: flag('muc#roomconfig_publicroom', current.public),
    persistent: flag('muc#roomconfig_persistentroom', current.persistent),
    moderated: flag('muc#roomconfig_moderatedroom', current.moderated),
    membersOnly: flag('muc#roomconfig_membersonly', current.membersOnly),
    passwordProtected,
    password: passwordProtected ? password : '',
    whois: choice('muc#roomconfig_whois', WHOIS, current.whois),
    historyLength,
    pubsub: text('muc#roomconfig_pubsub', current.pubsub),
  };
  const owners = jidList(f.get('muc#roomconfig_roomowners'), 'muc#roomconfig_roomowners');
  if (owners !== undefined && owners.length === 0)
    throw new StanzaError('not-acceptable', 'a room needs at least one owner');
  return { config, owners, admins: jidList(f.get('muc#roomconfig_roomadmins'), 'muc#roomconfig_roomadmins') };
}

/** A jid-multi field as bare JIDs (affiliations are by bare JID, §5.2); blank lines skipped. */
function jidList(values: readonly string[] | undefined, name: string): string[] | undefined {
  if (values === undefined) return undefined;
  const out: string[] = [];
  for (const value of values) {
    if (value.trim() === '') continue;
    const jid = tryParseJID(value.trim());
    if (jid === undefined) throw new StanzaError('jid-malformed', `${name}: ${value} is not a JID`);
    if (!out.includes(jid.bare)) out.push(jid.bare);
  }
  return out;
}

// ---- what a change means ----

/**
 * §10.2.1: the status codes that tell occupants about a configuration change: 170/171 when
 * logging starts or stops, 172/173 when the room turns non-anonymous or semi-anonymous, and
 * 104 for any other change. Empty when nothing changed.
 */
export function configChangeCodes(before: RoomConfig, after: RoomConfig): number[] {
  const codes: number[] = [];
  if (!before.logging && after.logging) codes.push(170);
  if (before.logging && !after.logging) codes.push(171);
  if (before.whois !== 'anyone' && after.whois === 'anyone') codes.push(172);
  if (before.whois === 'anyone' && after.whois !== 'anyone') codes.push(173);
  const key = (k: keyof RoomConfig) => JSON.stringify(before[k]) !== JSON.stringify(after[k]);
  const others = (Object.keys(after) as (keyof RoomConfig)[]).filter((k) => k !== 'logging' && k !== 'whois');
  if (others.some(key)) codes.push(104);
  return codes;
}

/** §15.3: the features of a room's disco#info that describe its type. */
export function roomTypeFeatures(config: RoomConfig): string[] {
  return [
    config.public ? 'muc_public' : 'muc_hidden',
    config.persistent ? 'muc_persistent' : 'muc_temporary',
    config.membersOnly ? 'muc_membersonly' : 'muc_open',
    config.moderated ? 'muc_moderated' : 'muc_unmoderated',
    config.whois === 'anyone' ? 'muc_nonanonymous' : 'muc_semianonymous',
    requiredPassword(config) !== undefined ? 'muc_passwordprotected' : 'muc_unsecured',
  ];
}

// ---- storage ----

export function serializeConfig(config: RoomConfig): string {
  return JSON.stringify(config);
}

/**
 * A stored configuration read back onto the defaults: a field written by an older version
 * and since removed is dropped, one added since takes its default.
 */
export function parseConfig(json: string, defaults: RoomConfig): RoomConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    return defaults;
  }
  if (typeof raw !== 'object' || raw === null) return defaults;
  const out: Record<string, unknown> = { ...defaults };
  for (const key of Object.keys(defaults) as (keyof RoomConfig)[]) {
    const value = (raw as Record<string, unknown>)[key];
    if (value !== undefined && typeof value === typeof defaults[key]) out[key] = value;
  }
  return out as unknown as RoomConfig;
}
