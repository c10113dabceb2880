// TLS certificates: self-signed generation (RFC 5280 structure, RFC 6125 names), the
// certificate store (generation and reuse, configured files, SNI, reload, `warbler check`)
// and channel bindings (RFC 5929 §4 tls-server-end-point, RFC 9266 tls-exporter), over real
// TLS connections on 127.0.0.1.

import { createHash, createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer as createTcpServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ConnectionOptions,
  connect,
  createSecureContext,
  createServer,
  TLSSocket,
  type TlsOptions,
} from 'node:tls';
import { expect } from 'chai';
import forge from 'node-forge';
import type { Logger, LogLevel } from '../../src/log.js';
import {
  advertisedChannelBindings,
  channelBindings,
  tlsServerEndPoint,
} from '../../src/tls/channel-binding.js';
import { generateSelfSigned } from '../../src/tls/selfsigned.js';
import {
  CertificateError,
  CertificateStore,
  type CertificateStoreOptions,
  certificateCovers,
  writeSelfSigned,
} from '../../src/tls/store.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

describe('tls', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'warbler-tls-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('generateSelfSigned', () => {
    it('makes an ECDSA P-256 server and client certificate for the hosts and their subdomains', () => {
      const before = Math.floor(Date.now() / 1000) * 1000;
      const { cert, key } = generateSelfSigned({ hosts: ['example.org', 'Other.Test'], days: 10 });
      const after = Date.now();
      const x509 = new X509Certificate(cert);

      expect(x509.subject).to.equal('CN=example.org');
      expect(x509.issuer).to.equal('CN=example.org');
      expect(x509.subjectAltName).to.equal(
        'DNS:example.org, DNS:*.example.org, DNS:other.test, DNS:*.other.test',
      );
      expect(x509.ca).to.equal(false);
      expect(x509.keyUsage).to.deep.equal(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
      expect(x509.publicKey.asymmetricKeyType).to.equal('ec');
      expect(x509.publicKey.asymmetricKeyDetails).to.deep.equal({ namedCurve: 'prime256v1' });
      expect(x509.checkPrivateKey(createPrivateKey(key))).to.equal(true);
      expect(x509.verify(x509.publicKey)).to.equal(true);

      const notBefore = Date.parse(x509.validFrom);
      const notAfter = Date.parse(x509.validTo);
      expect(notBefore).to.be.within(before - HOUR_MS, after - HOUR_MS);
      expect(notAfter - notBefore).to.equal(10 * DAY_MS + HOUR_MS);

      // 16 bytes, the top bit clear (positive) and the top byte non-zero (DER-minimal).
      expect(x509.serialNumber).to.match(/^[4-7][0-9A-F]{31}$/);
      expect(generateSelfSigned({ hosts: ['example.org'] }).cert).to.not.equal(cert);
    });

    it('defaults to 825 days', () => {
      const x509 = new X509Certificate(generateSelfSigned({ hosts: ['example.org'] }).cert);
      expect(Date.parse(x509.validTo) - Date.parse(x509.validFrom)).to.equal(825 * DAY_MS + HOUR_MS);
    });

    it('writes internationalized domains as A-labels and IP literals as iPAddress', () => {
      const x509 = new X509Certificate(
        generateSelfSigned({ hosts: ['bücher.example', '192.0.2.7', '[2001:db8::1]'] }).cert,
      );
      expect(x509.subject).to.equal('CN=xn--bcher-kva.example');
      expect(x509.subjectAltName).to.equal(
        'DNS:xn--bcher-kva.example, DNS:*.xn--bcher-kva.example, IP Address:192.0.2.7, ' +
          'IP Address:2001:DB8:0:0:0:0:0:1',
      );
    });

    it('puts a host too long for a common name only in a critical subjectAltName', () => {
      const long = `${'a'.repeat(60)}.example`;
      const { cert } = generateSelfSigned({ hosts: [long] });
      const x509 = new X509Certificate(cert);
      expect(x509.subject).to.equal('O=Warbler');
      expect(x509.subjectAltName).to.equal(`DNS:${long}, DNS:*.${long}`);
      expect(extensionCritical(cert, '2.5.29.17')).to.equal(true);
      expect(extensionCritical(generateSelfSigned({ hosts: ['example.org'] }).cert, '2.5.29.17')).to.equal(
        false,
      );
    });

    it('refuses no hosts, and a validity that is not a positive number of days', () => {
      expect(() => generateSelfSigned({ hosts: [] })).to.throw(RangeError);
      expect(() => generateSelfSigned({ hosts: ['example.org'], days: 0 })).to.throw(RangeError);
      expect(() => generateSelfSigned({ hosts: ['example.org'], days: Number.NaN })).to.throw(RangeError);
    });

    it('is accepted by a TLS client that trusts it, for the host and its subdomains', async () => {
      const pair = generateSelfSigned({ hosts: ['example.org'] });
      expect(() => createSecureContext(pair)).to.not.throw();
      for (const servername of ['example.org', 'conference.example.org']) {
        const connection = await handshake(pair, { servername, ca: pair.cert });
        expect(connection.client.authorized).to.equal(true);
        connection.close();
      }
      const sibling = await handshakeError(pair, { servername: 'example.net', ca: pair.cert });
      expect(sibling.code).to.equal('ERR_TLS_CERT_ALTNAME_INVALID');
    });
  });

  describe('certificateCovers', () => {
    const withSan = new X509Certificate(generateSelfSigned({ hosts: ['example.org'] }).cert);
    const cases: [string, boolean][] = [
      ['example.org', true],
      ['EXAMPLE.org', true],
      ['example.org.', true],
      ['conference.example.org', true],
      ['upload.example.org', true],
      ['a.b.example.org', false],
      ['example.net', false],
      ['badexample.org', false],
      ['org', false],
      ['127.0.0.1', false],
    ];
    for (const [host, covered] of cases) {
      it(`${covered ? 'covers' : 'does not cover'} ${host} with dNSName example.org, *.example.org`, () => {
        expect(certificateCovers(withSan, host)).to.equal(covered);
      });
    }

    it('matches internationalized domains by their A-labels, and IP addresses by iPAddress', () => {
      const x509 = new X509Certificate(generateSelfSigned({ hosts: ['bücher.example', '192.0.2.7'] }).cert);
      expect(certificateCovers(x509, 'bücher.example')).to.equal(true);
      expect(certificateCovers(x509, 'muc.xn--bcher-kva.example')).to.equal(true);
      expect(certificateCovers(x509, '192.0.2.7')).to.equal(true);
      expect(certificateCovers(x509, '192.0.2.8')).to.equal(false);
    });

    it('falls back to the common name only when there is no dNSName', () => {
      const cnOnly = new X509Certificate(rsaCertificate({ commonName: 'legacy.example', altNames: [] }).cert);
      expect(certificateCovers(cnOnly, 'legacy.example')).to.equal(true);
      expect(certificateCovers(cnOnly, 'other.example')).to.equal(false);
      const both = new X509Certificate(
        rsaCertificate({ commonName: 'legacy.example', altNames: ['new.example'] }).cert,
      );
      expect(certificateCovers(both, 'new.example')).to.equal(true);
      expect(certificateCovers(both, 'legacy.example')).to.equal(false);
    });
  });

  describe('CertificateStore', () => {
    it('generates a self-signed certificate per host, key readable by the owner only', async () => {
      const generated = join(dir, 'certs');
      const store = await loadedStore({ hosts: ['example.org', 'chat.test'], generatedDir: generated });
      for (const host of ['example.org', 'chat.test']) {
        const x509 = new X509Certificate(await readFile(join(generated, `${host}.crt`)));
        expect(x509.subjectAltName).to.equal(`DNS:${host}, DNS:*.${host}`);
        expect((await stat(join(generated, `${host}.key`))).mode & 0o777).to.equal(0o600);
      }
      expect((await stat(generated)).mode & 0o777).to.equal(0o700);
      expect(await servedSubject(store, 'chat.test')).to.equal('CN=chat.test');
    });

    it('reuses generated certificates across restarts, and regenerates a deleted one', async () => {
      const first = await loadedStore({ hosts: ['example.org'], generatedDir: dir });
      const original = await servedFingerprint(first, 'example.org');
      expect(await fileFingerprint(join(dir, 'example.org.crt'))).to.equal(original);

      const second = await loadedStore({ hosts: ['example.org'], generatedDir: dir });
      expect(await servedFingerprint(second, 'example.org')).to.equal(original);

      await unlink(join(dir, 'example.org.crt'));
      const third = await loadedStore({ hosts: ['example.org'], generatedDir: dir });
      const regenerated = await servedFingerprint(third, 'example.org');
      expect(regenerated).to.not.equal(original);
      expect(await fileFingerprint(join(dir, 'example.org.crt'))).to.equal(regenerated);
    });

    it('regenerates a generated certificate that expired, names another host, or lost its key', async () => {
      const expired = await writeSelfSigned(dir, ['example.org'], 1e-9);
      const expiredFingerprint = await fileFingerprint(expired.certificate);
      await loadedStore({ hosts: ['example.org'], generatedDir: dir });
      const renewed = new X509Certificate(await readFile(expired.certificate));
      expect(renewed.fingerprint256).to.not.equal(expiredFingerprint);
      expect(Date.parse(renewed.validTo)).to.be.greaterThan(Date.now());

      const other = await writeSelfSigned(join(dir, 'other'), ['other.test']);
      await writeFile(expired.certificate, await readFile(other.certificate));
      await writeFile(expired.key, await readFile(other.key));
      await loadedStore({ hosts: ['example.org'], generatedDir: dir });
      expect(new X509Certificate(await readFile(expired.certificate)).subject).to.equal('CN=example.org');

      const beforeKeyLoss = await fileFingerprint(expired.certificate);
      await writeFile(expired.key, await readFile(other.key));
      await loadedStore({ hosts: ['example.org'], generatedDir: dir });
      expect(await fileFingerprint(expired.certificate)).to.not.equal(beforeKeyLoss);
    });

    it('serves configured files, intermediates included, and generates nothing for them', async () => {
      const root = rsaCertificate({ commonName: 'Test Root', altNames: [], ca: true });
      const intermediate = rsaCertificate({
        commonName: 'Test Intermediate',
        altNames: [],
        ca: true,
        issuer: root,
      });
      const leaf = rsaCertificate({
        commonName: 'example.org',
        altNames: ['example.org'],
        issuer: intermediate,
      });
      const files = { certificate: join(dir, 'fullchain.pem'), key: join(dir, 'privkey.pem') };
      await writeFile(files.key, leaf.key);
      const generated = join(dir, 'generated');
      const options = {
        hosts: ['example.org'],
        files: new Map([['example.org', files]]),
        generatedDir: generated,
      };

      // Verifiable only with the intermediate the server sends: the client trusts just the root.
      await writeFile(files.certificate, leaf.cert + intermediate.cert);
      const store = await loadedStore(options);
      const connection = await handshake(store.serverOptions([]), {
        servername: 'example.org',
        ca: root.cert,
      });
      expect(connection.client.authorized).to.equal(true);
      expect(connection.client.getPeerX509Certificate()!.fingerprint256).to.equal(
        new X509Certificate(leaf.cert).fingerprint256,
      );
      connection.close();
      await expectMissing(generated);

      await writeFile(files.certificate, leaf.cert);
      const leafOnly = await loadedStore(options);
      const error = await handshakeError(leafOnly.serverOptions([]), {
        servername: 'example.org',
        ca: root.cert,
      });
      expect(error.code).to.equal('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    });

    it('serves the fallback certificate to every host without its own', async () => {
      const shared = await writeSelfSigned(join(dir, 'shared'), ['a.test', 'b.test']);
      const own = await writeSelfSigned(join(dir, 'own'), ['c.test']);
      const store = await loadedStore({
        hosts: ['a.test', 'b.test', 'c.test'],
        files: new Map([['c.test', own]]),
        fallback: shared,
        generatedDir: join(dir, 'generated'),
      });
      const sharedFingerprint = await fileFingerprint(shared.certificate);
      expect(await servedFingerprint(store, 'a.test')).to.equal(sharedFingerprint);
      expect(await servedFingerprint(store, 'b.test')).to.equal(sharedFingerprint);
      expect(await servedFingerprint(store, 'c.test')).to.equal(await fileFingerprint(own.certificate));
      expect(store.contextFor('a.test')).to.equal(store.contextFor('b.test'));
      await expectMissing(join(dir, 'generated'));
    });

    it('refuses a key that is not the certificate’s, naming the key file', async () => {
      const files = await writeSelfSigned(join(dir, 'a'), ['example.org']);
      const stranger = await writeSelfSigned(join(dir, 'b'), ['example.org']);
      const mismatched = { certificate: files.certificate, key: stranger.key };
      const error = await loadError({
        hosts: ['example.org'],
        files: new Map([['example.org', mismatched]]),
      });
      expect(error.code).to.equal('key-mismatch');
      expect(error.path).to.equal(stranger.key);
      expect(error.message).to.equal(
        `private key ${stranger.key} does not match certificate ${files.certificate}: ` +
          'configure the key that was issued with this certificate',
      );
    });

    it('refuses a certificate that does not cover its host, saying what it names and what to do', async () => {
      const files = await writeSelfSigned(dir, ['example.org']);
      const error = await loadError({ hosts: ['chat.test'], fallback: files });
      expect(error.code).to.equal('not-covering');
      expect(error.message).to.equal(
        `certificate ${files.certificate} does not cover chat.test (it names example.org, *.example.org): ` +
          'set [tls.hosts."chat.test"] or run `warbler cert generate`',
      );
    });

    it('refuses missing files, garbage certificates and garbage keys', async () => {
      const files = await writeSelfSigned(dir, ['example.org']);
      const missing = { certificate: join(dir, 'nope.crt'), key: files.key };
      const missingError = await loadError({ hosts: ['example.org'], fallback: missing });
      expect([missingError.code, missingError.path]).to.deep.equal(['unreadable', missing.certificate]);
      expect(missingError.message).to.match(/^cannot read certificate .*nope\.crt \(ENOENT/);

      const garbage = join(dir, 'garbage.pem');
      await writeFile(garbage, 'not a certificate\n');
      const certError = await loadError({
        hosts: ['example.org'],
        fallback: { ...files, certificate: garbage },
      });
      expect([certError.code, certError.path]).to.deep.equal(['not-a-certificate', garbage]);
      const keyError = await loadError({ hosts: ['example.org'], fallback: { ...files, key: garbage } });
      expect([keyError.code, keyError.path]).to.deep.equal(['bad-key', garbage]);
    });

    it('chooses the certificate by SNI: exact host, then parent host, then the first host', async () => {
      const store = await loadedStore({ hosts: ['a.test', 'b.test'], generatedDir: dir });
      const cases: [string | undefined, string][] = [
        ['a.test', 'CN=a.test'],
        ['b.test', 'CN=b.test'],
        ['B.TEST', 'CN=b.test'],
        ['conference.b.test', 'CN=b.test'],
        ['deep.conference.b.test', 'CN=b.test'],
        ['unknown.example', 'CN=a.test'],
        [undefined, 'CN=a.test'],
      ];
      for (const [servername, subject] of cases) {
        expect(await servedSubject(store, servername), `tls.Server, SNI ${servername}`).to.equal(subject);
        expect(await servedSubject(store, servername, 'starttls'), `STARTTLS, SNI ${servername}`).to.equal(
          subject,
        );
      }
    });

    it('prefers a subdomain’s own certificate over its parent’s', async () => {
      const muc = await writeSelfSigned(join(dir, 'muc'), ['conference.example.org']);
      const store = await loadedStore({
        hosts: ['example.org'],
        files: new Map([['conference.example.org', muc]]),
        generatedDir: dir,
      });
      expect(await servedSubject(store, 'conference.example.org')).to.equal('CN=conference.example.org');
      expect(await servedSubject(store, 'upload.example.org')).to.equal('CN=example.org');
    });

    it('negotiates ALPN and refuses TLS 1.1', async () => {
      const store = await loadedStore({ hosts: ['example.org'], generatedDir: dir });
      const options = store.serverOptions(['xmpp-client']);
      expect(options.minVersion).to.equal('TLSv1.2');
      // STARTTLS sockets share the store's context instead of building one per connection.
      expect(options.secureContext).to.equal(store.contextFor('example.org'));
      const connection = await handshake(options, {
        servername: 'example.org',
        ALPNProtocols: ['xmpp-client'],
      });
      expect(connection.client.alpnProtocol).to.equal('xmpp-client');
      connection.close();
      // The client is let down to security level 0 so that it offers TLS 1.1 at all: the
      // refusal must come from the server, as a protocol_version alert.
      const old = await handshakeError(options, {
        servername: 'example.org',
        minVersion: 'TLSv1',
        maxVersion: 'TLSv1.1',
        ciphers: 'DEFAULT@SECLEVEL=0',
      });
      expect(old.code).to.equal('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
    });

    it('reloads replaced files, and keeps the old certificates when the new ones are garbage', async () => {
      const lines: string[] = [];
      const log = recordingLogger(lines);
      const files = await writeSelfSigned(join(dir, 'live'), ['example.org']);
      const store = await loadedStore({ hosts: ['example.org'], fallback: files, generatedDir: dir, log });
      const original = await servedFingerprint(store, 'example.org');

      await writeSelfSigned(join(dir, 'live'), ['example.org']);
      const replaced = await fileFingerprint(files.certificate);
      expect(replaced).to.not.equal(original);
      expect(await servedFingerprint(store, 'example.org')).to.equal(original);
      expect(await store.reload()).to.equal(true);
      expect(await servedFingerprint(store, 'example.org')).to.equal(replaced);
      expect(await servedFingerprint(store, undefined, 'starttls')).to.equal(replaced);

      await writeFile(files.certificate, '-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n');
      expect(await store.reload()).to.equal(false);
      expect(await servedFingerprint(store, 'example.org')).to.equal(replaced);
      expect(
        lines.some((line) => line === 'error TLS certificates not reloaded; the previous ones stay in use'),
      ).to.equal(true);
    });

    it('reports each host’s certificate and its problems for `warbler check`', async () => {
      const good = await writeSelfSigned(join(dir, 'good'), ['good.test']);
      const expired = await writeSelfSigned(join(dir, 'expired'), ['expired.test'], 1e-9);
      const soon = await writeSelfSigned(join(dir, 'soon'), ['soon.test'], 7);
      const elsewhere = await writeSelfSigned(join(dir, 'elsewhere'), ['other.test']);
      const stranger = await writeSelfSigned(join(dir, 'stranger'), ['mismatch.test']);
      const mismatch = { certificate: good.certificate, key: stranger.key };
      const unreadable = { certificate: join(dir, 'none.crt'), key: join(dir, 'none.key') };
      const store = new CertificateStore({
        hosts: ['good.test', 'expired.test', 'soon.test', 'wrong.test', 'good.test.', 'missing.test'],
        files: new Map([
          ['good.test', good],
          ['expired.test', expired],
          ['soon.test', soon],
          ['wrong.test', elsewhere],
          ['mismatch.test', mismatch],
          ['unreadable.test', unreadable],
        ]),
        generatedDir: join(dir, 'generated'),
        log: recordingLogger([]),
      });
      const reports = await store.check();
      const notAfter = async (path: string) => new Date(new X509Certificate(await readFile(path)).validTo);
      const expiredAt = await notAfter(expired.certificate);
      const soonAt = await notAfter(soon.certificate);

      expect(reports.map((r) => [r.host, r.source, r.path, r.selfSigned, r.problems])).to.deep.equal([
        ['good.test', 'file', good.certificate, true, []],
        ['expired.test', 'file', expired.certificate, true, [`expired on ${expiredAt.toISOString()}`]],
        ['soon.test', 'file', soon.certificate, true, [`expires within 14 days, on ${soonAt.toISOString()}`]],
        [
          'wrong.test',
          'file',
          elsewhere.certificate,
          true,
          ['does not cover wrong.test (it names other.test, *.other.test)'],
        ],
        [
          'missing.test',
          'generated',
          join(dir, 'generated', 'missing.test.crt'),
          false,
          ['missing: a self-signed certificate will be generated at start'],
        ],
        [
          'mismatch.test',
          'file',
          good.certificate,
          true,
          [
            'does not cover mismatch.test (it names good.test, *.good.test)',
            `key ${stranger.key} does not match the certificate`,
          ],
        ],
        [
          'unreadable.test',
          'file',
          unreadable.certificate,
          false,
          [
            `cannot read certificate ${unreadable.certificate} (ENOENT: no such file or directory, open ` +
              `'${unreadable.certificate}'): check the path and that the server may read it`,
          ],
        ],
      ]);
      expect(reports[0]!.names).to.deep.equal(['good.test', '*.good.test']);
      expect(reports[0]!.notAfter).to.deep.equal(await notAfter(good.certificate));
      expect(reports[4]!.notAfter).to.deep.equal(new Date(0));
      await expectMissing(join(dir, 'generated'));
    });

    it('refuses to be used before load()', () => {
      const store = new CertificateStore({
        hosts: ['example.org'],
        files: new Map(),
        generatedDir: dir,
        log: recordingLogger([]),
      });
      expect(() => store.contextFor('example.org')).to.throw('CertificateStore used before load()');
    });
  });

  describe('channel bindings', () => {
    it('on TLS 1.3: tls-exporter, tls-server-end-point and tls-unique, equal to what the client computes', async () => {
      const pair = generateSelfSigned({ hosts: ['example.org'] });
      const connection = await handshake(pair, { servername: 'example.org', ca: pair.cert });
      expect(connection.server.getProtocol()).to.equal('TLSv1.3');
      const bindings = channelBindings(connection.server);
      expect([...bindings.keys()]).to.deep.equal(['tls-exporter', 'tls-server-end-point', 'tls-unique']);
      // COMPAT tls-unique is accepted on TLS 1.3 as OpenSSL clients compute it (the client's
      // Finished), but not advertised.
      expect(bindings.get('tls-unique')!.toString('hex')).to.equal(
        connection.client.getFinished()!.toString('hex'),
      );
      expect(advertisedChannelBindings(bindings)).to.deep.equal(['tls-exporter', 'tls-server-end-point']);

      const exporter = connection.client.exportKeyingMaterial(
        32,
        'EXPORTER-Channel-Binding',
        Buffer.alloc(0),
      );
      expect(bindings.get('tls-exporter')!.toString('hex')).to.equal(exporter.toString('hex'));
      const peerDer = connection.client.getPeerCertificate().raw;
      const endPoint = createHash('sha256').update(peerDer).digest('hex');
      expect(bindings.get('tls-server-end-point')!.toString('hex')).to.equal(endPoint);
      expect(tlsServerEndPoint(peerDer).toString('hex')).to.equal(endPoint);
      connection.close();

      // Exported keying material is per connection; the certificate hash is not.
      const again = await handshake(pair, { servername: 'example.org', ca: pair.cert });
      const againBindings = channelBindings(again.server);
      expect(againBindings.get('tls-exporter')!.equals(bindings.get('tls-exporter')!)).to.equal(false);
      expect(againBindings.get('tls-server-end-point')!.toString('hex')).to.equal(endPoint);
      again.close();
    });

    it('on TLS 1.2: tls-server-end-point and tls-unique', async () => {
      const pair = generateSelfSigned({ hosts: ['example.org'] });
      const connection = await handshake(pair, {
        servername: 'example.org',
        ca: pair.cert,
        maxVersion: 'TLSv1.2',
      });
      expect(connection.server.getProtocol()).to.equal('TLSv1.2');
      const bindings = channelBindings(connection.server);
      expect([...bindings.keys()]).to.deep.equal(['tls-server-end-point', 'tls-unique']);
      expect(advertisedChannelBindings(bindings)).to.deep.equal(['tls-server-end-point', 'tls-unique']);
      // RFC 5929 §3.1: the first Finished of the handshake, the client's in a full handshake.
      expect(bindings.get('tls-unique')!.toString('hex')).to.equal(
        connection.client.getFinished()!.toString('hex'),
      );
      const peerDer = connection.client.getPeerCertificate().raw;
      expect(bindings.get('tls-server-end-point')!.toString('hex')).to.equal(
        createHash('sha256').update(peerDer).digest('hex'),
      );
      connection.close();
    });

    it('from the store: the served certificate’s tls-server-end-point, without parsing it per socket', async () => {
      const store = await loadedStore({ hosts: ['a.test', 'b.test'], generatedDir: dir });
      const cases: [string | undefined, string][] = [
        ['b.test', 'b.test'],
        ['CONFERENCE.B.TEST.', 'b.test'],
        ['unknown.example', 'a.test'],
        [undefined, 'a.test'],
      ];
      for (const mode of ['server', 'starttls'] as const) {
        for (const [servername, host] of cases) {
          const connection = await handshake(store.serverOptions([]), servername ? { servername } : {}, mode);
          const served = connection.client.getPeerCertificate().raw;
          expect(served.equals(await readFile(join(dir, `${host}.crt`)).then(pemToDer))).to.equal(true);
          // What a login looks at must not cost a certificate parse (~0.3 ms) each time.
          connection.server.getX509Certificate = () => {
            throw new Error('parsed the certificate');
          };
          const bindings = store.channelBindings(connection.server);
          expect([...bindings.keys()], `${mode}, SNI ${servername}`).to.deep.equal([
            'tls-exporter',
            'tls-server-end-point',
            'tls-unique',
          ]);
          expect(bindings.get('tls-server-end-point')!.toString('hex')).to.equal(
            createHash('sha256').update(served).digest('hex'),
          );
          expect(bindings.get('tls-exporter')!.toString('hex')).to.equal(
            connection.client
              .exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0))
              .toString('hex'),
          );
          connection.close();
        }
      }
    });

    describe('tls-server-end-point hash, by signature algorithm (RFC 5929 §4.1)', () => {
      const base = Buffer.from(new X509Certificate(generateSelfSigned({ hosts: ['example.org'] }).cert).raw);
      const cases: [string, string, string | undefined, string | undefined][] = [
        // name, signature algorithm OID, RSASSA-PSS hash OID, expected hash
        ['md5WithRSAEncryption', '1.2.840.113549.1.1.4', undefined, 'sha256'],
        ['sha1WithRSAEncryption', '1.2.840.113549.1.1.5', undefined, 'sha256'],
        ['sha256WithRSAEncryption', '1.2.840.113549.1.1.11', undefined, 'sha256'],
        ['sha384WithRSAEncryption', '1.2.840.113549.1.1.12', undefined, 'sha384'],
        ['sha512WithRSAEncryption', '1.2.840.113549.1.1.13', undefined, 'sha512'],
        ['ecdsa-with-SHA1', '1.2.840.10045.4.1', undefined, 'sha256'],
        ['ecdsa-with-SHA256', '1.2.840.10045.4.3.2', undefined, 'sha256'],
        ['ecdsa-with-SHA384', '1.2.840.10045.4.3.3', undefined, 'sha384'],
        ['ecdsa-with-SHA512', '1.2.840.10045.4.3.4', undefined, 'sha512'],
        ['RSASSA-PSS, default hash (SHA-1)', '1.2.840.113549.1.1.10', undefined, 'sha256'],
        ['RSASSA-PSS with SHA-384', '1.2.840.113549.1.1.10', '2.16.840.1.101.3.4.2.2', 'sha384'],
        ['Ed25519 (no single hash: undefined)', '1.3.101.112', undefined, undefined],
      ];
      for (const [name, signatureOid, pssHashOid, hash] of cases) {
        it(`${name} → ${hash ?? 'throws'}`, () => {
          const der = withSignatureAlgorithm(base, signatureOid, pssHashOid);
          if (hash === undefined) {
            expect(() => tlsServerEndPoint(der)).to.throw(
              'tls-server-end-point is undefined for this certificate',
            );
          } else {
            expect(tlsServerEndPoint(der).toString('hex')).to.equal(
              createHash(hash).update(der).digest('hex'),
            );
          }
        });
      }

      it('uses the hash of a real sha384WithRSAEncryption certificate', () => {
        const der = Buffer.from(
          new X509Certificate(
            rsaCertificate({ commonName: 'rsa.example', altNames: [], hash: 'sha384' }).cert,
          ).raw,
        );
        expect(tlsServerEndPoint(der).toString('hex')).to.equal(
          createHash('sha384').update(der).digest('hex'),
        );
      });
    });
  });
});

// ---- helpers ----

/** A logger keeping "<level> <message>" lines (src/log.ts is not needed to test the store). */
function recordingLogger(lines: string[]): Logger {
  const record = (level: LogLevel) => (msg: string) => {
    lines.push(`${level} ${msg}`);
  };
  const logger: Logger = {
    level: 'trace',
    isEnabled: () => true,
    trace: record('trace'),
    debug: record('debug'),
    info: record('info'),
    warn: record('warn'),
    error: record('error'),
    child: () => logger,
  };
  return logger;
}

async function loadedStore(
  opts: Partial<CertificateStoreOptions> & Pick<CertificateStoreOptions, 'hosts'>,
): Promise<CertificateStore> {
  const store = new CertificateStore({
    files: new Map(),
    generatedDir: '/dev/null/never-generated',
    log: recordingLogger([]),
    ...opts,
  });
  await store.load();
  return store;
}

async function loadError(
  opts: Partial<CertificateStoreOptions> & Pick<CertificateStoreOptions, 'hosts'>,
): Promise<CertificateError> {
  try {
    await loadedStore(opts);
  } catch (err) {
    expect(err).to.be.instanceOf(CertificateError);
    return err as CertificateError;
  }
  throw new Error('load() succeeded');
}

function pemToDer(pem: string | Buffer): Buffer {
  return Buffer.from(new X509Certificate(pem).raw);
}

async function expectMissing(path: string): Promise<void> {
  const error = await stat(path).then(
    () => undefined,
    (err: NodeJS.ErrnoException) => err,
  );
  expect(error?.code).to.equal('ENOENT');
}

async function fileFingerprint(path: string): Promise<string> {
  return new X509Certificate(await readFile(path)).fingerprint256;
}

type Mode = 'server' | 'starttls';

async function servedCertificate(
  store: CertificateStore,
  servername: string | undefined,
  mode: Mode,
): Promise<X509Certificate> {
  const connection = await handshake(store.serverOptions([]), servername ? { servername } : {}, mode);
  const certificate = connection.client.getPeerX509Certificate()!;
  connection.close();
  return certificate;
}

async function servedSubject(store: CertificateStore, servername: string | undefined, mode: Mode = 'server') {
  return (await servedCertificate(store, servername, mode)).subject;
}

async function servedFingerprint(
  store: CertificateStore,
  servername: string | undefined,
  mode: Mode = 'server',
) {
  return (await servedCertificate(store, servername, mode)).fingerprint256;
}

interface Connection {
  client: TLSSocket;
  server: TLSSocket;
  close(): void;
}

/**
 * A TLS handshake on 127.0.0.1 (port 0): through tls.createServer, or as STARTTLS does it, a
 * TLSSocket wrapped around an accepted TCP socket. Without `ca` the client does not verify.
 */
async function handshake(
  serverOptions: TlsOptions,
  clientOptions: ConnectionOptions,
  mode: Mode = 'server',
): Promise<Connection> {
  let onServerSecure!: (socket: TLSSocket) => void;
  const serverSecure = new Promise<TLSSocket>((resolve) => {
    onServerSecure = resolve;
  });
  let server: Server;
  if (mode === 'server') {
    const tlsServer = createServer(serverOptions);
    tlsServer.on('secureConnection', onServerSecure);
    tlsServer.on('tlsClientError', () => {}); // the client reports the failure
    server = tlsServer;
  } else {
    server = createTcpServer((raw) => {
      const socket = new TLSSocket(raw, { isServer: true, ...serverOptions });
      socket.on('secure', () => onServerSecure(socket));
      socket.on('error', () => {});
    });
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const client = connect({
    host: '127.0.0.1',
    port,
    rejectUnauthorized: clientOptions.ca !== undefined,
    ...clientOptions,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('secureConnect', resolve);
      client.once('error', reject);
    });
  } catch (err) {
    client.destroy();
    server.close();
    throw err;
  }
  const serverSocket = await serverSecure;
  return {
    client,
    server: serverSocket,
    close() {
      client.destroy();
      serverSocket.destroy();
      server.close();
    },
  };
}

async function handshakeError(
  serverOptions: TlsOptions,
  clientOptions: ConnectionOptions,
): Promise<NodeJS.ErrnoException> {
  try {
    const connection = await handshake(serverOptions, clientOptions);
    connection.close();
  } catch (err) {
    return err as NodeJS.ErrnoException;
  }
  throw new Error('the handshake succeeded');
}

type Asn1 = forge.asn1.Asn1;
const { asn1 } = forge;

function childrenOf(node: Asn1): Asn1[] {
  return node.value as Asn1[];
}

function objectId(oid: string): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(oid).getBytes());
}

function sequence(items: Asn1[]): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, items);
}

/** Whether the certificate's extension with this OID is marked critical. */
function extensionCritical(pem: string, oid: string): boolean {
  const der = new X509Certificate(pem).raw.toString('binary');
  const tbs = childrenOf(asn1.fromDer(der))[0]!;
  const wrapper = childrenOf(tbs).find((n) => n.tagClass === asn1.Class.CONTEXT_SPECIFIC && n.type === 3)!;
  for (const extension of childrenOf(childrenOf(wrapper)[0]!)) {
    const [id, second] = childrenOf(extension);
    if (asn1.derToOid(id!.value as string) !== oid) continue;
    return second!.type === asn1.Type.BOOLEAN && second!.value === '\xff';
  }
  throw new Error(`no extension ${oid}`);
}

/**
 * The certificate with its outer signatureAlgorithm replaced (the signature no longer
 * verifies; tls-server-end-point does not care), with RSASSA-PSS parameters naming a hash.
 */
function withSignatureAlgorithm(der: Buffer, oid: string, pssHashOid: string | undefined): Buffer {
  const certificate = asn1.fromDer(der.toString('binary'));
  const algorithm = [objectId(oid)];
  if (pssHashOid !== undefined) {
    const hash = sequence([
      objectId(pssHashOid),
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, ''),
    ]);
    algorithm.push(sequence([asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [hash])]));
  }
  childrenOf(certificate)[1] = sequence(algorithm);
  return Buffer.from(asn1.toDer(certificate).getBytes(), 'binary');
}

interface RsaCertificateOptions {
  commonName: string;
  altNames: string[];
  hash?: 'sha256' | 'sha384';
  /** A CA certificate (basicConstraints cA, keyCertSign). */
  ca?: boolean;
  /** Signed by this one; self-signed without it. */
  issuer?: { cert: string; key: string };
}

/** An RSA certificate made with forge's pki module, for shapes our generator never makes. */
function rsaCertificate(opts: RsaCertificateOptions): { cert: string; key: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = '01' + forge.util.bytesToHex(forge.random.getBytesSync(8));
  cert.validity.notBefore = new Date(Date.now() - HOUR_MS);
  cert.validity.notAfter = new Date(Date.now() + DAY_MS);
  cert.setSubject([{ name: 'commonName', value: opts.commonName }]);
  const issuer = opts.issuer ? forge.pki.certificateFromPem(opts.issuer.cert) : cert;
  cert.setIssuer(issuer.subject.attributes);
  const extensions: object[] = [
    { name: 'basicConstraints', cA: opts.ca === true, critical: true },
    opts.ca
      ? { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }
      : { name: 'keyUsage', digitalSignature: true, critical: true },
  ];
  if (opts.altNames.length > 0) {
    extensions.push({ name: 'subjectAltName', altNames: opts.altNames.map((value) => ({ type: 2, value })) });
  }
  cert.setExtensions(extensions);
  const signingKey = forge.pki.privateKeyFromPem(opts.issuer?.key ?? keyPem);
  cert.sign(signingKey, opts.hash === 'sha384' ? forge.md.sha384.create() : forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keyPem };
}
