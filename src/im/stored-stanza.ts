// Stanzas kept in storage as XML text (the subscription requests of RFC 6121 §3.1.3 #4, kept
// whole with any extended content), read back with parseStored (src/xml/fragment.ts).

import type { Element } from '../xml/element.js';

/** The text to store: the stanza without a stream namespace of its own. */
export function storedForm(stanza: Element): string {
  if (stanza.attrs.xmlns === undefined) return stanza.toString();
  const copy = stanza.clone();
  delete copy.attrs.xmlns;
  return copy.toString();
}
