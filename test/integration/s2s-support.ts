// Two Warbler servers federating in one process, for the s2s integration tests: a.localhost
// and b.localhost, each with a static route to the other's s2s port, with self-signed
// certificates (so that dialback is what authenticates them) or certificates from one test CA
// (so that SASL EXTERNAL can).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createTestCA } from '../helpers/test-ca.js';

export const DOMAIN_A = 'a.localhost';
export const DOMAIN_B = 'b.localhost';

/** A TCP port nothing listens on right now (bound and released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface PairOptions {
  /** Certificates from one test CA that both trust (else each generates a self-signed one). */
  ca?: boolean;
  /** Extra keys in both [s2s] sections. */
  s2s?: string;
  /** Extra keys in [s2s] of one side only. */
  s2sA?: string;
  s2sB?: string;
  /** Extra TOML for both. */
  extraToml?: string;
  /** Route each domain to the other's direct TLS port (XEP-0368) instead of STARTTLS. */
  directTls?: boolean;
  /** Service subdomains (like "conference") of each domain, routed to that domain's server too. */
  services?: string[];
}

export interface Pair {
  a: TestServer;
  b: TestServer;
  stop(): Promise<void>;
}

/** Starts a.localhost and b.localhost, each routing the other's domain to its s2s port. */
export async function startPair(options: PairOptions = {}): Promise<Pair> {
  const [portA, portB] = [await freePort(), await freePort()];
  const [tlsPortA, tlsPortB] = options.directTls ? [await freePort(), await freePort()] : [0, 0];
  const certDir = mkdtempSync(join(tmpdir(), 'warbler-s2s-certs-'));
  let certA = '';
  let certB = '';
  let caLine = '';
  if (options.ca) {
    const ca = createTestCA();
    const write = (name: string, text: string) => {
      const file = join(certDir, name);
      writeFileSync(file, text);
      return file;
    };
    const tlsSection = (domain: string) => {
      const pair = ca.issue([domain]);
      return `[tls]\ncertificate = "${write(`${domain}.crt`, pair.cert)}"\nkey = "${write(`${domain}.key`, pair.key)}"`;
    };
    certA = tlsSection(DOMAIN_A);
    certB = tlsSection(DOMAIN_B);
    caLine = `ca_file = "${write('ca.crt', ca.cert)}"`;
  }
  const start = (
    domain: string,
    port: number,
    tlsPort: number,
    other: string,
    otherPort: number,
    own: string | undefined,
    cert: string,
  ) =>
    startTestServer({
      hosts: [domain],
      s2s: [
        `port = ${port}`,
        options.directTls ? `direct_tls_port = ${tlsPort}` : 'direct_tls = false',
        caLine,
        options.s2s ?? '',
        own ?? '',
      ].join('\n'),
      extraToml: [
        ...[other, ...(options.services ?? []).map((service) => `${service}.${other}`)].flatMap((name) => [
          `[s2s.routes."${name}"]`,
          'host = "127.0.0.1"',
          `port = ${otherPort}`,
          options.directTls ? 'direct_tls = true' : '',
        ]),
        cert,
        // Stanzas exactly as sent: no archive ids, no avatar hashes in presence.
        '[modules]',
        'disabled = ["mam", "vcard"]',
        options.extraToml ?? '',
      ].join('\n'),
    });
  const a = await start(
    DOMAIN_A,
    portA,
    tlsPortA,
    DOMAIN_B,
    options.directTls ? tlsPortB : portB,
    options.s2sA,
    certA,
  );
  let b: TestServer;
  try {
    b = await start(
      DOMAIN_B,
      portB,
      tlsPortB,
      DOMAIN_A,
      options.directTls ? tlsPortA : portA,
      options.s2sB,
      certB,
    );
  } catch (err) {
    await a.stop();
    throw err;
  }
  return {
    a,
    b,
    async stop() {
      await Promise.all([a.stop(), b.stop()]);
      rmSync(certDir, { recursive: true, force: true });
    },
  };
}
