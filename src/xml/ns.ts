// Every XML namespace Warbler speaks, named as the specs name them. One place, so that a
// typo is a compile error rather than a silently unmatched handler.

export const NS = {
  // RFC 6120
  STREAM: 'http://etherx.jabber.org/streams',
  CLIENT: 'jabber:client',
  SERVER: 'jabber:server',
  COMPONENT: 'jabber:component:accept',
  STREAMS_ERROR: 'urn:ietf:params:xml:ns:xmpp-streams',
  STANZAS_ERROR: 'urn:ietf:params:xml:ns:xmpp-stanzas',
  TLS: 'urn:ietf:params:xml:ns:xmpp-tls',
  SASL: 'urn:ietf:params:xml:ns:xmpp-sasl',
  BIND: 'urn:ietf:params:xml:ns:xmpp-bind',
  // RFC 6121 (rosters, roster versioning, subscription pre-approval)
  ROSTER: 'jabber:iq:roster',
  ROSTER_VER: 'urn:xmpp:features:rosterver',
  PRE_APPROVAL: 'urn:xmpp:features:pre-approval',
  // RFC 3921 legacy session establishment (RFC 6121 appendix E)
  SESSION: 'urn:ietf:params:xml:ns:xmpp-session',
  // XEP-0440 SASL channel-binding type capability
  SASL_CB: 'urn:xmpp:sasl-cb:0',
  // XEP-0030
  DISCO_INFO: 'http://jabber.org/protocol/disco#info',
  DISCO_ITEMS: 'http://jabber.org/protocol/disco#items',
  // XEP-0199
  PING: 'urn:xmpp:ping',
  // XEP-0092
  VERSION: 'jabber:iq:version',
  // XEP-0202
  TIME: 'urn:xmpp:time',
  // XEP-0203
  DELAY: 'urn:xmpp:delay',
  // XEP-0012
  LAST: 'jabber:iq:last',
  // XEP-0160 (a disco feature, not a namespace)
  MSGOFFLINE: 'msgoffline',
  // XEP-0334
  HINTS: 'urn:xmpp:hints',
  // XEP-0085
  CHATSTATES: 'http://jabber.org/protocol/chatstates',
  // XEP-0359
  SID: 'urn:xmpp:sid:0',
  // XEP-0022 (obsolete message events, still sent by old clients)
  MESSAGE_EVENTS: 'jabber:x:event',
  // XEP-0004
  DATA_FORMS: 'jabber:x:data',
  // XEP-0115
  CAPS: 'http://jabber.org/protocol/caps',
  // XEP-0157 (the FORM_TYPE of XEP-0128 server information)
  SERVERINFO: 'http://jabber.org/network/serverinfo',
  // XEP-0054, XEP-0153
  VCARD: 'vcard-temp',
  VCARD_UPDATE: 'vcard-temp:x:update',
  // XEP-0049
  PRIVATE: 'jabber:iq:private',
  // XEP-0077
  REGISTER: 'jabber:iq:register',
  REGISTER_FEATURE: 'http://jabber.org/features/iq-register',
  // XEP-0191
  BLOCKING: 'urn:xmpp:blocking',
  BLOCKING_ERRORS: 'urn:xmpp:blocking:errors',
} as const;

export type Namespace = (typeof NS)[keyof typeof NS];
