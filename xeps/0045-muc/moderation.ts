// XEP-0425: Moderated Message Retraction — https://xmpp.org/extensions/xep-0425.html (0.3.0)
// with XEP-0424: Message Retraction (urn:xmpp:message-retract:1).
//
// §4 a moderator asks the room (an iq set of <moderate id='stanza-id'/> with <retract/> and
// an optional <reason/>) to retract a message by the stanza-id the room gave it (§4: "the
// stanza ID that was added by the MUC"); only moderators may (§4.2 forbidden), and only
// messages of the room's archive have such ids (item-not-found otherwise). §4.1 the room
// tells every occupant with a groupchat message from its own JID carrying <retract/> with
// <moderated by='the moderator's occupant JID'/> (and the moderator's XEP-0421 occupant id),
// then answers the iq. §5 the archived message is replaced by a tombstone: its <body/> and
// everything else it said gone, <retracted/> with <moderated/> in their place, the author's
// occupant id and the stanza-id kept. The discussion history a newcomer gets is the archive's,
// so it holds the tombstone too. The announcement itself is archived, so that clients
// catching up from the archive learn of it.
//
// XEP-0424 §5 for an occupant's own retraction: when the author retracts a message of the
// room's archive (a groupchat message with <retract id='stanza-id'/>), the room passes the
// retraction on like any message, archives it (§5: "MUST store the retraction message"), and
// replaces the original by a tombstone naming it, in the archive and in the history.
//
// COMPAT: Gajim, Conversations and Prosody 0.12 speak the first version (XEP-0425 0.2:
// urn:xmpp:message-moderate:0 inside a XEP-0422 <apply-to/>, with message-retract:0). The room
// accepts that request too, and every announcement carries both forms, so that clients of
// either version act on it.

import { randomUUID } from 'node:crypto';
import { StanzaError } from '../../src/core/errors.js';
import { Element, x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { fromStore, type RoomArchiveFeature, roomStanzaId, storedForm } from './archive.js';
import { type BroadcastEvent, MucExtensions, type RoomIqRequest } from './context.js';
import type { OccupantIds } from './occupant-id.js';
import { occupantIdElement } from './occupant-id.js';

/** What a moderator asked for. */
export interface ModerationRequest {
  /** The stanza-id (by the room) of the message to retract. */
  readonly id: string;
  readonly reason: string | undefined;
}

/** Reads a request of either version; throws bad-request for one that retracts nothing. */
export function parseModeration(payload: Element): ModerationRequest {
  let moderate: Element | undefined;
  let retractNs: string;
  let id: string | undefined;
  if (payload.getNS() === NS.FASTEN) {
    // <apply-to id xmlns='urn:xmpp:fasten:0'><moderate xmlns='…:0'><retract/>…
    id = payload.attrs.id;
    moderate = payload.getChild('moderate', NS.MESSAGE_MODERATE_0);
    retractNs = NS.MESSAGE_RETRACT_0;
  } else {
    moderate = payload;
    id = payload.attrs.id;
    retractNs = NS.MESSAGE_RETRACT;
  }
  if (moderate === undefined || moderate.getChild('retract', retractNs) === undefined)
    throw new StanzaError('bad-request', 'a moderation request must hold a <retract/>');
  if (id === undefined || id === '')
    throw new StanzaError('bad-request', 'name the message to retract by its stanza-id');
  const reason = moderate.getChildText('reason');
  return { id, reason: reason === undefined || reason === '' ? undefined : reason };
}

/** Who retracted a message. */
export interface Moderator {
  /** The moderator's occupant JID. */
  readonly by: string;
  readonly occupantId: string;
}

/** §4.1: the message that tells occupants of a retraction, in both versions (without `to`). */
export function retractionAnnouncement(
  room: string,
  id: string,
  request: ModerationRequest,
  moderator: Moderator,
  messageId: string,
): Element {
  const reason = request.reason;
  return x(
    'message',
    { from: room, type: 'groupchat', id: messageId },
    x(
      'retract',
      { xmlns: NS.MESSAGE_RETRACT, id },
      x(
        'moderated',
        { xmlns: NS.MESSAGE_MODERATE, by: moderator.by },
        occupantIdElement(moderator.occupantId),
      ),
      reason !== undefined && x('reason', null, reason),
    ),
    x(
      'apply-to',
      { xmlns: NS.FASTEN, id },
      x(
        'moderated',
        { xmlns: NS.MESSAGE_MODERATE_0, by: moderator.by },
        x('retract', { xmlns: NS.MESSAGE_RETRACT_0 }),
        reason !== undefined && x('reason', null, reason),
      ),
    ),
  );
}

/** Who retracted a message and why: a moderator (XEP-0425), or its author (XEP-0424). */
export type Retraction =
  | { readonly by: 'moderator'; readonly moderator: Moderator; readonly reason: string | undefined }
  /** `id`: the id of the author's retraction message, which the tombstone names (XEP-0424 §5). */
  | { readonly by: 'author'; readonly id: string | undefined };

/**
 * XEP-0425 §5, XEP-0424 §5: the tombstone of a retracted message: its attributes, its author's
 * occupant id and the room's stanza-id kept; everything else it carried gone.
 */
export function tombstone(original: Element, room: string, retraction: Retraction, at: number): Element {
  const stone = new Element(original.name, { ...original.attrs });
  for (const child of original.children) {
    if (typeof child === 'string') continue;
    const ns = child.getNS();
    if (
      (child.localName === 'occupant-id' && ns === NS.OCCUPANT_ID) ||
      (child.localName === 'stanza-id' && ns === NS.SID && child.attrs.by === room)
    )
      stone.append(child.clone());
  }
  const stamp = new Date(at).toISOString();
  if (retraction.by === 'author') {
    stone.append(x('retracted', { xmlns: NS.MESSAGE_RETRACT, id: retraction.id, stamp }));
    return stone;
  }
  const { moderator, reason } = retraction;
  stone.append(
    x(
      'retracted',
      { xmlns: NS.MESSAGE_RETRACT, stamp },
      x(
        'moderated',
        { xmlns: NS.MESSAGE_MODERATE, by: moderator.by },
        occupantIdElement(moderator.occupantId),
      ),
      reason !== undefined && x('reason', null, reason),
    ),
  );
  return stone;
}

export class ModerationFeature {
  constructor(
    private readonly archive: RoomArchiveFeature,
    private readonly occupantIds: OccupantIds,
    private readonly now: () => number,
  ) {}

  install(extensions: MucExtensions): void {
    extensions.roomFeatures.add((room) =>
      room.config.archiving
        ? [NS.MESSAGE_MODERATE, NS.MESSAGE_MODERATE_0, NS.MESSAGE_RETRACT, NS.MESSAGE_RETRACT_TOMBSTONE]
        : [],
    );
    // After the archive's own handler, which has just stored the retraction.
    extensions.afterBroadcast.add(this.authorRetraction);
    extensions.roomIq.set(MucExtensions.iqKey('set', NS.MESSAGE_MODERATE, 'moderate'), this.moderate);
    extensions.roomIq.set(MucExtensions.iqKey('set', NS.FASTEN, 'apply-to'), this.moderate);
  }

  /**
   * XEP-0424 §5: an occupant retracts its own message (a groupchat message with <retract/>
   * naming the room's stanza-id): the archive and the history keep a tombstone. Only the
   * author may (§6: the same user, here by real bare JID, which implies the same occupant id);
   * anyone else's retraction is passed on for clients to judge, and changes nothing here.
   */
  private readonly authorRetraction = (event: BroadcastEvent): void => {
    if (event.kind !== 'message') return;
    const { room, message } = event;
    const retract = message.getChild('retract', NS.MESSAGE_RETRACT);
    const id = retract?.attrs.id;
    if (id === undefined || !room.config.archiving) return;
    const archived = this.archive.archives.find(room.jid, id);
    if (archived === undefined || archived.nick === '' || archived.realBare !== event.real.bare) return;
    const roomJid = room.jid.bare;
    const stone = tombstone(
      fromStore(archived.stanza),
      roomJid,
      { by: 'author', id: message.attrs.id },
      event.at,
    );
    this.archive.archives.replace(archived.archive, archived.seq, storedForm(stone));
    room.history.replace((entry) => roomStanzaId(entry.stanza, roomJid) === id, stone);
  };

  private readonly moderate = (req: RoomIqRequest): undefined => {
    const { room, occupant } = req;
    const request = parseModeration(req.payload);
    if (occupant?.role !== 'moderator')
      throw new StanzaError('forbidden', "only moderators may retract others' messages");
    const roomJid = room.jid.bare;
    const archived = this.archive.archives.find(room.jid, request.id);
    if (archived === undefined)
      throw new StanzaError('item-not-found', 'this room has no message with that id');
    const moderator = {
      by: occupant.jid.full,
      occupantId: this.occupantIds.of(room.jid, occupant.bare.bare),
    };
    const now = this.now();

    const stone = tombstone(
      fromStore(archived.stanza),
      roomJid,
      { by: 'moderator', moderator, reason: request.reason },
      now,
    );
    this.archive.archives.replace(archived.archive, archived.seq, storedForm(stone));
    room.history.replace((entry) => roomStanzaId(entry.stanza, roomJid) === request.id, stone);

    const announcement = retractionAnnouncement(roomJid, request.id, request, moderator, randomUUID());
    const slot = this.archive.reserve(room, announcement, now);
    req.broadcast(announcement);
    if (slot !== undefined) this.archive.archives.append(slot, '', room.jid, storedForm(announcement));
    return undefined;
  };
}
