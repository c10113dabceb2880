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
      'server-to-server streams are not implemented yet',
    since: '0.1.0',
    tests: [
      'test/integration/c2s.test.ts',
      'test/integration/bad-input.test.ts',
      'test/unit/xml-parser.test.ts',
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
    spec: { xep: 368 },
    title: 'SRV records for XMPP over TLS',
    version: '1.1.0',
    status: 'partial',
    note: 'direct TLS listener for clients (ALPN xmpp-client); servers not yet',
    since: '0.1.0',
    tests: ['test/integration/c2s.test.ts'],
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
