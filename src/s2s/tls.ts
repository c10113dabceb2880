// TLS for server-to-server streams (RFC 6120 §5, §13.7.1.2; XEP-0368 for direct TLS; XEP-0178
// for certificates as credentials). Both directions present the certificate of the local
// domain and ask for the peer's: a server connecting to us shows its certificate as a TLS
// client certificate, which is what SASL EXTERNAL rests on. Peer certificates are checked
// against the system CAs plus s2s.ca_file; an untrusted one does not fail the handshake
// (dialback can still prove the domain), it only means no EXTERNAL.

import { readFileSync } from 'node:fs';
import tls, { type SecureContext, type TlsOptions } from 'node:tls';
import { domainToASCII } from 'node:url';
import type { CertificateStore } from '../tls/store.js';

/** ALPN protocol id of XMPP server-to-server (XEP-0368 §3). */
export const ALPN_SERVER = 'xmpp-server';

/** The CAs trusted for peer certificates: Node's bundled roots and the operator's extra file. */
export function trustedCAs(caFile: string | undefined): string[] {
  const roots = [...tls.rootCertificates];
  if (caFile === undefined) return roots;
  let pem: string;
  try {
    pem = readFileSync(caFile, 'utf8');
  } catch (err) {
    throw new Error(
      `s2s.ca_file ${caFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)}): ` +
        'fix the path or remove the key',
    );
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----'))
    throw new Error(`s2s.ca_file ${caFile} holds no PEM certificate: give a file of CA certificates`);
  return [...roots, pem];
}

export class S2STls {
  /** Contexts by certificate, so a reload (new certificate text) makes new ones. */
  private readonly contexts = new Map<string, SecureContext>();

  constructor(
    private readonly certificates: CertificateStore,
    private readonly ca: readonly string[],
  ) {}

  /** The context presenting the certificate of `domain` and trusting the configured CAs. */
  contextFor(domain: string | undefined): SecureContext {
    const { cert, key } = this.certificates.keyPairFor(domain);
    let context = this.contexts.get(cert);
    if (!context) {
      if (this.contexts.size > 64) this.contexts.clear();
      context = tls.createSecureContext({ cert, key, ca: [...this.ca], minVersion: 'TLSv1.2' });
      this.contexts.set(cert, context);
    }
    return context;
  }

  /** For accepting: a TLS server socket (STARTTLS) or the direct TLS listener. */
  serverOptions(defaultDomain: string | undefined): TlsOptions {
    const { cert, key } = this.certificates.keyPairFor(defaultDomain);
    return {
      cert,
      key,
      ca: [...this.ca],
      secureContext: this.contextFor(defaultDomain),
      SNICallback: (servername, done) => done(null, this.contextFor(servername)),
      requestCert: true,
      rejectUnauthorized: false,
      ALPNProtocols: [ALPN_SERVER],
      minVersion: 'TLSv1.2',
    };
  }

  /** For connecting as `local` to `remote` (the server name, RFC 6120 §13.7.2.1). */
  clientOptions(local: string, remote: string): tls.ConnectionOptions {
    return {
      secureContext: this.contextFor(local),
      // SNI carries A-labels (RFC 6066 §3); JID domains are kept as U-labels.
      servername: domainToASCII(remote) || remote,
      ALPNProtocols: [ALPN_SERVER],
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
    };
  }
}

interface HandleWithVerifyError {
  verifyError?(): (Error & { code?: string }) | null;
}

/**
 * Sets `authorized` on a server-side TLSSocket made by hand (STARTTLS), as tls.Server does for
 * the sockets it accepts: Node checks the client's certificate chain during the handshake but
 * reports the outcome only through a tls.Server. Its own code asks the handle the same way.
 */
export function settleClientAuthorization(socket: tls.TLSSocket): void {
  const handle = (socket as unknown as { _handle?: HandleWithVerifyError })._handle;
  if (typeof handle?.verifyError !== 'function') return;
  const error = handle.verifyError();
  socket.authorized = error === null || error === undefined;
  if (error) socket.authorizationError = error as Error;
}
