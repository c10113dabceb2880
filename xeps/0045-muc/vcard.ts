// XEP-0486: MUC Avatars — https://xmpp.org/extensions/xep-0486.html — a room's vcard-temp
// (XEP-0054), set by its owners (§3.2, forbidden to anyone else), read by anyone (§3.4), its
// photos' XEP-0153 hashes advertised in muc#roominfo (disco.ts), and status 104 to the
// occupants when it changes. An empty vCard removes it.

import { createHash } from 'node:crypto';
import { StanzaError } from '../../src/core/errors.js';
import type { JID } from '../../src/jid.js';
import { type Element, x } from '../../src/xml/element.js';
import { parseStored, serializeDetached } from '../../src/xml/fragment.js';
import { NS } from '../../src/xml/ns.js';
import type { MucContext } from './context.js';
import { notifyStatus } from './messages.js';
import type { Room } from './room.js';

/** The largest room vCard, in characters of XML (a photo counts in base64). */
export const MAX_ROOM_VCARD = 256 * 1024;

export function vcardGet(room: Room): Element {
  return room.vcard === undefined ? x('vCard', { xmlns: NS.VCARD }) : parseStored(room.vcard.xml);
}

/** §5.1: one hash per photo, of its image data (not its base64). */
export function photoHashes(vCard: Element): string[] {
  const hashes: string[] = [];
  for (const photo of vCard.getChildren('PHOTO', NS.VCARD)) {
    const binval = photo.getChildText('BINVAL', NS.VCARD);
    if (binval === undefined) continue;
    const data = Buffer.from(binval, 'base64');
    if (data.length > 0) hashes.push(createHash('sha1').update(data).digest('hex'));
  }
  return hashes;
}

export async function vcardSet(ctx: MucContext, room: Room, from: JID, payload: Element): Promise<void> {
  if (room.affiliationOf(from) !== 'owner')
    throw new StanzaError('forbidden', 'Only owners are allowed to set avatars.');
  let vcard: Room['vcard'];
  if (payload.elements.length > 0) {
    const xml = serializeDetached(payload);
    if (xml.length > MAX_ROOM_VCARD)
      throw new StanzaError(
        'not-acceptable',
        `a room's vCard may be up to ${MAX_ROOM_VCARD} characters of XML`,
      );
    vcard = { xml, hashes: photoHashes(payload) };
  }
  if (room.config.persistent && !room.locked) await ctx.store.setVCard(ctx.domain, room.name, vcard);
  room.vcard = vcard;
  notifyStatus(ctx, room, [104]);
}
