// XEP-0317: Hats — https://xmpp.org/extensions/xep-0317.html (0.3.1)
//
// Roles a room defines for itself ("presenter", "teacher's assistant"), worn by users (real
// bare JIDs) and shown to everyone in their occupants' presence (§3.1, <hats/>). A client's own
// <hats/> is removed: only the room hands hats out. Owners and admins manage them with XEP-0050
// commands on the room's JID (§3.2–§3.6): create (or update) and destroy a hat, assign one to a
// user and take it back; anyone who may see the room's members lists the hats and who wears
// them. The occupants concerned are announced again when their hats change (§3.2, §3.3, §3.5
// "SHOULD broadcast the related JID presences"), and everyone is told (status 104) when the
// list of hats changes; muc#roominfo carries a hats#hash of the list (§2). The room's hats are kept in the database
// beside the room; a room that goes for good takes them along.
//
// This file is the hats of one room and the commands over them, pure; the glue with the room
// is HatsFeature at the end.

import { createHash, randomUUID } from 'node:crypto';
import { StanzaError } from '../../src/core/errors.js';
import { tryParseJID } from '../../src/jid.js';
import type { Logger } from '../../src/log.js';
import type { Db } from '../../src/storage/db.js';
import { type Element, x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { MucExtensions, type RoomIqRequest } from './context.js';
import { buildForm, type FieldSpec, readForm, type SubmittedForm } from './forms.js';
import { affiliationAtLeast } from './permissions.js';
import type { Occupant, Room } from './room.js';

export interface Hat {
  readonly uri: string;
  readonly title: string;
  /** §3.1: a hue angle (0–360) for clients to colour the hat. */
  readonly hue?: string;
}

/** The longest hat URI or title, in characters; the most hats a room defines. */
const MAX_TEXT = 1000;
const MAX_HATS = 100;
const HUE = /^\d{1,3}(?:\.\d+)?$/;

export class RoomHats {
  /** By URI, in order of creation. */
  readonly hats = new Map<string, Hat>();
  /** The URIs each real bare JID wears. */
  readonly worn = new Map<string, string[]>();

  /** The hats a user wears, in the room's order. */
  wornBy(bare: string): Hat[] {
    const uris = this.worn.get(bare);
    if (uris === undefined) return [];
    return [...this.hats.values()].filter((hat) => uris.includes(hat.uri));
  }

  /** Creates or updates a hat; returns the users wearing it (to announce again). */
  put(hat: Hat): string[] {
    if (!this.hats.has(hat.uri) && this.hats.size >= MAX_HATS)
      throw new StanzaError('not-acceptable', `a room defines at most ${MAX_HATS} hats`);
    this.hats.set(hat.uri, hat);
    return this.wearers(hat.uri);
  }

  /** Destroys a hat, taking it from everyone who wore it (§3.3); returns them. */
  destroy(uri: string): string[] {
    if (!this.hats.delete(uri)) throw new StanzaError('item-not-found', `this room has no hat ${uri}`);
    const wearers = this.wearers(uri);
    for (const bare of wearers) this.take(bare, uri);
    return wearers;
  }

  assign(bare: string, uri: string): void {
    if (!this.hats.has(uri)) throw new StanzaError('item-not-found', `this room has no hat ${uri}`);
    const uris = this.worn.get(bare) ?? [];
    if (!uris.includes(uri)) uris.push(uri);
    this.worn.set(bare, uris);
  }

  unassign(bare: string, uri: string): void {
    if (!this.worn.get(bare)?.includes(uri))
      throw new StanzaError('item-not-found', `${bare} does not wear the hat ${uri}`);
    this.take(bare, uri);
  }

  private take(bare: string, uri: string): void {
    const left = (this.worn.get(bare) ?? []).filter((u) => u !== uri);
    if (left.length === 0) this.worn.delete(bare);
    else this.worn.set(bare, left);
  }

  private wearers(uri: string): string[] {
    return [...this.worn].filter(([, uris]) => uris.includes(uri)).map(([bare]) => bare);
  }

  /**
   * §2: what muc#roominfo's hats#hash shows, for clients to tell when their copy of the list is
   * stale: SHA-1 (hex) over the hats' URIs, titles and hues in order (the XEP leaves the
   * computation to the room).
   */
  hash(): string {
    const sha1 = createHash('sha1');
    for (const hat of this.hats.values()) sha1.update(`${hat.uri}\0${hat.title}\0${hat.hue ?? ''}\0`);
    return sha1.digest('hex');
  }

  get empty(): boolean {
    return this.hats.size === 0;
  }

  serialize(): string {
    return JSON.stringify({ hats: [...this.hats.values()], worn: Object.fromEntries(this.worn) });
  }

  /** Stored hats read back; what does not parse is dropped. */
  static parse(json: string): RoomHats {
    const out = new RoomHats();
    let raw: { hats?: unknown; worn?: unknown };
    try {
      raw = JSON.parse(json) as typeof raw;
    } catch {
      return out;
    }
    if (Array.isArray(raw.hats))
      for (const hat of raw.hats as Hat[])
        if (typeof hat?.uri === 'string' && typeof hat.title === 'string')
          out.hats.set(hat.uri, hat.hue === undefined ? { uri: hat.uri, title: hat.title } : hat);
    if (typeof raw.worn === 'object' && raw.worn !== null)
      for (const [bare, uris] of Object.entries(raw.worn as Record<string, unknown>))
        if (Array.isArray(uris)) {
          const known = uris.filter((u): u is string => typeof u === 'string' && out.hats.has(u));
          if (known.length > 0) out.worn.set(bare, known);
        }
    return out;
  }
}

/** §3.1: the <hats/> of an occupant's presence. */
export function hatsElement(hats: readonly Hat[]): Element {
  return x(
    'hats',
    { xmlns: NS.HATS },
    hats.map((hat) => x('hat', { uri: hat.uri, title: hat.title, hue: hat.hue })),
  );
}

// ---- the commands ----

export const HAT_COMMANDS = {
  create: `${NS.HATS_COMMANDS}:create`,
  destroy: `${NS.HATS_COMMANDS}:destroy`,
  list: `${NS.HATS_COMMANDS}:list`,
  assign: `${NS.HATS_COMMANDS}:assign`,
  unassign: `${NS.HATS_COMMANDS}:unassign`,
  listAssigned: `${NS.HATS_COMMANDS}:list-assigned`,
} as const;

const COMMAND_NAMES: Record<string, string> = {
  [HAT_COMMANDS.create]: 'Create or update a hat',
  [HAT_COMMANDS.destroy]: 'Destroy a hat',
  [HAT_COMMANDS.list]: 'List the hats',
  [HAT_COMMANDS.assign]: 'Assign a hat',
  [HAT_COMMANDS.unassign]: 'Remove a hat',
  [HAT_COMMANDS.listAssigned]: 'List the assigned hats',
};

/** Commands that only list, for anyone who may see the room's members; the rest are for admins. */
const LISTING: ReadonlySet<string> = new Set([HAT_COMMANDS.list, HAT_COMMANDS.listAssigned]);

/** What a command did: a form to fill in, or done (with a result form, and whom it changed). */
export type CommandOutcome =
  | { readonly status: 'executing'; readonly form: Element }
  | { readonly status: 'completed'; readonly form?: Element; readonly changed: readonly string[] };

function one(form: SubmittedForm, name: string): string | undefined {
  const value = form.fields.get(name)?.[0]?.trim();
  return value === '' ? undefined : value;
}

function required(form: SubmittedForm, name: string, what: string): string {
  const value = one(form, name);
  if (value === undefined) throw new StanzaError('bad-request', `${what} (${name}) is required`);
  if (value.length > MAX_TEXT)
    throw new StanzaError('not-acceptable', `${name} is longer than ${MAX_TEXT} characters`);
  return value;
}

function bareOf(form: SubmittedForm): string {
  const text = required(form, 'hats#jid', 'the user');
  const jid = tryParseJID(text);
  if (jid === undefined) throw new StanzaError('jid-malformed', `hats#jid: ${text} is not a JID`);
  return jid.bare;
}

function hatOptions(hats: RoomHats) {
  return [...hats.hats.values()].map((hat) => ({ label: hat.title, value: hat.uri }));
}

function formFor(node: string, hats: RoomHats): Element {
  const jidField: FieldSpec = { var: 'hats#jid', type: 'jid-single', label: 'User Address', required: true };
  const uriChoice: FieldSpec = {
    var: 'hats#uri',
    type: 'list-single',
    label: 'The hat',
    required: true,
    options: hatOptions(hats),
  };
  switch (node) {
    case HAT_COMMANDS.create:
      return buildForm(
        'form',
        NS.HATS_COMMANDS,
        [
          { var: 'hats#title', type: 'text-single', label: 'Hat Title', required: true },
          { var: 'hats#uri', type: 'text-single', label: 'Hat URI', required: true },
          { var: 'hats#hue', type: 'text-single', label: 'Hat Hue' },
        ],
        {
          title: 'Creating a Hat',
          instructions: 'Fill out this form to create a hat (or update one by its URI).',
        },
      );
    case HAT_COMMANDS.destroy:
      return buildForm('form', NS.HATS_COMMANDS, [{ ...uriChoice, var: 'hat' }], {
        title: 'Destroying a Hat',
        instructions: 'Fill out this form to destroy a hat.',
      });
    case HAT_COMMANDS.assign:
      return buildForm('form', NS.HATS_COMMANDS, [jidField, uriChoice], {
        title: 'Assigning a Hat',
        instructions: 'Fill out this form to assign a hat.',
      });
    default:
      return buildForm('form', NS.HATS_COMMANDS, [jidField, uriChoice], {
        title: 'Removing a Hat',
        instructions: 'Fill out this form to remove a hat.',
      });
  }
}

/** A result form with one item per row (XEP-0004 §3.4). */
function reported(
  title: string,
  vars: readonly string[],
  rows: ReadonlyArray<Record<string, string | undefined>>,
) {
  return x(
    'x',
    { xmlns: NS.DATA_FORMS, type: 'result' },
    x('title', null, title),
    x(
      'reported',
      null,
      vars.map((v) => x('field', { var: v })),
    ),
    rows.map((row) =>
      x(
        'item',
        null,
        vars.map((v) => x('field', { var: v }, row[v] !== undefined && x('value', null, row[v]!))),
      ),
    ),
  );
}

/**
 * Runs one step of a hats command on a room's hats. `form` is the submitted form, if any:
 * without one, a command that needs one answers with it. Throws the StanzaError to answer with.
 */
export function runHatCommand(hats: RoomHats, node: string, form: SubmittedForm | undefined): CommandOutcome {
  switch (node) {
    case HAT_COMMANDS.list:
      return {
        status: 'completed',
        changed: [],
        form: reported(
          'Hats List',
          ['hats#title', 'hats#uri', 'hats#hue'],
          [...hats.hats.values()].map((h) => ({
            'hats#title': h.title,
            'hats#uri': h.uri,
            'hats#hue': h.hue,
          })),
        ),
      };
    case HAT_COMMANDS.listAssigned:
      return {
        status: 'completed',
        changed: [],
        form: reported(
          'Assigned Hats List',
          ['hats#jid', 'hats#uri', 'hats#title', 'hats#hue'],
          [...hats.worn.keys()].flatMap((bare) =>
            hats.wornBy(bare).map((h) => ({
              'hats#jid': bare,
              'hats#uri': h.uri,
              'hats#title': h.title,
              'hats#hue': h.hue,
            })),
          ),
        ),
      };
  }
  if (!(node in COMMAND_NAMES)) throw new StanzaError('item-not-found', `no such command: ${node}`);
  if (form === undefined || form.type !== 'submit') return { status: 'executing', form: formFor(node, hats) };
  if (form.formType !== undefined && form.formType !== NS.HATS_COMMANDS)
    throw new StanzaError('bad-request', `the form's FORM_TYPE must be ${NS.HATS_COMMANDS}`);
  switch (node) {
    case HAT_COMMANDS.create: {
      const title = required(form, 'hats#title', 'a title');
      const uri = required(form, 'hats#uri', 'a URI');
      const hue = one(form, 'hats#hue');
      if (hue !== undefined && (!HUE.test(hue) || Number(hue) > 360))
        throw new StanzaError('bad-request', 'hats#hue is an angle from 0 to 360');
      return {
        status: 'completed',
        changed: hats.put(hue === undefined ? { uri, title } : { uri, title, hue }),
      };
    }
    case HAT_COMMANDS.destroy: {
      // The form of §3.3 names the field 'hat'; accept the registered hats#uri too.
      const uri = one(form, 'hat') ?? required(form, 'hats#uri', 'the hat');
      return { status: 'completed', changed: hats.destroy(uri) };
    }
    case HAT_COMMANDS.assign: {
      const bare = bareOf(form);
      hats.assign(bare, required(form, 'hats#uri', 'the hat'));
      return { status: 'completed', changed: [bare] };
    }
    default: {
      const bare = bareOf(form);
      hats.unassign(bare, required(form, 'hats#uri', 'the hat'));
      return { status: 'completed', changed: [bare] };
    }
  }
}

/** The commands a requester may run: the listings for anyone who may see them, the rest for admins. */
export function commandsFor(mayList: boolean, isAdmin: boolean): string[] {
  return Object.values(HAT_COMMANDS).filter((node) => (LISTING.has(node) ? mayList || isAdmin : isAdmin));
}

// ---- the glue ----

/** The hats of every room, kept in muc_hats. */
export class HatStore {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = {
      get: db
        .prepare<[string, string], string>('SELECT hats FROM muc_hats WHERE service = ? AND name = ?')
        .pluck(),
      put: db.prepare<[string, string, string]>(
        `INSERT INTO muc_hats (service, name, hats) VALUES (?, ?, ?)
         ON CONFLICT (service, name) DO UPDATE SET hats = excluded.hats`,
      ),
      drop: db.prepare<[string, string]>('DELETE FROM muc_hats WHERE service = ? AND name = ?'),
      names: db.prepare<[string], string>('SELECT name FROM muc_hats WHERE service = ?').pluck(),
    };
  }

  get(service: string, name: string): RoomHats | undefined {
    const json = this.stmts.get.get(service, name);
    return json === undefined ? undefined : RoomHats.parse(json);
  }

  put(service: string, name: string, hats: RoomHats): void {
    if (hats.empty) this.stmts.drop.run(service, name);
    else this.stmts.put.run(service, name, hats.serialize());
  }

  drop(service: string, name: string): void {
    this.stmts.drop.run(service, name);
  }

  /** Forgets the hats of rooms not in `rooms` (temporary rooms of a server that stopped). */
  keepOnly(service: string, rooms: ReadonlySet<string>): void {
    for (const name of this.stmts.names.all(service)) if (!rooms.has(name)) this.drop(service, name);
  }
}

export class HatsFeature {
  private readonly rooms = new WeakMap<Room, RoomHats>();

  constructor(
    readonly store: HatStore,
    private readonly log: Logger,
  ) {}

  install(extensions: MucExtensions): void {
    extensions.roomFeatures.add(() => [NS.HATS, NS.COMMANDS]);
    extensions.roomInfoFields.add((room) => {
      const hats = this.rooms.get(room);
      return hats === undefined || hats.empty
        ? []
        : [{ var: 'hats#hash', type: 'text-single', label: 'Hats hash', values: [hats.hash()] }];
    });
    extensions.occupantStanza.add(({ room, occupant, stanza }) => {
      if (stanza.name === 'presence') this.dress(room, occupant, stanza);
    });
    extensions.roomLoaded.add((room) => {
      const hats = this.store.get(room.jid.domain, room.name);
      if (hats !== undefined) this.rooms.set(room, hats);
    });
    extensions.roomDiscarded.add((room) => {
      this.rooms.delete(room);
      try {
        this.store.drop(room.jid.domain, room.name);
      } catch (error) {
        this.log.error('could not delete the hats of a room', { room: room.jid.bare, error });
      }
    });
    extensions.roomItemNodes.set(NS.COMMANDS, (room, from) =>
      commandsFor(this.mayList(room, from), affiliationAtLeast(room.affiliationOf(from), 'admin')).map(
        (node) => x('item', { jid: room.jid.bare, node, name: COMMAND_NAMES[node] }),
      ),
    );
    extensions.roomIq.set(MucExtensions.iqKey('set', NS.COMMANDS, 'command'), (req) => this.command(req));
  }

  private hatsOf(room: Room): RoomHats {
    let hats = this.rooms.get(room);
    if (hats === undefined) {
      hats = new RoomHats();
      this.rooms.set(room, hats);
    }
    return hats;
  }

  /** §3.1: the occupant's hats in its presence, and no hats a client claimed. */
  private dress(room: Room, occupant: Occupant, presence: Element): void {
    const kept = presence.children.filter(
      (child) => typeof child === 'string' || child.localName !== 'hats' || child.getNS() !== NS.HATS,
    );
    const worn = this.rooms.get(room)?.wornBy(occupant.bare.bare) ?? [];
    if (worn.length > 0 && presence.attrs.type !== 'unavailable') kept.push(hatsElement(worn));
    presence.children = kept;
  }

  /** Whoever may see who is in the room (occupants, and members of it) may list its hats. */
  private mayList(room: Room, from: RoomIqRequest['from']): boolean {
    return room.occupantOf(from) !== undefined || affiliationAtLeast(room.affiliationOf(from), 'member');
  }

  private command(req: RoomIqRequest): Element {
    const { room, payload, from } = req;
    const node = payload.attrs.node ?? '';
    const sessionid = payload.attrs.sessionid ?? randomUUID();
    const answer = (status: string, form?: Element) =>
      x('command', { xmlns: NS.COMMANDS, node, sessionid, status }, form);
    if (!(node in COMMAND_NAMES)) throw new StanzaError('item-not-found', `no such command: ${node}`);
    const allowed = commandsFor(
      this.mayList(room, from),
      affiliationAtLeast(room.affiliationOf(from), 'admin'),
    );
    if (!allowed.includes(node))
      throw new StanzaError('forbidden', 'only the owners and admins of this room manage its hats');
    // XEP-0050 §4.4: a cancelled session ends with nothing done.
    if (payload.attrs.action === 'cancel') return answer('canceled');
    const hats = this.hatsOf(room);
    const outcome = runHatCommand(hats, node, readForm(payload.getChild('x', NS.DATA_FORMS)));
    if (outcome.status === 'executing') return answer('executing', outcome.form);
    if (!LISTING.has(node)) {
      this.store.put(room.jid.domain, room.name, hats);
      // §3.2, §3.3, §3.5: the occupants whose hats changed are announced again.
      for (const bare of outcome.changed)
        for (const occupant of room.occupantsOf(bare)) req.reannounce(occupant);
      // §3.2: a change to the room's list of hats is a change of its configuration (104).
      if (node === HAT_COMMANDS.create || node === HAT_COMMANDS.destroy)
        req.broadcast(
          x(
            'message',
            { from: room.jid.bare, type: 'groupchat', id: randomUUID() },
            x('x', { xmlns: NS.MUC_USER }, x('status', { code: '104' })),
          ),
        );
    }
    return answer('completed', outcome.form);
  }
}
