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
  // XEP-0004
  DATA_FORMS: 'jabber:x:data',
} as const;

export type Namespace = (typeof NS)[keyof typeof NS];
