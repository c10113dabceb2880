// How an offline message is kept: as the XML it will be delivered as, with the XEP-0203
// delayed-delivery notation already added (XEP-0160 §2 recommends it; the stamp is the time
// the server received the message, UTC per XEP-0082 §3.2). It is read back with parseStored
// (src/xml/fragment.ts).

import { type Element, x } from '../../src/xml/element.js';
import { escapeAttr } from '../../src/xml/escape.js';
import { NS } from '../../src/xml/ns.js';

/** The reason given in the notation, as XEP-0160 §2 shows it. */
const DELAY_REASON = 'Offline Storage';

/**
 * The message serialized with `<delay from=host stamp=at/>` appended, leaving `message`
 * untouched. A notation that already claims to be from `host` is a forgery by the sender and
 * is dropped (XEP-0203 §6) — unless the message is `redelivered`: handed back by a session
 * that ended before acknowledging it (XEP-0198), when a notation from `host` is this server's
 * own, from the message's first stay in storage, and the time it gives is kept. The stanza's
 * own xmlns is left out: the stream it is delivered on implies it.
 */
export function storedForm(message: Element, host: string, at: Date, redelivered = false): string {
  let ours = false;
  let s = `<${message.name}`;
  const attrs = message.attrs;
  for (const key in attrs) {
    const value = attrs[key];
    if (value === undefined || key === 'xmlns') continue;
    s += ` ${key}="${escapeAttr(value)}"`;
  }
  s += '>';
  for (const child of message.children) {
    if (typeof child === 'string') continue; // text beside a stanza's children means nothing
    if (child.localName === 'delay' && child.attrs.from === host && child.getNS() === NS.DELAY) {
      if (!redelivered || ours) continue;
      ours = true;
    }
    s += child.toString();
  }
  if (!ours)
    s += x('delay', { xmlns: NS.DELAY, from: host, stamp: at.toISOString() }, DELAY_REASON).toString();
  return `${s}</${message.name}>`;
}
