// XEP-0280: Message Carbons, §6.1 (Recommended Rules) — which messages are copied, as the
// server promises by advertising urn:xmpp:carbons:rules:0 (§6.2); §9 <private/>; XEP-0334 §4
// <no-copy/>. Pure: the module supplies the one fact a stanza cannot tell about itself (whether
// an error answers a message that was copied).

import type { Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';

/** Which side of the conversation the account is on: it sent the message, or it receives it. */
export type CarbonDirection = 'sent' | 'received';

export type CarbonReason =
  // copied
  | 'chat'
  | 'normal-with-body'
  | 'im-payload'
  | 'invitation'
  | 'muc-private-message-sent'
  | 'error-to-copied-message'
  // not copied
  | 'private'
  | 'no-copy'
  | 'carbon'
  | 'groupchat'
  | 'muc-private-message-received'
  | 'error'
  | 'not-im';

export interface CarbonVerdict {
  readonly copy: boolean;
  readonly reason: CarbonReason;
}

// One frozen verdict per reason, so that judging a message allocates nothing.
function verdict(copy: boolean, reason: CarbonReason): CarbonVerdict {
  return Object.freeze({ copy, reason });
}

export const VERDICTS: { readonly [R in CarbonReason]: CarbonVerdict } = {
  chat: verdict(true, 'chat'),
  'normal-with-body': verdict(true, 'normal-with-body'),
  'im-payload': verdict(true, 'im-payload'),
  invitation: verdict(true, 'invitation'),
  'muc-private-message-sent': verdict(true, 'muc-private-message-sent'),
  'error-to-copied-message': verdict(true, 'error-to-copied-message'),
  private: verdict(false, 'private'),
  'no-copy': verdict(false, 'no-copy'),
  carbon: verdict(false, 'carbon'),
  groupchat: verdict(false, 'groupchat'),
  'muc-private-message-received': verdict(false, 'muc-private-message-received'),
  error: verdict(false, 'error'),
  'not-im': verdict(false, 'not-im'),
};

/** Payloads "typically used in IM" (§6.1): receipts (XEP-0184), chat states (XEP-0085), markers (XEP-0333). */
const IM_PAYLOAD_NAMESPACES: ReadonlySet<string> = new Set([NS.RECEIPTS, NS.CHATSTATES, NS.CHAT_MARKERS]);

/**
 * Whether a message is carbon-copied to the account's other resources.
 *
 * `answersCopiedMessage` matters for errors only (§6.1: an error is copied when it answers a
 * message that was eligible); for other types it is ignored.
 *
 * A message carrying <private/> or <no-copy/> is never copied, whatever else it holds (§9, and
 * XEP-0334 §4 even without <private/>), nor is one that already carries a carbon copy: copies
 * are the server's to make, and copying one would loop. Groupchat is never copied (§6.1 MUC
 * rules), and neither is a private message from a MUC occupant, which the room sends to every
 * joined client itself. Message types the server does not know count as normal (RFC 6121 §5.2.2).
 */
export function carbonVerdict(
  stanza: Element,
  direction: CarbonDirection,
  answersCopiedMessage: boolean,
): CarbonVerdict {
  let body = false;
  let imPayload = false;
  let directInvitation = false;
  let mucUser = false;
  let mediatedInvitation = false;
  for (const child of stanza.children) {
    if (typeof child === 'string') continue;
    const name = child.localName;
    const ns = child.getNS();
    switch (ns) {
      case NS.CARBONS:
        if (name === 'private') return VERDICTS.private;
        if (name === 'sent' || name === 'received') return VERDICTS.carbon;
        break;
      case NS.HINTS:
        if (name === 'no-copy') return VERDICTS['no-copy'];
        break;
      case NS.MUC_USER:
        if (name === 'x') {
          mucUser = true;
          if (child.getChild('invite') !== undefined) mediatedInvitation = true;
        }
        break;
      case NS.CONFERENCE:
        if (name === 'x') directInvitation = true;
        break;
      case undefined:
      case NS.CLIENT:
      case NS.SERVER:
        if (name === 'body') body = true;
        break;
      default:
        if (IM_PAYLOAD_NAMESPACES.has(ns)) imPayload = true;
    }
  }

  const type = stanza.attrs.type;
  if (type === 'groupchat') return VERDICTS.groupchat;
  if (type === 'error') return answersCopiedMessage ? VERDICTS['error-to-copied-message'] : VERDICTS.error;
  // A MUC occupant's private message comes from room@service/nick and carries <x xmlns=muc#user/>
  // (XEP-0045 §7.5); a mediated invitation comes from the room's bare JID.
  if (mucUser && !mediatedInvitation && hasResource(stanza.attrs[direction === 'sent' ? 'to' : 'from'])) {
    return direction === 'received'
      ? VERDICTS['muc-private-message-received']
      : VERDICTS['muc-private-message-sent'];
  }
  if (type === 'chat') return VERDICTS.chat;
  if (body && type !== 'headline') return VERDICTS['normal-with-body'];
  if (imPayload) return VERDICTS['im-payload'];
  if (directInvitation || mediatedInvitation) return VERDICTS.invitation;
  return VERDICTS['not-im'];
}

/** Whether a message carries a carbon copy (<sent/> or <received/>) as a direct child. */
export function carriesCarbon(stanza: Element): boolean {
  for (const child of stanza.children) {
    if (typeof child === 'string') continue;
    const name = child.localName;
    if ((name === 'sent' || name === 'received') && child.getNS() === NS.CARBONS) return true;
  }
  return false;
}

function hasResource(address: string | undefined): boolean {
  return address !== undefined && address.indexOf('/') > 0;
}
