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
  // XEP-0220 server dialback, and its stream feature (which announces dialback errors)
  DIALBACK: 'jabber:server:dialback',
  DIALBACK_FEATURE: 'urn:xmpp:features:dialback',
  // XEP-0288 bidirectional server-to-server streams
  BIDI: 'urn:xmpp:bidi',
  BIDI_FEATURE: 'urn:xmpp:features:bidi',
  // RFC 6121 (rosters, roster versioning, subscription pre-approval)
  ROSTER: 'jabber:iq:roster',
  ROSTER_VER: 'urn:xmpp:features:rosterver',
  PRE_APPROVAL: 'urn:xmpp:features:pre-approval',
  // RFC 3921 legacy session establishment (RFC 6121 appendix E)
  SESSION: 'urn:ietf:params:xml:ns:xmpp-session',
  // XEP-0440 SASL channel-binding type capability
  SASL_CB: 'urn:xmpp:sasl-cb:0',
  // XEP-0198
  SM: 'urn:xmpp:sm:3',
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
  // XEP-0313 (and its disco features), XEP-0059
  MAM: 'urn:xmpp:mam:2',
  MAM_EXTENDED: 'urn:xmpp:mam:2#extended',
  MAM_GROUPCHAT_FIELD: 'urn:xmpp:mam:2#groupchat-field',
  RSM: 'http://jabber.org/protocol/rsm',
  // XEP-0122
  DATA_VALIDATE: 'http://jabber.org/protocol/xdata-validate',
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
  // XEP-0060, XEP-0163 (PEP)
  PUBSUB: 'http://jabber.org/protocol/pubsub',
  PUBSUB_EVENT: 'http://jabber.org/protocol/pubsub#event',
  PUBSUB_OWNER: 'http://jabber.org/protocol/pubsub#owner',
  PUBSUB_ERRORS: 'http://jabber.org/protocol/pubsub#errors',
  PUBSUB_NODE_CONFIG: 'http://jabber.org/protocol/pubsub#node_config',
  PUBSUB_PUBLISH_OPTIONS: 'http://jabber.org/protocol/pubsub#publish-options',
  // XEP-0084
  AVATAR_DATA: 'urn:xmpp:avatar:data',
  AVATAR_METADATA: 'urn:xmpp:avatar:metadata',
  // XEP-0398
  PEP_VCARD_CONVERSION: 'urn:xmpp:pep-vcard-conversion:0',
  // XEP-0402, XEP-0048
  BOOKMARKS: 'urn:xmpp:bookmarks:1',
  BOOKMARKS_COMPAT: 'urn:xmpp:bookmarks:1#compat',
  BOOKMARKS_COMPAT_PEP: 'urn:xmpp:bookmarks:1#compat-pep',
  STORAGE_BOOKMARKS: 'storage:bookmarks',
  // XEP-0280 (and the copying rules of its §6.2)
  CARBONS: 'urn:xmpp:carbons:2',
  CARBONS_RULES: 'urn:xmpp:carbons:rules:0',
  // XEP-0297
  FORWARD: 'urn:xmpp:forward:0',
  // XEP-0184
  RECEIPTS: 'urn:xmpp:receipts',
  // XEP-0333
  CHAT_MARKERS: 'urn:xmpp:chat-markers:0',
  // XEP-0249 direct MUC invitations
  CONFERENCE: 'jabber:x:conference',
  // XEP-0045 (and its FORM_TYPEs and disco features)
  MUC: 'http://jabber.org/protocol/muc',
  MUC_USER: 'http://jabber.org/protocol/muc#user',
  MUC_ADMIN: 'http://jabber.org/protocol/muc#admin',
  MUC_OWNER: 'http://jabber.org/protocol/muc#owner',
  MUC_ROOMCONFIG: 'http://jabber.org/protocol/muc#roomconfig',
  MUC_ROOMINFO: 'http://jabber.org/protocol/muc#roominfo',
  MUC_REQUEST: 'http://jabber.org/protocol/muc#request',
  MUC_REGISTER: 'http://jabber.org/protocol/muc#register',
  MUC_STABLE_ID: 'http://jabber.org/protocol/muc#stable_id',
  // XEP-0410 (a disco feature of rooms)
  MUC_SELF_PING: 'http://jabber.org/protocol/muc#self-ping-optimization',
  // XEP-0421
  OCCUPANT_ID: 'urn:xmpp:occupant-id:0',
  // XEP-0425 and XEP-0424 (and the :0 forms over XEP-0422 fastening that older clients send)
  MESSAGE_MODERATE: 'urn:xmpp:message-moderate:1',
  MESSAGE_RETRACT: 'urn:xmpp:message-retract:1',
  MESSAGE_RETRACT_TOMBSTONE: 'urn:xmpp:message-retract:1#tombstone',
  MESSAGE_MODERATE_0: 'urn:xmpp:message-moderate:0',
  MESSAGE_RETRACT_0: 'urn:xmpp:message-retract:0',
  FASTEN: 'urn:xmpp:fasten:0',
  // XEP-0317 (hats, and the FORM_TYPE and node prefix of their XEP-0050 commands)
  HATS: 'urn:xmpp:hats:0',
  HATS_COMMANDS: 'urn:xmpp:hats:commands',
  // XEP-0050
  COMMANDS: 'http://jabber.org/protocol/commands',
  // XEP-0352
  CSI: 'urn:xmpp:csi:0',
} as const;

export type Namespace = (typeof NS)[keyof typeof NS];
