// The specs the core implements itself (modules declare theirs in their definitions).
// xeps/README.md and xeps/doap.xml are generated from these and the modules' declarations.

import type { SpecDeclaration } from './core/spec.js';

export const CORE_SPECS: readonly SpecDeclaration[] = [
  {
    spec: { rfc: 6120 },
    title: 'XMPP: Core',
    version: '1.0',
    status: 'partial',
    note:
      'client streams: STARTTLS, SASL, resource binding, stanza routing and errors, restricted XML; ' +
      'server streams: §3.2 resolution, STARTTLS or direct TLS with the peer certificate checked ' +
      '(§13.7.2), SASL EXTERNAL or dialback, stanzas accepted only for the domain pairs a stream proved ' +
      '(§8.1.1, invalid-from), several pairs on one incoming stream, one outgoing stream per pair; ' +
      'not implemented: see-other-host',
    since: '0.1.0',
    tests: [
      'test/integration/c2s.test.ts',
      'test/integration/bad-input.test.ts',
      'test/unit/xml-parser.test.ts',
      'test/integration/s2s-federation.test.ts',
      'test/integration/s2s-impostor.test.ts',
      'test/integration/s2s-bounce.test.ts',
      'test/integration/s2s-dns.test.ts',
      'test/integration/s2s-muc.test.ts',
      'test/integration/s2s-prosody.test.ts',
    ],
  },
  {
    spec: { rfc: 7622 },
    title: 'XMPP: Address Format',
    version: '1.0',
    status: 'complete',
    since: '0.1.0',
    tests: ['test/unit/jid.test.ts', 'test/unit/precis.test.ts'],
  },
  {
    spec: { rfc: 5802 },
    title: 'Salted Challenge Response Authentication Mechanism (SCRAM)',
    version: '1.0',
    status: 'complete',
    note: 'SCRAM-SHA-1 and SCRAM-SHA-1-PLUS; only StoredKey and ServerKey are stored',
    since: '0.1.0',
    tests: ['test/unit/scram.test.ts', 'test/integration/c2s.test.ts'],
  },
  {
    spec: { rfc: 7677 },
    title: 'SCRAM-SHA-256 and SCRAM-SHA-256-PLUS',
    version: '1.0',
    status: 'complete',
    since: '0.1.0',
    tests: ['test/unit/scram.test.ts', 'test/integration/sasl-mechanisms.test.ts'],
  },
  {
    spec: { rfc: 9266 },
    title: 'Channel Bindings for TLS 1.3',
    version: '1.0',
    status: 'complete',
    note: 'tls-exporter on TLS 1.3; tls-server-end-point on every TLS version',
    since: '0.1.0',
    tests: ['test/unit/tls.test.ts', 'test/integration/sasl-mechanisms.test.ts'],
  },
  {
    spec: { xep: 86 },
    title: 'Error Condition Mappings',
    version: '1.0',
    status: 'complete',
    note: 'every stanza error carries the legacy code attribute, for clients that still read it',
    since: '0.1.0',
    tests: ['test/integration/c2s.test.ts'],
  },
  {
    spec: { xep: 114 },
    title: 'Jabber Component Protocol',
    version: '1.6',
    status: 'partial',
    note:
      'the accept method (jabber:component:accept), on a loopback listener by default; one secret per ' +
      'component domain; host-unknown, not-authorized, and conflict for a second connection (the new one ' +
      'is refused); no stream features; invalid-from for a stanza from outside the domain; the connect ' +
      'method (the server dialing out) is not implemented',
    since: '0.1.0',
    tests: [
      'test/integration/component.test.ts',
      'test/integration/component-slixmpp.test.ts',
      'test/integration/component-bot.test.ts',
      'test/unit/component.test.ts',
    ],
  },
  {
    spec: { xep: 198 },
    title: 'Stream Management',
    version: '1.6.3',
    status: 'complete',
    note:
      'acks both ways (h wraps at 2^32), resumption with the unacknowledged stanzas resent, c2s.resumption_timeout ' +
      'of hibernation; a session not resumed in time routes its unacknowledged messages again (other resources ' +
      'or offline storage) and bounces its unanswered requests; no SASL2/Bind2 inline negotiation',
    since: '0.1.0',
    tests: ['test/unit/sm.test.ts', 'test/integration/stream-management.test.ts'],
  },
  {
    spec: { xep: 297 },
    title: 'Stanza Forwarding',
    version: '1.0',
    status: 'complete',
    note: 'used by message carbons and archive results',
    since: '0.1.0',
    tests: ['test/integration/carbons.test.ts', 'test/integration/mam.test.ts'],
  },
  {
    spec: { xep: 178 },
    title: 'Best Practices for Use of SASL EXTERNAL with Certificates',
    version: '1.2',
    status: 'partial',
    note:
      'between servers, both ways: offered only to a peer whose certificate chains to a trusted CA ' +
      '(system roots and s2s.ca_file) and names its domain; the authorization identity must be that ' +
      'domain; tried first when connecting, dialback after a refusal unless s2s.secure_auth; ' +
      'client certificates on client streams are not accepted',
    since: '0.1.0',
    tests: [
      'test/integration/s2s-federation.test.ts',
      'test/integration/s2s-impostor.test.ts',
      'test/integration/s2s-prosody.test.ts',
    ],
  },
  {
    spec: { xep: 185 },
    title: 'Dialback Key Generation and Validation',
    version: '1.0',
    status: 'complete',
    note: 'HMAC-SHA256 of the SHA-256 of a secret; the secret is s2s.dialback_secret or one generated once and kept in data_dir',
    since: '0.1.0',
    tests: ['test/unit/s2s-dialback.test.ts', 'test/integration/s2s-impostor.test.ts'],
  },
  {
    spec: { xep: 220 },
    title: 'Server Dialback',
    version: '1.1.1',
    status: 'complete',
    note:
      'both roles and the authoritative one; dialback errors (the urn:xmpp:features:dialback feature); ' +
      'a key is verified by asking the claimed domain over our own connection to it; several domain ' +
      'pairs on one incoming stream; a certificate trusted for the domain settles a request at once ' +
      '(XEP-0344 §2.1.1); off under s2s.secure_auth',
    since: '0.1.0',
    tests: [
      'test/integration/s2s-federation.test.ts',
      'test/integration/s2s-impostor.test.ts',
      'test/integration/s2s-outbound.test.ts',
      'test/integration/s2s-prosody.test.ts',
    ],
  },
  {
    spec: { xep: 288 },
    title: 'Bidirectional Server-to-Server Connections',
    version: '1.0.1',
    status: 'complete',
    note:
      'offered after TLS and asked for when offered (s2s.bidi); stanzas go back only for the domain pairs ' +
      "the peer proved (the stream's domains with SASL EXTERNAL, each dialback pair reversed); a peer's " +
      'bidirectional stream is preferred over a connection of our own',
    since: '0.1.0',
    tests: [
      'test/integration/s2s-federation.test.ts',
      'test/integration/s2s-impostor.test.ts',
      'test/integration/s2s-outbound.test.ts',
    ],
  },
  {
    spec: { xep: 368 },
    title: 'SRV records for XMPP over TLS',
    version: '1.1.0',
    status: 'complete',
    note:
      'direct TLS listeners for clients (ALPN xmpp-client) and servers (xmpp-server, s2s.direct_tls_port); ' +
      'outgoing server connections follow _xmpps-server as well as _xmpp-server records',
    since: '0.1.0',
    tests: [
      'test/integration/c2s.test.ts',
      'test/integration/s2s-federation.test.ts',
      'test/integration/s2s-dns.test.ts',
      'test/unit/resolve.test.ts',
      'test/integration/s2s-prosody.test.ts',
    ],
  },
  {
    spec: { xep: 440 },
    title: 'SASL Channel-Binding Type Capability',
    version: '1.0.0',
    status: 'complete',
    since: '0.1.0',
    tests: ['test/integration/sasl-mechanisms.test.ts'],
  },
];
