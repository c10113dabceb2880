// How a room's stanzas leave it.
//
// What concerns one user's own state goes through the router one stanza at a time, like any
// stanza the server sends: self-presence (the IM module forgets a client's directed presence
// to a room when the room says it has left), private messages (carbons), history and subject,
// invitations, iq answers.
//
// What every occupant gets alike is spread (XEP-0045 §7.4 groupchat, and an occupant's
// presence as the others see it): serialized once, with `to` as its first attribute so that
// each copy is the same text with its own address spliced in, and handed straight to local
// sessions (blocking still applies; so do client state indication gates, inside the session).
// Occupants of other servers still go through the router.

import type { JID } from '../../src/jid.js';
import { Element } from '../../src/xml/element.js';
import type { MucContext } from './context.js';
import type { Recipient, Room } from './room.js';

/** Sends a stanza the room made (`from` and `to` set) through the router. */
export function deliver(ctx: MucContext, stanza: Element): void {
  ctx.router.send(stanza);
}

/**
 * Sends `stanza` (without `to`) to each recipient; `from` is its sender as in its `from`
 * attribute. Returns the recipients that are gone (a local session no longer bound: a ghost,
 * §18.1.2).
 */
export function spread(
  ctx: MucContext,
  stanza: Element,
  recipients: readonly Recipient[],
  from: JID,
): Recipient[] {
  const gone: Recipient[] = [];
  if (recipients.length === 0) return gone;
  const name = stanza.name;
  const attrs: Record<string, string> = { to: '' };
  for (const key in stanza.attrs) if (key !== 'to') attrs[key] = stanza.attrs[key]!;
  // A stand-in sharing the children without adopting them: it is only serialized.
  const template = new Element(name, attrs);
  template.children = stanza.children;
  const xml = template.toString();
  const head = `<${name} to="`;
  const tail = xml.slice(head.length);
  const { router, sessions } = ctx;
  const blocking = ctx.services.get('blocking');
  for (let i = 0; i < recipients.length; i++) {
    const recipient = recipients[i]!;
    const jid = recipient.jid;
    // Each recipient's own element (kept for XEP-0198 resends, read by gates), sharing the children.
    const copy = new Element(name, { ...attrs, to: jid.full });
    copy.children = template.children;
    if (!router.isLocalHost(jid.domain)) {
      router.send(copy);
      continue;
    }
    const session = sessions.get(jid);
    if (session === undefined) {
      gone.push(recipient);
      continue;
    }
    if (blocking !== undefined) {
      const blocked = blocking.blocks(jid, from);
      if (blocked === true) continue;
      if (blocked !== false) {
        // The blocklist is loading: the router's path waits for it and enforces it.
        router.send(copy);
        continue;
      }
    }
    session.sendSerialized(copy, head + recipient.to + tail);
  }
  return gone;
}

/** The groupchat fan-out: `message` to every session in the room. */
export function fanOut(ctx: MucContext, room: Room, message: Element, from: JID): Recipient[] {
  return spread(ctx, message, room.recipients(), from);
}
