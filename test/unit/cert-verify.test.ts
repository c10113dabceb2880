// Peer certificate checks (RFC 6120 §13.7.1.2, RFC 6125 §6.4): which names a certificate
// carries, which domains it proves, and a TLS connection trusting the test CA's certificates
// but not a self-signed one.

import { X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { connect, createServer, type Server, type TLSSocket } from 'node:tls';
import { expect } from 'chai';
import { certificateMatchesDomain, certificateNames, peerCertificateVerified } from '../../src/tls/verify.js';
import { createTestCA, type IssueOptions, selfSigned } from '../helpers/test-ca.js';

describe('certificate verification', () => {
  const ca = createTestCA();
  const cert = (domains: string[], options?: IssueOptions) =>
    new X509Certificate(ca.issue(domains, options).cert);

  describe('certificateNames', () => {
    it('reads dNSName, XmppAddr, SRVName and the common name', () => {
      const names = certificateNames(
        cert(['example.org'], {
          dns: ['Example.ORG', '*.example.org'],
          xmppAddr: ['bücher.example'],
          srvName: ['_xmpp-server.example.org'],
          commonName: 'cn.example.org',
        }),
      );
      expect(names).to.deep.equal({
        dns: ['example.org', '*.example.org'],
        xmppAddr: ['bücher.example'],
        srvName: ['_xmpp-server.example.org'],
        commonName: ['cn.example.org'],
      });
    });

    it('reads the same from a peer certificate object', async () => {
      const pair = ca.issue(['peer.example']);
      const peer = new X509Certificate(pair.cert);
      expect(certificateNames({ raw: peer.raw } as never).dns).to.deep.equal(['peer.example']);
    });
  });

  describe('certificateMatchesDomain', () => {
    const table: Array<[string, IssueOptions, string, boolean]> = [
      ['dNSName, exact', { dns: ['example.org'], xmppAddr: [] }, 'example.org', true],
      ['dNSName, case and root dot ignored', { dns: ['EXAMPLE.org'], xmppAddr: [] }, 'Example.Org.', true],
      ['dNSName, another domain', { dns: ['example.org'], xmppAddr: [] }, 'example.com', false],
      ['dNSName, not a suffix match', { dns: ['example.org'], xmppAddr: [] }, 'sub.example.org', false],
      ['wildcard, one label', { dns: ['*.example.org'], xmppAddr: [] }, 'chat.example.org', true],
      ['wildcard, not two labels', { dns: ['*.example.org'], xmppAddr: [] }, 'a.b.example.org', false],
      ['wildcard, not the bare domain', { dns: ['*.example.org'], xmppAddr: [] }, 'example.org', false],
      ['wildcard, not partial', { dns: ['c*.example.org'], xmppAddr: [] }, 'chat.example.org', false],
      ['wildcard, not in an inner label', { dns: ['chat.*.org'], xmppAddr: [] }, 'chat.example.org', false],
      [
        'IDN: A-label in the certificate, U-label asked',
        { dns: ['xn--bcher-kva.example'], xmppAddr: [] },
        'bücher.example',
        true,
      ],
      ['IDN: A-label asked', { dns: ['xn--bcher-kva.example'], xmppAddr: [] }, 'xn--bcher-kva.example', true],
      [
        'IDN: wildcard over an A-label',
        { dns: ['*.xn--bcher-kva.example'], xmppAddr: [] },
        'muc.bücher.example',
        true,
      ],
      ['XmppAddr, exact', { dns: [], xmppAddr: ['example.org'] }, 'example.org', true],
      ['XmppAddr, U-label', { dns: [], xmppAddr: ['bücher.example'] }, 'xn--bcher-kva.example', true],
      ['XmppAddr, no wildcards', { dns: [], xmppAddr: ['*.example.org'] }, 'chat.example.org', false],
      [
        'XmppAddr, a user JID is not the domain',
        { dns: [], xmppAddr: ['user@example.org'] },
        'example.org',
        false,
      ],
      [
        'SRVName, xmpp-server',
        { dns: [], xmppAddr: [], srvName: ['_xmpp-server.example.org'] },
        'example.org',
        true,
      ],
      [
        'SRVName, xmpps-server',
        { dns: [], xmppAddr: [], srvName: ['_xmpps-server.example.org'] },
        'example.org',
        true,
      ],
      [
        'SRVName, xmpp-client is not a server',
        { dns: [], xmppAddr: [], srvName: ['_xmpp-client.example.org'] },
        'example.org',
        false,
      ],
      [
        'SRVName, another domain',
        { dns: [], xmppAddr: [], srvName: ['_xmpp-server.example.com'] },
        'example.org',
        false,
      ],
      ['CN, when no SANs', { dns: [], xmppAddr: [], commonName: 'example.org' }, 'example.org', true],
      [
        'CN, wildcard when no SANs',
        { dns: [], xmppAddr: [], commonName: '*.example.org' },
        'chat.example.org',
        true,
      ],
      [
        'CN, ignored beside a dNSName',
        { dns: ['other.example'], xmppAddr: [], commonName: 'example.org' },
        'example.org',
        false,
      ],
      [
        'CN, ignored beside an XmppAddr',
        { dns: [], xmppAddr: ['other.example'], commonName: 'example.org' },
        'example.org',
        false,
      ],
      [
        'CN, ignored beside an SRVName',
        { dns: [], xmppAddr: [], srvName: ['_xmpp-server.other.example'], commonName: 'example.org' },
        'example.org',
        false,
      ],
      ['no names at all', { dns: [], xmppAddr: [], commonName: null }, 'example.org', false],
      ['an invalid domain asked', { dns: ['example.org'], xmppAddr: [] }, 'exa mple.org', false],
    ];
    for (const [what, options, domain, expected] of table) {
      it(`${what}: ${domain} → ${expected}`, () => {
        expect(certificateMatchesDomain(cert(['ignored.invalid'], options), domain)).to.equal(expected);
      });
    }
  });

  describe('peerCertificateVerified over TLS', () => {
    let server: Server;
    let port: number;
    let served = ca.issue(['warbler.test']);

    before(async () => {
      server = createServer((socket) => socket.end());
      server.setSecureContext({ key: served.key, cert: served.cert });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
    });

    after(() => server.close());

    function handshake(ca: string): Promise<TLSSocket> {
      return new Promise((resolve, reject) => {
        const socket = connect({
          host: '127.0.0.1',
          port,
          servername: 'warbler.test',
          ca,
          rejectUnauthorized: false,
        });
        socket.once('secureConnect', () => resolve(socket));
        socket.once('error', reject);
      });
    }

    it('accepts a certificate from the trusted CA that names the domain', async () => {
      const socket = await handshake(ca.cert);
      try {
        expect(peerCertificateVerified(socket, 'warbler.test')).to.equal(true);
        expect(peerCertificateVerified(socket, 'other.test')).to.equal(false);
        // Asking again still sees the certificate (Node 20 forgets it after getPeerX509Certificate()).
        expect(peerCertificateVerified(socket, 'warbler.test')).to.equal(true);
      } finally {
        socket.destroy();
      }
    });

    it('refuses the same certificate when that CA is not trusted', async () => {
      const socket = await handshake(createTestCA('Another CA').cert);
      try {
        expect(peerCertificateVerified(socket, 'warbler.test')).to.equal(false);
      } finally {
        socket.destroy();
      }
    });

    it('refuses a self-signed certificate naming the domain', async () => {
      served = selfSigned(['warbler.test']);
      server.setSecureContext({ key: served.key, cert: served.cert });
      const socket = await handshake(ca.cert);
      try {
        const peer = socket.getPeerCertificate();
        expect(peer.issuer).to.deep.equal(peer.subject);
        expect(certificateMatchesDomain(peer, 'warbler.test')).to.equal(true);
        expect(peerCertificateVerified(socket, 'warbler.test')).to.equal(false);
      } finally {
        socket.destroy();
      }
    });
  });
});
