// XEP-0421: Anonymous unique occupant identifiers for MUCs —
// https://xmpp.org/extensions/xep-0421.html
//
// §3 every presence and message a room sends from an occupant carries one <occupant-id/>,
// the room's own: one a client put there is removed (§3.3). §4 the id is stable (the same
// user, by real bare JID, gets the same id in a room every time) and unique (no one can make
// up another's): an HMAC of the room's JID and the user's real bare JID under a secret the
// service keeps in its database. It is forced on for every room, so the service advertises it
// too (§3.4). Pure but for the secret given to it.

import { createHmac } from 'node:crypto';
import type { JID } from '../../src/jid.js';
import { Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import type { MucExtensions } from './context.js';

export class OccupantIds {
  /** Ids already computed, by room and real bare JID: presence floods cost no HMAC each. */
  private readonly cache = new Map<string, string>();

  /** `secret`: at least 32 bytes, kept so that ids survive restarts. */
  constructor(private readonly secret: Buffer) {
    if (secret.length < 32) throw new Error('an occupant id secret is at least 32 bytes');
  }

  /** The id of a user (real bare JID) in a room (bare JID). */
  of(room: JID, realBare: string): string {
    const key = `${room.bare} ${realBare}`;
    let id = this.cache.get(key);
    if (id === undefined) {
      // The NUL keeps "a@b" + "c" apart from "a@bc" + "": JIDs hold no NUL.
      id = createHmac('sha256', this.secret).update(`${room.bare}\0${realBare}`).digest('base64url');
      if (this.cache.size >= 100_000) this.cache.clear();
      this.cache.set(key, id);
    }
    return id;
  }
}

/** The <occupant-id/> element. */
export function occupantIdElement(id: string): Element {
  return new Element('occupant-id', { xmlns: NS.OCCUPANT_ID, id });
}

/**
 * Gives a stanza the room's occupant id, and no other (§3.3: a client's own is replaced).
 * The stanza's children array must be the room's own (it is replaced, never mutated).
 */
export function stampOccupantId(stanza: Element, id: string): void {
  const kept = stanza.children.filter(
    (child) =>
      typeof child === 'string' || child.localName !== 'occupant-id' || child.getNS() !== NS.OCCUPANT_ID,
  );
  kept.push(occupantIdElement(id));
  stanza.children = kept;
}

/** Occupant ids on every stanza a room sends from an occupant, and the feature on every room. */
export function installOccupantIds(extensions: MucExtensions, ids: OccupantIds): void {
  extensions.roomFeatures.add(() => [NS.OCCUPANT_ID]);
  extensions.beforeBroadcast.add(({ room, sender, message }) =>
    stampOccupantId(message, ids.of(room.jid, sender.bare.bare)),
  );
  extensions.occupantStanza.add(({ room, occupant, stanza }) =>
    stampOccupantId(stanza, ids.of(room.jid, occupant.bare.bare)),
  );
}
