// Federation with another implementation: Debian's Prosody 0.12 for prosody.example, Warbler
// for warbler.example, both on loopback. A Warbler user and a Prosody user (each through
// @xmpp/client to their own server) subscribe to each other (RFC 6121 §3) and exchange
// messages both ways over server-to-server streams (RFC 6120) that were authenticated
//   - by dialback (XEP-0220), both servers holding self-signed certificates, and
//   - by SASL EXTERNAL (XEP-0178), both holding certificates from one test CA that both trust,
//     Prosody without its dialback module and both requiring valid certificates,
//   - the same with dialback allowed on both sides, where SASL EXTERNAL must still be chosen, and
//   - the same over direct TLS both ways (XEP-0368): Prosody finds only an `_xmpps-server`
//     record (its `_xmpp-server` one says "."), and Warbler's route names Prosody's TLS port.
// Warbler reaches Prosody by a static route; Prosody reaches Warbler through DNS: its libunbound
// forwards every query to a DNS server of the test's, which publishes warbler.example's
// `_xmpp-server._tcp` SRV record (see test/helpers/prosody-s2s.ts).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type XmlElement, xml } from '@xmpp/client';
import { expect } from 'chai';
import { connect, type TestClient } from '../helpers/client.js';
import { type S2sProsody, skipWithoutS2sProsody, startS2sProsody } from '../helpers/prosody-s2s.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createTestCA, type PemPair, selfSigned } from '../helpers/test-ca.js';
import { startTestDns, type TestDns } from '../helpers/test-dns.js';

const WARBLER = 'warbler.example';
const PROSODY = 'prosody.example';
const ROSTER = 'jabber:iq:roster';
/** Federation needs two TLS handshakes, dialback round trips and Prosody's own timers. */
const STANZA_WAIT_MS = 15_000;

/** How the two servers federate in one run. */
interface Variant {
  readonly title: string;
  /** Self-signed certificates, or certificates from one test CA that both servers trust. */
  readonly certificates: 'self-signed' | 'ca';
  /** Whether dialback is allowed; without it both sides require valid certificates. */
  readonly dialback: boolean;
  /** Both ways over direct TLS (XEP-0368) instead of STARTTLS. */
  readonly directTls: boolean;
}

const VARIANTS: readonly Variant[] = [
  {
    title: 'dialback, self-signed certificates',
    certificates: 'self-signed',
    dialback: true,
    directTls: false,
  },
  {
    title: 'SASL EXTERNAL, certificates from a shared CA, dialback off',
    certificates: 'ca',
    dialback: false,
    directTls: false,
  },
  {
    title: 'certificates from a shared CA, dialback also on: SASL EXTERNAL preferred',
    certificates: 'ca',
    dialback: true,
    directTls: false,
  },
  {
    title: 'direct TLS both ways (XEP-0368), SASL EXTERNAL',
    certificates: 'ca',
    dialback: false,
    directTls: true,
  },
];

interface Setup {
  dns: TestDns;
  prosody: S2sProsody;
  warbler: TestServer;
  certDir: string;
}

async function startBoth(variant: Variant): Promise<Setup> {
  const dns = await startTestDns();
  const certDir = mkdtempSync(join(tmpdir(), 'warbler-s2s-prosody-'));
  const ca = variant.certificates === 'ca' ? createTestCA() : undefined;
  const certificate = (domain: string): PemPair => (ca ? ca.issue([domain]) : selfSigned([domain]));
  const write = (name: string, text: string) => {
    const file = join(certDir, name);
    writeFileSync(file, text, { mode: 0o600 });
    return file;
  };

  const prosody = await startS2sProsody({
    domain: PROSODY,
    certificate: certificate(PROSODY),
    dnsForward: dns.address,
    dialback: variant.dialback,
    directTls: variant.directTls,
    ...(ca ? { trustedCa: ca.cert } : {}),
  });
  let warbler: TestServer;
  try {
    const own = certificate(WARBLER);
    const s2s = [`direct_tls = ${variant.directTls}`];
    if (ca) s2s.push(`ca_file = ${JSON.stringify(write('ca.pem', ca.cert))}`);
    if (!variant.dialback) s2s.push('secure_auth = true');
    warbler = await startTestServer({
      hosts: [WARBLER],
      dir: certDir,
      s2s: s2s.join('\n'),
      extraToml: [
        '[tls]',
        `certificate = ${JSON.stringify(write('warbler.crt', own.cert))}`,
        `key = ${JSON.stringify(write('warbler.key', own.key))}`,
        `[s2s.routes.${JSON.stringify(PROSODY)}]`,
        'host = "127.0.0.1"',
        `port = ${variant.directTls ? prosody.s2sDirectTlsPort : prosody.s2sPort}`,
        `direct_tls = ${variant.directTls}`,
        // Stanzas exactly as sent: no archive ids added.
        '[modules]',
        'disabled = ["mam"]',
      ].join('\n'),
    });
  } catch (err) {
    await prosody.stop();
    await dns.stop();
    rmSync(certDir, { recursive: true, force: true });
    throw err;
  }
  // Where Prosody finds Warbler: the SRV record of RFC 6120 §3.2.1, on Warbler's free port; or
  // for direct TLS, XEP-0368's record, with "." saying there is no STARTTLS service to fall back to.
  if (variant.directTls) {
    dns.set(`_xmpps-server._tcp.${WARBLER}`, [
      { type: 'SRV', priority: 0, weight: 0, port: warbler.s2sTlsPort, target: WARBLER },
    ]);
    dns.set(`_xmpp-server._tcp.${WARBLER}`, [{ type: 'SRV', priority: 0, weight: 0, port: 0, target: '.' }]);
  } else {
    dns.set(`_xmpp-server._tcp.${WARBLER}`, [
      { type: 'SRV', priority: 0, weight: 0, port: warbler.s2sPort, target: WARBLER },
    ]);
  }
  dns.set(WARBLER, [{ type: 'A', address: '127.0.0.1' }]);
  return { dns, prosody, warbler, certDir };
}

function isPresence(from: string, type?: string) {
  return (el: XmlElement) =>
    el.is('presence') && el.attrs.from?.split('/')[0] === from && el.attrs.type === type;
}

async function rosterItem(client: TestClient, contact: string): Promise<Record<string, string> | undefined> {
  const result = await client.iqCaller.request(
    xml('iq', { type: 'get', id: `roster-${contact}` }, xml('query', { xmlns: ROSTER })),
  );
  const item = result
    .getChild('query', ROSTER)
    ?.getChildren('item')
    .find((i) => i.attrs.jid === contact);
  return item === undefined ? undefined : { jid: item.attrs.jid, subscription: item.attrs.subscription };
}

for (const variant of VARIANTS) {
  describe(`federation with Prosody (${variant.title})`, function () {
    this.timeout(60_000);
    let setup: Setup | undefined;
    let wanda: TestClient;
    let pat: TestClient;
    const wandaJid = `wanda@${WARBLER}`;
    const patJid = `pat@${PROSODY}`;

    before(async function () {
      skipWithoutS2sProsody(this);
      setup = await startBoth(variant);
      await setup.warbler.addUser('wanda', 'wanda-password');
      setup.prosody.addUser('pat', 'pat-password');
      wanda = await connect({
        port: setup.warbler.port,
        domain: WARBLER,
        username: 'wanda',
        password: 'wanda-password',
        resource: 'w',
      });
      pat = await connect({
        port: setup.prosody.c2sPort,
        domain: PROSODY,
        username: 'pat',
        password: 'pat-password',
        resource: 'p',
      });
      // Interested resources (RFC 6121 §1.4): only they get subscription approvals and roster pushes.
      await rosterItem(wanda, patJid);
      await rosterItem(pat, wandaJid);
      await wanda.send(xml('presence'));
      await pat.send(xml('presence'));
    });

    afterEach(function () {
      // What each side saw, to tell which server dropped what.
      if (this.currentTest?.state !== 'failed') return;
      process.stderr.write(`wanda received:\n${wanda?.received.map(String).join('\n')}\n`);
      process.stderr.write(`pat received:\n${pat?.received.map(String).join('\n')}\n`);
    });

    after(async () => {
      await wanda?.stop().catch(() => {});
      await pat?.stop().catch(() => {});
      if (setup === undefined) return;
      if (process.env.WARBLER_TEST_LOG) process.stderr.write(setup.prosody.log());
      await setup.warbler.stop();
      await setup.prosody.stop();
      await setup.dns.stop();
      rmSync(setup.certDir, { recursive: true, force: true });
    });

    it('subscribes the Warbler user to the Prosody user and back (RFC 6121 §3)', async () => {
      // Warbler → Prosody: the subscription request arrives with the bare JID of the requester.
      await wanda.send(xml('presence', { to: patJid, type: 'subscribe' }));
      const request = await pat.waitFor(isPresence(wandaJid, 'subscribe'), STANZA_WAIT_MS);
      expect(request.attrs.from).to.equal(wandaJid);
      expect(request.attrs.to).to.equal(patJid);

      await pat.send(xml('presence', { to: wandaJid, type: 'subscribed' }));
      const approved = await wanda.waitFor(isPresence(patJid, 'subscribed'), STANZA_WAIT_MS);
      expect(approved.attrs.from).to.equal(patJid);
      // §3.1.5: the contact's server then sends the contact's current presence.
      const available = await wanda.waitFor(isPresence(patJid, undefined), STANZA_WAIT_MS);
      expect(available.attrs.from).to.equal(`${patJid}/p`);

      // Prosody → Warbler.
      await pat.send(xml('presence', { to: wandaJid, type: 'subscribe' }));
      const back = await wanda.waitFor(isPresence(patJid, 'subscribe'), STANZA_WAIT_MS);
      expect(back.attrs.from).to.equal(patJid);
      expect(back.attrs.to).to.equal(wandaJid);

      await wanda.send(xml('presence', { to: patJid, type: 'subscribed' }));
      await pat.waitFor(isPresence(wandaJid, 'subscribed'), STANZA_WAIT_MS);
      const wandaAvailable = await pat.waitFor(isPresence(wandaJid, undefined), STANZA_WAIT_MS);
      expect(wandaAvailable.attrs.from).to.equal(`${wandaJid}/w`);

      expect(await rosterItem(wanda, patJid)).to.deep.equal({ jid: patJid, subscription: 'both' });
      expect(await rosterItem(pat, wandaJid)).to.deep.equal({ jid: wandaJid, subscription: 'both' });
    });

    it('carries a message from the Warbler user to the Prosody user', async () => {
      await wanda.send(
        xml('message', { to: patJid, type: 'chat', id: 'w1' }, xml('body', {}, 'Hello from Warbler')),
      );
      const message = await pat.waitFor((el) => el.is('message') && el.attrs.id === 'w1', STANZA_WAIT_MS);
      expect(message.attrs).to.include({ from: `${wandaJid}/w`, to: patJid, type: 'chat' });
      expect(message.getChildText('body')).to.equal('Hello from Warbler');
    });

    it('carries a message from the Prosody user to the Warbler user', async () => {
      await pat.send(
        xml(
          'message',
          { to: `${wandaJid}/w`, type: 'chat', id: 'p1' },
          xml('body', {}, 'Hello from Prosody'),
        ),
      );
      const message = await wanda.waitFor((el) => el.is('message') && el.attrs.id === 'p1', STANZA_WAIT_MS);
      expect(message.attrs).to.include({ from: `${patJid}/p`, to: `${wandaJid}/w`, type: 'chat' });
      expect(message.getChildText('body')).to.equal('Hello from Prosody');
    });

    // XEP-0178 §1: with certificates that check, SASL EXTERNAL; else dialback.
    const external = variant.certificates === 'ca';
    it(`authenticated both streams by ${external ? 'SASL EXTERNAL' : 'dialback'}`, () => {
      const stats = setup!.warbler.server.federation!.stats;
      if (!external) {
        expect(stats.outboundDialback, 'outgoing streams by dialback').to.be.greaterThan(0);
        expect(stats.inboundDialback, 'incoming domains by dialback').to.be.greaterThan(0);
        expect(stats.outboundExternal + stats.inboundExternal, 'streams by SASL EXTERNAL').to.equal(0);
      } else {
        expect(stats.outboundExternal, 'outgoing streams by SASL EXTERNAL').to.be.greaterThan(0);
        expect(stats.inboundExternal, 'incoming streams by SASL EXTERNAL').to.be.greaterThan(0);
        expect(stats.outboundDialback + stats.inboundDialback, 'domains by dialback').to.equal(0);
      }
      if (external) {
        // Prosody's side of it (logged at info level): it took Warbler's certificate as proof.
        expect(setup!.prosody.log()).to.include(`Accepting SASL EXTERNAL identity from ${WARBLER}`);
      }
      // Prosody found Warbler through the test's DNS (the only way it could: the records exist
      // nowhere else), by the record that leads to the one port offered.
      const record = variant.directTls ? '_xmpps-server' : '_xmpp-server';
      expect(setup!.dns.queries).to.include(`${record}._tcp.${WARBLER} SRV`);
    });
  });
}
