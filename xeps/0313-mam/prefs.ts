// XEP-0441: Message Archive Management Preferences — https://xmpp.org/extensions/xep-0441.html
// §2.1 the <prefs/> element: the default mode and the always/never lists of JIDs, read from a
// set and written in answers (both lists present, even empty).

import { StanzaError } from '../../src/core/errors.js';
import { tryParseJID } from '../../src/jid.js';
import { type Element, x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { type DefaultMode, isDefaultMode } from './policy.js';
import type { ArchivePrefs } from './store.js';

/** Reads a <prefs/> set. A missing 'default' keeps `current`; a missing list is empty (§2.1.2, §2.1.3). */
export function parsePrefs(prefs: Element, current: DefaultMode | undefined, maxJids: number): ArchivePrefs {
  const mode = prefs.attrs.default;
  if (mode !== undefined && !isDefaultMode(mode))
    throw new StanzaError('bad-request', "'default' must be always, never or roster");
  const list = (name: string): string[] => {
    const out = new Set<string>();
    for (const holder of prefs.getChildren(name, NS.MAM)) {
      for (const item of holder.getChildren('jid', NS.MAM)) {
        const jid = tryParseJID(item.text.trim());
        if (!jid) throw new StanzaError('jid-malformed', `not a JID: ${item.text}`);
        out.add(jid.full);
      }
    }
    return [...out];
  };
  const always = list('always');
  const never = list('never');
  if (always.length + never.length > maxJids)
    throw new StanzaError('policy-violation', `at most ${maxJids} JIDs in the preference lists`);
  return { default: mode ?? current, always, never };
}

export function prefsElement(prefs: ArchivePrefs, serverDefault: DefaultMode): Element {
  const list = (name: string, jids: readonly string[]) =>
    x(
      name,
      null,
      jids.map((jid) => x('jid', null, jid)),
    );
  return x(
    'prefs',
    { xmlns: NS.MAM, default: prefs.default ?? serverDefault },
    list('always', prefs.always),
    list('never', prefs.never),
  );
}
