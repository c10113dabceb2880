// XEP-0402: PEP Native Bookmarks — https://xmpp.org/extensions/xep-0402.html — §5.3
// (compatibility): one bookmark per item in the 'urn:xmpp:bookmarks:1' node, against the single
// <storage xmlns='storage:bookmarks'/> element of XEP-0048 (in private storage, XEP-0049, or in
// the 'storage:bookmarks' PEP node, XEP-0223). Pure conversions between the two and the diff
// that turns a whole legacy list into publications and retractions (§5.3.2: unchanged
// bookmarks are not republished, so their notifications and <extensions/> are left alone).

import { tryParseJID } from '../../src/jid.js';
import { type Element, x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';

/** A bookmarked room, whichever format it came in. */
export interface Bookmark {
  /** The room's JID: the item id in XEP-0402, the 'jid' attribute in XEP-0048. */
  readonly jid: string;
  readonly name: string | undefined;
  /** As written ('true', '1', 'false'…), so that a round trip changes nothing. */
  readonly autojoin: string | undefined;
  readonly nick: string | undefined;
  readonly password: string | undefined;
  /** XEP-0402 <extensions/>: only in the native format, kept when a legacy edit comes in. */
  readonly extensions: Element | undefined;
}

function child(el: Element, name: string, ns: string): string | undefined {
  return el.getChild(name, ns)?.text;
}

/** A XEP-0402 item: its id and <conference/> payload. */
export function fromNative(id: string, conference: Element): Bookmark {
  return {
    jid: id,
    name: conference.attrs.name,
    autojoin: conference.attrs.autojoin,
    nick: child(conference, 'nick', NS.BOOKMARKS),
    password: child(conference, 'password', NS.BOOKMARKS),
    extensions: conference.getChild('extensions', NS.BOOKMARKS),
  };
}

export function toNative(b: Bookmark): Element {
  return x(
    'conference',
    { xmlns: NS.BOOKMARKS, name: b.name, autojoin: b.autojoin },
    b.nick !== undefined && x('nick', null, b.nick),
    b.password !== undefined && x('password', null, b.password),
    b.extensions?.clone(),
  );
}

/**
 * A XEP-0048 <storage/>: its conferences (those with a valid room JID, the last one of each
 * room winning) and everything else it holds (URL bookmarks, which XEP-0402 §1 drops).
 */
export function fromLegacy(storage: Element | undefined): { bookmarks: Bookmark[]; others: Element[] } {
  const byJid = new Map<string, Bookmark>();
  const others: Element[] = [];
  for (const el of storage?.elements ?? []) {
    if (el.localName !== 'conference' || el.getNS() !== NS.STORAGE_BOOKMARKS) {
      others.push(el);
      continue;
    }
    const room = tryParseJID(el.attrs.jid ?? '');
    if (room === undefined) continue;
    byJid.set(room.full, {
      jid: room.full,
      name: el.attrs.name,
      autojoin: el.attrs.autojoin,
      nick: child(el, 'nick', NS.STORAGE_BOOKMARKS),
      password: child(el, 'password', NS.STORAGE_BOOKMARKS),
      extensions: undefined,
    });
  }
  return { bookmarks: [...byJid.values()], others };
}

/** §5.3.1: the bookmarks as one XEP-0048 <storage/>, with the legacy elements kept beside them. */
export function toLegacy(bookmarks: readonly Bookmark[], others: readonly Element[] = []): Element {
  return x(
    'storage',
    { xmlns: NS.STORAGE_BOOKMARKS },
    bookmarks.map((b) =>
      x(
        'conference',
        { jid: b.jid, name: b.name, autojoin: b.autojoin },
        b.nick !== undefined && x('nick', null, b.nick),
        b.password !== undefined && x('password', null, b.password),
      ),
    ),
    others.map((el) => el.clone()),
  );
}

/** XEP-0004 booleans: 'true' and '1' are the same; absent is false (XEP-0402 §3). */
function autojoins(b: Bookmark): boolean {
  return b.autojoin === 'true' || b.autojoin === '1';
}

/** Whether two bookmarks say the same in XEP-0048's terms (extensions are not part of it). */
export function sameInLegacy(a: Bookmark, b: Bookmark): boolean {
  return (
    a.jid === b.jid &&
    (a.name ?? '') === (b.name ?? '') &&
    autojoins(a) === autojoins(b) &&
    a.nick === b.nick &&
    a.password === b.password
  );
}

/**
 * §5.3.2: what turns the native bookmarks `current` into the legacy list `wanted`: the
 * bookmarks to publish (new or changed, keeping the <extensions/> of the one they replace)
 * and the rooms to retract.
 */
export function diff(
  current: ReadonlyMap<string, Bookmark>,
  wanted: readonly Bookmark[],
): { publish: Bookmark[]; retract: string[] } {
  const publish: Bookmark[] = [];
  const kept = new Set<string>();
  for (const b of wanted) {
    kept.add(b.jid);
    const before = current.get(b.jid);
    if (before !== undefined && sameInLegacy(before, b)) continue;
    publish.push(before?.extensions === undefined ? b : { ...b, extensions: before.extensions });
  }
  const retract = [...current.keys()].filter((jid) => !kept.has(jid));
  return { publish, retract };
}
