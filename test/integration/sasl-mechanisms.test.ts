// Every SASL mechanism end to end, against clients that share no code with the server: our own
// SCRAM/PLAIN client written from the RFCs (test/helpers/scram-client.ts) and @xmpp/client.
//
// RFC 6120 §6 (SASL in XMPP: §6.3.10 additional data with success, §6.4.5 retries, §6.5 failure
// conditions); RFC 5802 §5-§7 and RFC 7677 (SCRAM, channel binding, the GS2 flag); RFC 4616
// (PLAIN); RFC 5929 (tls-unique, tls-server-end-point); RFC 9266 (tls-exporter); XEP-0440
// (advertised channel-binding types); XEP-0368 (direct TLS).

import { randomBytes, X509Certificate } from 'node:crypto';
import { xml, client as xmppClient } from '@xmpp/client';
import { expect } from 'chai';
import { connect, type TestClient } from '../helpers/client.js';
import {
  type AuthOptions,
  type ChannelBindingType,
  login,
  type MechanismName,
  type OpenOptions,
  ScramClient,
  StreamClient,
  type Transport,
  type XmlNode,
} from '../helpers/scram-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const ALL_MECHANISMS = ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN'];
const TRANSPORTS: readonly Exclude<Transport, 'plaintext'>[] = ['starttls', 'direct-tls'];
const PLUS: readonly MechanismName[] = ['SCRAM-SHA-1-PLUS', 'SCRAM-SHA-256-PLUS'];

type TlsVersion = 'TLSv1.3' | 'TLSv1.2';

const ALICE = { username: 'alice', password: 'alice-secret' };

describe('SASL: the independent client itself', () => {
  // If it reproduces the RFCs' examples, a server that accepts it follows the RFCs too.
  const vectors = [
    {
      rfc: 'RFC 5802 §5 (SCRAM-SHA-1)',
      hash: 'SHA-1',
      clientNonce: 'fyko+d2lbbFgONRv9qkxdawL',
      serverFirst: 'r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096',
      clientFinal: 'c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=',
      serverFinal: 'v=rmF9pqV8S7suAoZWja4dJRkFsKQ=',
    },
    {
      rfc: 'RFC 7677 §3 (SCRAM-SHA-256)',
      hash: 'SHA-256',
      clientNonce: 'rOprNGfwEbeRWgbNEkqO',
      serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
      clientFinal:
        'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,' +
        'p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
      serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
    },
  ] as const;

  for (const v of vectors) {
    it(`reproduces the example of ${v.rfc}`, async () => {
      const scram = new ScramClient({
        hash: v.hash,
        username: 'user',
        password: 'pencil',
        gs2Flag: 'n',
        clientNonce: v.clientNonce,
      });
      expect(scram.clientFirst).to.equal(`n,,n=user,r=${v.clientNonce}`);
      expect(await scram.clientFinal(v.serverFirst)).to.equal(v.clientFinal);
      expect(() => scram.verifyServerFinal(v.serverFinal)).not.to.throw();
      const tampered = `${v.serverFinal.slice(0, 2)}A${v.serverFinal.slice(3)}`;
      expect(() => scram.verifyServerFinal(tampered)).to.throw(/does not verify/);
      expect(() => scram.verifyServerFinal(`${v.serverFinal}AAAA`)).to.throw(/does not verify/);
      expect(() => scram.verifyServerFinal('e=other-error')).to.throw(/other-error/);
    });
  }

  it('escapes "," and "=" in the username and authzid (RFC 5802 §5.1)', () => {
    const scram = new ScramClient({
      hash: 'SHA-256',
      username: 'o,k=y',
      password: 'x',
      authzid: 'a=b,c@localhost',
      gs2Flag: 'p=tls-exporter',
      clientNonce: 'abc',
    });
    expect(scram.clientFirst).to.equal('p=tls-exporter,a=a=3Db=2Cc@localhost,n=o=2Ck=3Dy,r=abc');
  });
});

describe('SASL mechanisms end to end', () => {
  let ts: TestServer;
  const open: StreamClient[] = [];
  const libraryClients: TestClient[] = [];

  before(async () => {
    // The negative tests fail often from 127.0.0.1: keep the per-address throttle out of the way.
    ts = await startTestServer({ c2s: 'auth_failures_per_ip = 10000' });
    await ts.addUser('alice', 'alice-secret');
    await ts.addUser('bob', 'bob-secret');
    // saslname escaping on the wire, and a password whose UTF-8 must match byte for byte.
    await ts.addUser('o,k=y', 'pässwörd-ñ');
  });
  afterEach(async () => {
    for (const c of open.splice(0)) c.close();
    await Promise.all(libraryClients.splice(0).map((c) => c.stop().catch(() => {})));
  });
  after(async () => {
    await ts.stop();
  });

  function options(transport: Transport, tlsVersion?: TlsVersion): OpenOptions {
    return {
      port: transport === 'direct-tls' ? ts.tlsPort : ts.port,
      transport,
      maxVersion: tlsVersion === 'TLSv1.2' ? 'TLSv1.2' : undefined,
    };
  }

  async function openStream(transport: Transport, tlsVersion?: TlsVersion): Promise<StreamClient> {
    const client = await StreamClient.open(options(transport, tlsVersion));
    open.push(client);
    return client;
  }

  async function loginAs(
    auth: AuthOptions,
    transport: Transport = 'starttls',
    tlsVersion?: TlsVersion,
    resource = 'sasl',
  ) {
    const result = await login(options(transport, tlsVersion), auth, resource);
    open.push(result.client);
    return result;
  }

  /** The bound session works: the server answers a ping (XEP-0199). */
  async function expectPingAnswered(client: StreamClient): Promise<void> {
    client.send(`<iq type='get' id='ping-1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    const reply = await client.next();
    expect([reply.name, reply.attrs.type, reply.attrs.id, reply.attrs.from]).to.deep.equal([
      'iq',
      'result',
      'ping-1',
      'localhost',
    ]);
  }

  describe('stream features', () => {
    const advertised: Record<TlsVersion, string[]> = {
      // tls-unique is accepted on TLS 1.3 (for slixmpp) but never advertised there.
      'TLSv1.3': ['tls-exporter', 'tls-server-end-point'],
      'TLSv1.2': ['tls-server-end-point', 'tls-unique'],
    };
    for (const transport of TRANSPORTS) {
      for (const tlsVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
        const types = advertised[tlsVersion].join(' + ');
        it(`${transport}, ${tlsVersion}: every mechanism, and XEP-0440 lists ${types}`, async () => {
          const client = await openStream(transport, tlsVersion);
          expect(client.tlsProtocol).to.equal(tlsVersion);
          expect(client.mechanisms()).to.deep.equal(ALL_MECHANISMS);
          expect(client.advertisedChannelBindings()?.sort()).to.deep.equal(advertised[tlsVersion]);
        });
      }
    }

    it('before STARTTLS: only <starttls><required/></starttls>, no mechanisms', async () => {
      const c = await StreamClient.open({ port: ts.port, transport: 'plaintext' });
      open.push(c);
      const shape = (node: XmlNode): unknown => [node.name, node.attrs.xmlns, node.children.map(shape)];
      // Module features (entity capabilities…) may sit beside it; no SASL ones may.
      const sasl = [
        'urn:ietf:params:xml:ns:xmpp-tls',
        'urn:ietf:params:xml:ns:xmpp-sasl',
        'urn:xmpp:sasl-cb:0',
      ];
      expect(c.features.children.filter((n) => sasl.includes(n.attrs.xmlns!)).map(shape)).to.deep.equal([
        ['starttls', 'urn:ietf:params:xml:ns:xmpp-tls', [['required', undefined, []]]],
      ]);
    });

    it('the certificate is signed ecdsa-with-SHA256: tls-server-end-point hashes with SHA-256', async () => {
      const client = await openStream('direct-tls');
      const raw = client.peerCertificate();
      expect(new X509Certificate(raw).publicKey.asymmetricKeyType).to.equal('ec');
      // The DER of the OID 1.2.840.10045.4.3.2, in the signature algorithm fields.
      expect(raw.includes(Buffer.from('06082a8648ce3d040302', 'hex'))).to.equal(true);
    });
  });

  describe('successful logins', () => {
    const channelBindings: Record<TlsVersion, ChannelBindingType[]> = {
      'TLSv1.3': ['tls-exporter', 'tls-server-end-point', 'tls-unique'],
      'TLSv1.2': ['tls-server-end-point', 'tls-unique'],
    };
    for (const transport of TRANSPORTS) {
      for (const tlsVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
        const cases: Array<{ mechanism: MechanismName; channelBinding?: ChannelBindingType }> = [
          { mechanism: 'SCRAM-SHA-1' },
          { mechanism: 'SCRAM-SHA-256' },
          { mechanism: 'PLAIN' },
        ];
        for (const mechanism of PLUS) {
          for (const channelBinding of channelBindings[tlsVersion]) cases.push({ mechanism, channelBinding });
        }
        for (const { mechanism, channelBinding } of cases) {
          const label = channelBinding ? `${mechanism} with ${channelBinding}` : mechanism;
          it(`${transport}, ${tlsVersion}: ${label}`, async () => {
            const { client, jid, outcome } = await loginAs(
              { mechanism, channelBinding, ...ALICE },
              transport,
              tlsVersion,
            );
            expect(client.tlsProtocol).to.equal(tlsVersion);
            expect(jid).to.equal('alice@localhost/sasl');
            if (mechanism === 'PLAIN') {
              expect(outcome).to.deep.equal({ kind: 'success', additionalData: undefined });
            } else {
              // The client has checked the signature; here, that it came with <success/> (RFC 6120 §6.3.10).
              expect(outcome.kind).to.equal('success');
              expect(outcome.kind === 'success' && outcome.additionalData).to.match(/^v=[A-Za-z0-9+/]+=*$/);
            }
            await expectPingAnswered(client);
          });
        }
      }
    }

    for (const mechanism of ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1', 'PLAIN'] as const) {
      it(`${mechanism} without an initial response (empty challenge first, RFC 6120 §6.4.2)`, async () => {
        const { jid } = await loginAs({ mechanism, initialResponse: false, ...ALICE });
        expect(jid).to.equal('alice@localhost/sasl');
      });
    }

    for (const mechanism of ['SCRAM-SHA-1', 'SCRAM-SHA-256-PLUS', 'PLAIN'] as const) {
      it(`${mechanism}: a username with "," and "=", a non-ASCII password`, async () => {
        const { jid } = await loginAs({ mechanism, username: 'o,k=y', password: 'pässwörd-ñ' });
        expect(jid).to.equal('o,k=y@localhost/sasl');
      });

      it(`${mechanism}: an authzid equal to the user's own bare JID is accepted`, async () => {
        const { jid } = await loginAs({ mechanism, authzid: 'alice@localhost', ...ALICE });
        expect(jid).to.equal('alice@localhost/sasl');
      });
    }

    it('a wrong password, then the right one on the same connection', async () => {
      const client = await openStream('starttls');
      const wrong = await client.authenticate({
        mechanism: 'SCRAM-SHA-256-PLUS',
        ...ALICE,
        password: 'nope',
      });
      expect(wrong.kind === 'failure' && wrong.condition).to.equal('not-authorized');
      const right = await client.authenticate({ mechanism: 'SCRAM-SHA-256-PLUS', ...ALICE });
      expect(right.kind).to.equal('success');
      expect(await client.bind('again')).to.equal('alice@localhost/again');
    });
  });

  describe('failures carry the exact condition', () => {
    interface FailureCase {
      name: string;
      auth: AuthOptions;
      tlsVersion?: TlsVersion;
      condition: string;
      /** Whether the server answered client-first before failing (the failure is on client-final). */
      afterServerFirst: boolean;
    }
    const exporterSizedNoise = randomBytes(32);
    const cases: FailureCase[] = [
      {
        name: "GS2 flag 'y' (the client thinks the server cannot bind) while -PLUS was offered",
        auth: { mechanism: 'SCRAM-SHA-256', gs2Flag: 'y', ...ALICE },
        condition: 'not-authorized',
        afterServerFirst: false,
      },
      {
        name: "GS2 flag 'y' with SCRAM-SHA-1 while -PLUS was offered",
        auth: { mechanism: 'SCRAM-SHA-1', gs2Flag: 'y', ...ALICE },
        condition: 'not-authorized',
        afterServerFirst: false,
      },
      {
        name: "GS2 flag 'y' with a -PLUS mechanism",
        auth: { mechanism: 'SCRAM-SHA-256-PLUS', gs2Flag: 'y', ...ALICE },
        condition: 'malformed-request',
        afterServerFirst: false,
      },
      {
        name: "GS2 flag 'n' with a -PLUS mechanism",
        auth: { mechanism: 'SCRAM-SHA-1-PLUS', gs2Flag: 'n', ...ALICE },
        condition: 'malformed-request',
        afterServerFirst: false,
      },
      {
        name: "GS2 flag 'p=tls-exporter' with SCRAM-SHA-256 (no -PLUS)",
        auth: { mechanism: 'SCRAM-SHA-256', gs2Flag: 'p=tls-exporter', ...ALICE },
        condition: 'malformed-request',
        afterServerFirst: false,
      },
      {
        name: "GS2 flag 'p=tls-server-end-point' with SCRAM-SHA-1 (no -PLUS)",
        auth: { mechanism: 'SCRAM-SHA-1', gs2Flag: 'p=tls-server-end-point', ...ALICE },
        condition: 'malformed-request',
        afterServerFirst: false,
      },
      {
        name: 'an unknown channel-binding type',
        auth: { mechanism: 'SCRAM-SHA-256-PLUS', gs2Flag: 'p=tls-nonsense', ...ALICE },
        condition: 'not-authorized',
        afterServerFirst: false,
      },
      {
        name: 'tls-exporter on TLS 1.2, where it is not defined',
        auth: { mechanism: 'SCRAM-SHA-256-PLUS', channelBinding: 'tls-exporter', ...ALICE },
        tlsVersion: 'TLSv1.2',
        condition: 'not-authorized',
        afterServerFirst: false,
      },
      {
        name: 'tls-exporter with wrong channel-binding data',
        auth: {
          mechanism: 'SCRAM-SHA-256-PLUS',
          channelBinding: 'tls-exporter',
          channelBindingData: exporterSizedNoise,
          ...ALICE,
        },
        condition: 'not-authorized',
        afterServerFirst: true,
      },
      {
        name: 'tls-server-end-point with wrong channel-binding data',
        auth: {
          mechanism: 'SCRAM-SHA-1-PLUS',
          channelBinding: 'tls-server-end-point',
          channelBindingData: exporterSizedNoise,
          ...ALICE,
        },
        condition: 'not-authorized',
        afterServerFirst: true,
      },
      {
        name: 'tls-unique with wrong channel-binding data (TLS 1.2)',
        auth: {
          mechanism: 'SCRAM-SHA-256-PLUS',
          channelBinding: 'tls-unique',
          channelBindingData: randomBytes(12),
          ...ALICE,
        },
        tlsVersion: 'TLSv1.2',
        condition: 'not-authorized',
        afterServerFirst: true,
      },
      {
        name: 'no channel-binding data after a p= flag',
        auth: {
          mechanism: 'SCRAM-SHA-256-PLUS',
          channelBinding: 'tls-exporter',
          channelBindingData: Buffer.alloc(0),
          ...ALICE,
        },
        condition: 'not-authorized',
        afterServerFirst: true,
      },
      {
        name: 'SCRAM-SHA-1 with a wrong password',
        auth: { mechanism: 'SCRAM-SHA-1', ...ALICE, password: 'wrong' },
        condition: 'not-authorized',
        afterServerFirst: true,
      },
      {
        name: 'SCRAM-SHA-256-PLUS with a wrong password',
        auth: { mechanism: 'SCRAM-SHA-256-PLUS', ...ALICE, password: 'wrong' },
        condition: 'not-authorized',
        afterServerFirst: true,
      },
      {
        name: 'PLAIN with a wrong password',
        auth: { mechanism: 'PLAIN', ...ALICE, password: 'wrong' },
        condition: 'not-authorized',
        afterServerFirst: false,
      },
      {
        name: "SCRAM-SHA-256 with another user's JID as authzid",
        auth: { mechanism: 'SCRAM-SHA-256', authzid: 'bob@localhost', ...ALICE },
        condition: 'invalid-authzid',
        afterServerFirst: true,
      },
      {
        name: "PLAIN with another user's JID as authzid",
        auth: { mechanism: 'PLAIN', authzid: 'bob@localhost', ...ALICE },
        condition: 'invalid-authzid',
        afterServerFirst: false,
      },
      {
        name: 'SCRAM-SHA-1-PLUS with an authzid that is not a JID of ours',
        auth: { mechanism: 'SCRAM-SHA-1-PLUS', authzid: 'alice@elsewhere.example', ...ALICE },
        condition: 'invalid-authzid',
        afterServerFirst: true,
      },
    ];

    for (const c of cases) {
      it(`${c.name}: <${c.condition}/>`, async () => {
        const client = await openStream('starttls', c.tlsVersion);
        const outcome = await client.authenticate(c.auth);
        expect(outcome.kind).to.equal('failure');
        if (outcome.kind !== 'failure') return;
        expect(outcome.condition).to.equal(c.condition);
        expect(outcome.serverFirst !== undefined).to.equal(c.afterServerFirst);
        // A failure leaves the stream open for another attempt (RFC 6120 §6.4.5).
        const retry = await client.authenticate({ mechanism: 'SCRAM-SHA-256-PLUS', ...ALICE });
        expect(retry.kind).to.equal('success');
      });
    }

    it('an unknown mechanism: <invalid-mechanism/>', async () => {
      const client = await openStream('starttls');
      client.send(`<auth xmlns='${NS_SASL}' mechanism='DIGEST-MD5'>=</auth>`);
      await client.expect(/^<failure xmlns=(["'])urn:ietf:params:xml:ns:xmpp-sasl\1><invalid-mechanism\/>/);
    });

    it('an initial response that is not base64: <incorrect-encoding/>', async () => {
      const client = await openStream('starttls');
      client.send(`<auth xmlns='${NS_SASL}' mechanism='SCRAM-SHA-256'>not*base64!</auth>`);
      await client.expect(/^<failure xmlns=(["'])urn:ietf:params:xml:ns:xmpp-sasl\1><incorrect-encoding\/>/);
    });

    it('<abort/> in the middle of an exchange: <aborted/>, and a new exchange succeeds', async () => {
      const client = await openStream('starttls');
      const first = Buffer.from('n,,n=alice,r=abcdefgh').toString('base64');
      client.send(`<auth xmlns='${NS_SASL}' mechanism='SCRAM-SHA-256'>${first}</auth>`);
      await client.expect(/^<challenge /);
      client.send(`<abort xmlns='${NS_SASL}'/>`);
      await client.expect(/^<failure xmlns=(["'])urn:ietf:params:xml:ns:xmpp-sasl\1><aborted\/>/);
      const outcome = await client.authenticate({ mechanism: 'SCRAM-SHA-256', ...ALICE });
      expect(outcome.kind).to.equal('success');
    });
  });

  describe('the server never tells whether an account exists', () => {
    const mechanisms: MechanismName[] = ['SCRAM-SHA-1', 'SCRAM-SHA-256', 'SCRAM-SHA-256-PLUS', 'PLAIN'];
    for (const mechanism of mechanisms) {
      it(`${mechanism}: an unknown user fails exactly like a wrong password`, async () => {
        const client = await openStream('starttls');
        const wrongPassword = await client.authenticate({ mechanism, ...ALICE, password: 'wrong' });
        const unknownUser = await client.authenticate({ mechanism, username: 'nobody', password: 'wrong' });
        expect(wrongPassword.kind).to.equal('failure');
        expect(unknownUser.kind).to.equal('failure');
        if (wrongPassword.kind !== 'failure' || unknownUser.kind !== 'failure') return;
        expect([unknownUser.condition, unknownUser.text]).to.deep.equal([
          wrongPassword.condition,
          wrongPassword.text,
        ]);
        expect(unknownUser.condition).to.equal('not-authorized');
        if (mechanism === 'PLAIN') return;
        // server-first-message: same shape, same iteration count, a salt of the same size.
        const shape = (serverFirst: string | undefined) => {
          const [, salt, iterations] = /^r=[^,]+,s=([^,]+),i=(\d+)$/.exec(serverFirst ?? '') ?? [];
          return { saltBytes: Buffer.from(salt ?? '', 'base64').length, iterations };
        };
        expect(shape(unknownUser.serverFirst)).to.deep.equal(shape(wrongPassword.serverFirst));
        expect(shape(unknownUser.serverFirst)).to.deep.equal({ saltBytes: 16, iterations: '4096' });
      });
    }

    it("an unknown user's salt is the same at every attempt, like a real account's", async () => {
      const salts: string[] = [];
      for (const username of ['nobody', 'nobody', 'alice', 'alice']) {
        const client = await openStream('starttls');
        const outcome = await client.authenticate({ mechanism: 'SCRAM-SHA-1', username, password: 'wrong' });
        salts.push(/,s=([^,]+),/.exec(outcome.serverFirst ?? '')?.[1] ?? '');
      }
      expect(salts[0]).to.equal(salts[1]);
      expect(salts[2]).to.equal(salts[3]);
      expect(salts[0]).to.not.equal(salts[2]);
    });
  });

  describe('@xmpp/client (SCRAM-SHA-1 and PLAIN)', () => {
    for (const mechanism of ['SCRAM-SHA-1', 'PLAIN']) {
      for (const directTls of [false, true]) {
        it(`${mechanism} over ${directTls ? 'direct TLS' : 'STARTTLS'}`, async () => {
          const client = await connect({
            port: directTls ? ts.tlsPort : ts.port,
            domain: 'localhost',
            ...ALICE,
            resource: 'lib',
            mechanism,
            directTls,
          });
          libraryClients.push(client);
          expect(client.jid?.toString()).to.equal('alice@localhost/lib');
          const reply = await client.iqCaller.request(
            xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })),
          );
          expect([reply.name, reply.attrs.type, reply.attrs.from]).to.deep.equal([
            'iq',
            'result',
            'localhost',
          ]);
        });
      }
    }

    it('a wrong password is refused with not-authorized', async () => {
      // Built here rather than with connect(), which cannot hand back a client whose start() failed.
      const library = xmppClient({
        service: `xmpp://127.0.0.1:${ts.port}`,
        domain: 'localhost',
        // As in connect(): the library's 2 s default runs out on a loaded machine while it
        // computes SCRAM's PBKDF2, and a timeout has no SASL condition.
        timeout: 10_000,
        credentials: (authenticate) => authenticate({ ...ALICE, password: 'wrong' }, 'SCRAM-SHA-1'),
      });
      library.reconnect.stop();
      library.on('error', () => {});
      try {
        const error = await library.start().then(
          () => undefined,
          (err: unknown) => err as { condition?: string },
        );
        expect(error?.condition).to.equal('not-authorized');
      } finally {
        await library.stop().catch(() => {});
      }
    });
  });
});

describe('SASL on a connection without TLS (c2s.require_encryption off)', () => {
  let ts: TestServer;
  const open: StreamClient[] = [];

  before(async () => {
    ts = await startTestServer({ c2s: 'require_encryption = false\nauth_failures_per_ip = 10000' });
    await ts.addUser('alice', 'alice-secret');
  });
  afterEach(() => {
    for (const c of open.splice(0)) c.close();
  });
  after(async () => {
    await ts.stop();
  });

  async function plaintext(): Promise<StreamClient> {
    const client = await StreamClient.open({ port: ts.port, transport: 'plaintext' });
    open.push(client);
    return client;
  }

  it('offers SCRAM without -PLUS and without PLAIN, and no channel-binding types', async () => {
    const client = await plaintext();
    expect(client.mechanisms()).to.deep.equal(['SCRAM-SHA-256', 'SCRAM-SHA-1']);
    expect(client.advertisedChannelBindings()).to.equal(undefined);
  });

  it("accepts GS2 flag 'y': the client could bind, and rightly believes the server cannot", async () => {
    const client = await plaintext();
    const outcome = await client.authenticate({ mechanism: 'SCRAM-SHA-256', gs2Flag: 'y', ...ALICE });
    expect(outcome.kind).to.equal('success');
    expect(await client.bind('plain')).to.equal('alice@localhost/plain');
  });

  for (const mechanism of ['PLAIN', 'SCRAM-SHA-256-PLUS'] as const) {
    it(`refuses ${mechanism} with <encryption-required/>`, async () => {
      const client = await plaintext();
      client.send(`<auth xmlns='${NS_SASL}' mechanism='${mechanism}'>=</auth>`);
      await client.expect(/^<failure xmlns=(["'])urn:ietf:params:xml:ns:xmpp-sasl\1><encryption-required\/>/);
    });
  }
});
