// XEP-0313: Message Archive Management, for rooms — https://xmpp.org/extensions/xep-0313.html
// with XEP-0359 (Unique and Stable Stanza IDs).
//
// A room with muc#roomconfig_enablearchiving on keeps its groupchat messages with a body, and
// XEP-0424 retractions (§5.2.2; subject changes are the room's state, not part of its archive
// here) and exposes the
// archive on its bare JID (§3.4.2), advertising urn:xmpp:mam:2 there (§6). Each archived
// message gets a <stanza-id/> by the room before the fan-out, so every occupant's copy carries
// it (§3.5, XEP-0359 §4); one a client put there in the room's name is removed first
// (XEP-0359 §5: it would be a forgery).
//
// Queries (§4, with the filter form, XEP-0059 paging and <flip-page/>, parsed by the user
// archive's query.ts) are answered from the room's JID with the messages as occupants got them,
// from room@service/nick. §5.2.2 access: whoever may enter the room may read it — not outcasts,
// only members in a members-only room, only occupants and members in a password-protected one.
// Real JIDs (§5.2.2 <x xmlns='…muc#user'><item jid/></x>, and the 'with' filter by real JID)
// only for those who may see them in the room (§7.2.4); the <x/> a client sent is never kept
// (§8 "MUST strip any existing <x/>").
//
// Persistent archived rooms bring their history back from the archive at start, so history
// on entry (messages.ts) survives a restart. A room that goes for good takes its archive along.

import { StanzaError } from '../../src/core/errors.js';
import type { Router } from '../../src/core/router.js';
import type { JID } from '../../src/jid.js';
import type { Logger } from '../../src/log.js';
import { Element, x } from '../../src/xml/element.js';
import { parseStored } from '../../src/xml/fragment.js';
import { NS } from '../../src/xml/ns.js';
import { parseQuery, queryForm } from '../0313-mam/query.js';
import { finElement, metadataElement, resultMessage } from '../0313-mam/results.js';
import {
  type ArchiveSlot,
  type RoomArchiveFilter,
  type RoomArchives,
  UnknownRoomArchiveId,
} from './archive-store.js';
import type { RoomConfig } from './config.js';
import { type BroadcastEvent, MucExtensions, type RoomIqRequest } from './context.js';
import { type Affiliation, affiliationAtLeast, seesRealJids } from './permissions.js';
import type { Room } from './room.js';

/** The most messages one query returns; a client asking for more pages on. */
export const MAX_PAGE = 250;

/** §5.2.2: whether a user may read a room's archive (the right to enter it, at query time). */
export function mayReadArchive(affiliation: Affiliation, isOccupant: boolean, config: RoomConfig): boolean {
  if (affiliation === 'outcast') return false;
  if (isOccupant) return true;
  if (config.membersOnly || config.passwordProtected) return affiliationAtLeast(affiliation, 'member');
  return true;
}

/** Whether a requester sees the senders' real JIDs: as it would in the room (§7.2.4). */
function seesReal(room: Room, from: JID): boolean {
  const occupant = room.occupantOf(from);
  // Admins and owners enter as moderators (§5.1.2).
  const role =
    occupant?.role ?? (affiliationAtLeast(room.affiliationOf(from), 'admin') ? 'moderator' : 'none');
  return seesRealJids(role, room.config);
}

function isStanzaIdOf(child: Element | string, room: string): boolean {
  return (
    typeof child !== 'string' &&
    child.localName === 'stanza-id' &&
    child.getNS() === NS.SID &&
    child.attrs.by === room
  );
}

/** The stanza-id a room gave a message, if any. */
export function roomStanzaId(message: Element, room: string): string | undefined {
  for (const child of message.children) if (isStanzaIdOf(child, room)) return (child as Element).attrs.id;
  return undefined;
}

function hasBody(message: Element): boolean {
  for (const child of message.children)
    if (typeof child !== 'string' && child.localName === 'body') return true;
  return false;
}

/**
 * A message as the archive keeps it: in the client namespace (a result forwards it inside
 * <forwarded/>, whose namespace it must not take), without a client's muc#user <x/> (§8).
 */
export function storedForm(message: Element): string {
  const standIn = new Element(message.name, { ...message.attrs, xmlns: NS.CLIENT });
  standIn.children = message.children.filter(
    (child) => typeof child === 'string' || child.localName !== 'x' || child.getNS() !== NS.MUC_USER,
  );
  return standIn.toString();
}

/**
 * An archived message as the room sends it again (history, a tombstone in the history): without
 * the client namespace it is stored in, so that it takes the namespace of whatever stream it
 * goes out on (jabber:server to occupants of other servers).
 */
export function fromStore(text: string): Element {
  const stanza = parseStored(text);
  if (stanza.attrs.xmlns === NS.CLIENT) delete stanza.attrs.xmlns;
  return stanza;
}

export class RoomArchiveFeature {
  /** The archive slot of each message being broadcast, from before the fan-out to after it. */
  private readonly slots = new WeakMap<Element, ArchiveSlot>();

  constructor(
    readonly archives: RoomArchives,
    private readonly router: Router,
    private readonly log: Logger,
  ) {}

  install(extensions: MucExtensions): void {
    extensions.beforeBroadcast.add(this.beforeBroadcast);
    extensions.afterBroadcast.add(this.afterBroadcast);
    extensions.roomFeatures.add((room) =>
      room.config.archiving ? [NS.MAM, NS.MAM_EXTENDED, NS.SID] : [NS.SID],
    );
    extensions.roomLoaded.add(this.loaded);
    extensions.roomDiscarded.add(this.discarded);
    const key = (type: 'get' | 'set', name: string) => MucExtensions.iqKey(type, NS.MAM, name);
    extensions.roomIq.set(key('get', 'query'), (req) => {
      this.readable(req);
      return queryForm();
    });
    extensions.roomIq.set(key('set', 'query'), (req) => this.query(req));
    extensions.roomIq.set(key('get', 'metadata'), (req) => {
      const room = this.readable(req);
      return metadataElement(this.archives.ends(room.jid));
    });
  }

  /**
   * Reserves an archive place for a message the room is about to send (with a body, in an
   * archived room) and gives the message its stanza-id; undefined when it is not archived.
   */
  reserve(room: Room, message: Element, now: number): ArchiveSlot | undefined {
    if (!room.config.archiving) return undefined;
    let slot: ArchiveSlot;
    try {
      slot = this.archives.reserve(room.jid, now);
    } catch (error) {
      // The conversation goes on without its archive rather than stopping.
      this.log.error('could not open a room archive; message not archived', { room: room.jid.bare, error });
      return undefined;
    }
    message.children.push(new Element('stanza-id', { xmlns: NS.SID, id: slot.id, by: room.jid.bare }));
    return slot;
  }

  private readonly beforeBroadcast = (event: BroadcastEvent): void => {
    const { message, room } = event;
    const by = room.jid.bare;
    // XEP-0359 §5: a stanza-id in the room's name that the room did not add is a forgery.
    if (message.children.some((child) => isStanzaIdOf(child, by)))
      message.children = message.children.filter((child) => !isStanzaIdOf(child, by));
    // XEP-0424 §5: retractions are archived, with a body or not.
    if (event.kind !== 'message' || !(hasBody(message) || message.getChild('retract', NS.MESSAGE_RETRACT)))
      return;
    const slot = this.reserve(room, message, event.at);
    if (slot !== undefined) this.slots.set(message, slot);
  };

  private readonly afterBroadcast = (event: BroadcastEvent): void => {
    const slot = this.slots.get(event.message);
    if (slot === undefined) return;
    this.slots.delete(event.message);
    this.archives.append(slot, event.sender.nick, event.real, storedForm(event.message));
  };

  /** A persistent room's history on entry comes back from its archive. */
  private readonly loaded = (room: Room): void => {
    if (!room.config.archiving) return;
    try {
      for (const message of this.archives.recent(room.jid, room.config.historyLength)) {
        const stanza = fromStore(message.stanza);
        // The archive also keeps the room's retraction notices; history is the discussion.
        if (hasBody(stanza)) room.history.push({ stanza, at: message.stamp });
      }
    } catch (error) {
      this.log.error('could not read the history of a room from its archive', { room: room.jid.bare, error });
    }
  };

  private readonly discarded = (room: Room): void => {
    try {
      this.archives.drop(room.jid);
    } catch (error) {
      this.log.error('could not delete the archive of a room', { room: room.jid.bare, error });
    }
  };

  /** The room, when the requester may read its archive; throws the error to answer otherwise. */
  private readable(req: RoomIqRequest): Room {
    const { room, from } = req;
    if (!room.config.archiving) throw new StanzaError('service-unavailable', 'this room keeps no archive');
    if (!mayReadArchive(room.affiliationOf(from), req.occupant !== undefined, room.config))
      throw new StanzaError('forbidden', 'only those who may enter this room may read its archive');
    return room;
  }

  private query(req: RoomIqRequest): Element {
    const room = this.readable(req);
    const query = parseQuery(req.payload, { maxIds: MAX_PAGE });
    const real = seesReal(room, req.from);
    const { with: withJid, ...bounds } = query.filter;
    const filter: RoomArchiveFilter = { ...bounds };
    if (withJid !== undefined) {
      if (withJid.bare === room.jid.bare) {
        if (withJid.resource !== '') filter.nick = withJid.resource;
      } else if (real) filter.realBare = withJid.bare;
      // §4.1.1: "only available to entities that would already have been allowed to know the publisher".
      else
        throw new StanzaError('forbidden', 'real JIDs are hidden in this room: filter by room@service/nick');
    }
    const max = Math.min(query.rsm.max ?? MAX_PAGE, MAX_PAGE);
    let page: ReturnType<RoomArchives['query']>;
    try {
      page = this.archives.query(room.jid, filter, query.rsm.page, max);
    } catch (err) {
      if (err instanceof UnknownRoomArchiveId) throw new StanzaError('item-not-found', err.message);
      throw err;
    }
    const to = req.from.full;
    const messages = query.flip ? [...page.messages].reverse() : page.messages;
    for (const message of messages) {
      let original: Element;
      try {
        original = parseStored(message.stanza);
      } catch (error) {
        this.log.error('an archived room message does not parse; left out', { room: room.jid.bare, error });
        continue;
      }
      // The room's own notices (a retraction) have no sender to show.
      if (real && message.nick !== '')
        original.append(x('x', { xmlns: NS.MUC_USER }, x('item', { jid: message.real })));
      // §4.2: each result before the iq result that ends the query.
      this.router.send(resultMessage(to, room.jid.bare, query.queryId, message, original));
    }
    return finElement(page);
  }
}
