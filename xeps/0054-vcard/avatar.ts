// XEP-0153: vCard-Based Avatars — https://xmpp.org/extensions/xep-0153.html
// §3.1: the hash is the SHA-1 of the image data (not of its base64), in lower-case hex;
// §4.1: an empty <photo/> says there is no image; §4.5 rule 5: whitespace in BINVAL is ignored
// (Node's base64 decoder skips it).
//
// The server adds the hash to a client's broadcast presence when the client did not: contacts
// then see avatar changes from clients that never heard of this XEP.

import { createHash } from 'node:crypto';
import type { JID } from '../../src/jid.js';
import { type Element, x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';

/** The XEP-0153 hash of a vCard's photo, or '' when it has no photo with image data. */
export function photoHash(vCard: Element): string {
  const binval = vCard.getChild('PHOTO', NS.VCARD)?.getChild('BINVAL', NS.VCARD);
  if (binval === undefined) return '';
  const data = Buffer.from(binval.text, 'base64');
  if (data.length === 0) return '';
  return createHash('sha1').update(data).digest('hex');
}

/** Whether an available presence still lacks a photo hash: it has no <photo/> in an update element. */
export function lacksPhoto(presence: Element): boolean {
  if (presence.attrs.type !== undefined) return false;
  return presence.getChild('x', NS.VCARD_UPDATE)?.getChild('photo', NS.VCARD_UPDATE) === undefined;
}

/**
 * Gives an available presence the photo hash, unless the client put one in: a client that did
 * knows best. Without an update element one is added; an update element without <photo/>
 * (a client resetting its hash, §4.3, or one that has not read the vCard yet) gets the photo
 * the server knows. Returns the <photo/> element added, or undefined when nothing changed.
 */
export function addPhoto(presence: Element, hash: string): Element | undefined {
  if (!lacksPhoto(presence)) return undefined;
  let update = presence.getChild('x', NS.VCARD_UPDATE);
  if (update === undefined) {
    update = x('x', { xmlns: NS.VCARD_UPDATE });
    presence.append(update);
  }
  const photo = x('photo');
  setPhoto(photo, hash);
  update.append(photo);
  // Inside a client's prefixed <u:x xmlns:u='vcard-temp:x:update'/>, the default namespace is another.
  if (photo.getNS() !== NS.VCARD_UPDATE) photo.attrs.xmlns = NS.VCARD_UPDATE;
  return photo;
}

/** Replaces the content of a <photo/> element: the hash, or nothing when there is no image. */
export function setPhoto(photo: Element, hash: string): void {
  photo.children.length = 0;
  if (hash !== '') photo.t(hash);
}

/**
 * The photo hashes of the accounts that have sessions bound, so that decorating a presence
 * costs a map lookup. Entries come and go with the accounts' sessions; the owner of the
 * cache says when (see the vCard module's session hooks).
 */
export class PhotoHashCache {
  private readonly hashes = new Map<string, string>();

  constructor(
    private readonly load: (account: JID) => Promise<string>,
    /** Whether an account's hash is worth keeping: it has sessions that will broadcast presence. */
    private readonly keep: (account: JID) => boolean,
  ) {}

  /** The cached hash of an account (its bare JID), if known. */
  get(bare: string): string | undefined {
    return this.hashes.get(bare);
  }

  /** The hash, from the cache or from storage (then cached). */
  async fetch(account: JID): Promise<string> {
    const known = this.hashes.get(account.bare);
    if (known !== undefined) return known;
    const loaded = await this.load(account);
    // A vCard set while the load was in flight has already put the newer hash here.
    const raced = this.hashes.get(account.bare);
    if (raced !== undefined) return raced;
    // The account's last session may have closed meanwhile; nothing would forget the entry.
    if (this.keep(account)) this.hashes.set(account.bare, loaded);
    return loaded;
  }

  /** Records a new hash after the account's vCard changed. */
  set(account: JID, hash: string): void {
    if (this.keep(account)) this.hashes.set(account.bare, hash);
  }

  forget(bare: string): void {
    this.hashes.delete(bare);
  }

  get size(): number {
    return this.hashes.size;
  }
}
