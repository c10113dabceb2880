// The namespaces the assistant speaks beyond the ones in src/xml/ns.ts, named as their specs
// name them. The assistant is a separate process that may run against any server, so it keeps
// its own list rather than growing the server's.

export { NS } from '../xml/ns.js';

export const BOT_NS = {
  // XEP-0045
  MUC: 'http://jabber.org/protocol/muc',
  MUC_OWNER: 'http://jabber.org/protocol/muc#owner',
  // XEP-0050
  COMMANDS: 'http://jabber.org/protocol/commands',
  // XEP-0308
  CORRECT: 'urn:xmpp:message-correct:0',
  // XEP-0359 (the same namespace as NS.SID; origin-id)
  SID: 'urn:xmpp:sid:0',
  // XEP-0372
  REFERENCE: 'urn:xmpp:reference:0',
  // XEP-0393
  STYLING: 'urn:xmpp:styling:0',
  // XEP-0428
  FALLBACK: 'urn:xmpp:fallback:0',
  // XEP-0461
  REPLY: 'urn:xmpp:reply:0',
  // XEP-0384 OMEMO: the version Conversations and Dino ship (axolotl) and the current one
  OMEMO_LEGACY: 'eu.siacs.conversations.axolotl',
  OMEMO: 'urn:xmpp:omemo:2',
  // XEP-0373 OpenPGP for XMPP, XEP-0027 legacy OpenPGP
  OPENPGP: 'urn:xmpp:openpgp:0',
  LEGACY_PGP: 'jabber:x:encrypted',
  // XEP-0380 explicit message encryption
  EME: 'urn:xmpp:eme:0',
} as const;
