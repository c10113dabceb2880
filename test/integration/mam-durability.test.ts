// XEP-0313 archive and DESIGN.md's durability promise: a message the recipient got, with the
// <stanza-id/> its archive gave it (§3.5), is in both archives after `kill -9` of the server.
// The archive commits a turn's messages in one transaction before the turn's output leaves
// (xeps/0313-mam/store.ts); this test kills the server the moment the last message arrives.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type XmlElement, xml } from '@xmpp/client';
import { expect } from 'chai';
import { connect, type TestClient } from '../helpers/client.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const MAM = 'urn:xmpp:mam:2';
const SID = 'urn:xmpp:sid:0';
const MESSAGES = 40;

interface Running {
  child: ChildProcess;
  port: number;
  exited: Promise<unknown>;
}

/** `warbler start` in its own process, with the c2s port it logs. */
async function start(config: string): Promise<Running> {
  const env = { ...process.env };
  delete env.WARBLER_CONFIG;
  const child = spawn(process.execPath, [CLI, 'start', '--config', config], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  let log = '';
  const port = await new Promise<number>((resolve, reject) => {
    const read = (s: string) => {
      log += s;
      const match = /listening listener=c2s address=\S+ port=(\d+)/.exec(log);
      if (match) resolve(Number(match[1]));
    };
    child.stdout!.setEncoding('utf8').on('data', read);
    child.stderr!.setEncoding('utf8').on('data', read);
    child.on('exit', () => reject(new Error(`warbler exited before listening:\n${log}`)));
  });
  return { child, port, exited };
}

/** Every message of an account's archive, as (body, id) in archive order. */
async function archive(client: TestClient): Promise<Array<{ body: string; id: string }>> {
  const queryid = 'all';
  const answer = client.waitFor((el) => el.name === 'iq' && el.attrs.id === 'mam-query');
  await client.send(
    xml(
      'iq',
      { type: 'set', id: 'mam-query' },
      xml(
        'query',
        { xmlns: MAM, queryid },
        xml('set', { xmlns: 'http://jabber.org/protocol/rsm' }, xml('max', {}, '100')),
      ),
    ),
  );
  expect((await answer).attrs.type).to.equal('result');
  return client.received
    .map((el) => el.getChild('result', MAM))
    .filter((r): r is XmlElement => r?.attrs.queryid === queryid)
    .map((r) => ({
      body: r.getChild('forwarded')!.getChild('message')!.getChildText('body')!,
      id: r.attrs.id as string,
    }));
}

describe('XEP-0313 archive durability', function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), 'warbler-mam-kill-'));
  const config = join(dir, 'warbler.toml');
  const clients: TestClient[] = [];
  const processes: ChildProcess[] = [];

  before(() => {
    writeFileSync(
      config,
      [
        'hosts = ["localhost"]',
        'data_dir = "data"',
        '[s2s]',
        'enabled = false',
        '[c2s]',
        'addresses = ["127.0.0.1"]',
        'port = 0',
        'direct_tls_port = 0',
        'resumption_timeout = 0',
        '',
      ].join('\n'),
    );
    for (const user of ['alice', 'bob'])
      execFileSync(
        process.execPath,
        [CLI, 'adduser', `${user}@localhost`, '--password-stdin', '--config', config],
        {
          input: 'secret\n',
        },
      );
  });

  after(async () => {
    for (const c of clients) await c.stop().catch(() => {});
    for (const p of processes) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every message the recipient got, under the id it got, after kill -9', async () => {
    const first = await start(config);
    processes.push(first.child);
    const login = async (username: string, port: number) => {
      const client = await connect({ port, domain: 'localhost', username, password: 'secret' });
      client.on('error', () => {});
      clients.push(client);
      return client;
    };
    const alice = await login('alice', first.port);
    const bob = await login('bob', first.port);
    const bobJid = bob.jid!.toString();

    // Sent without waiting, so that several arrive in one turn of the server's event loop.
    const sends: Array<Promise<void>> = [];
    for (let n = 0; n < MESSAGES; n++)
      sends.push(alice.send(xml('message', { to: bobJid, type: 'chat' }, xml('body', {}, `m${n}`))));
    await Promise.all(sends);
    const last = await bob.waitFor(
      (el) => el.name === 'message' && el.getChildText('body') === `m${MESSAGES - 1}`,
    );
    first.child.kill('SIGKILL');
    await first.exited;

    const got = bob.received
      .filter((el) => el.name === 'message' && el.getChild('body'))
      .map((el) => ({
        body: el.getChildText('body')!,
        id: el.getChildren('stanza-id').find((s) => s.attrs.xmlns === SID && s.attrs.by === 'bob@localhost')!
          .attrs.id as string,
      }));
    expect(got.map((m) => m.body)).to.deep.equal(Array.from({ length: MESSAGES }, (_, n) => `m${n}`));
    expect(last.getChild('stanza-id', SID)).to.not.equal(undefined);

    const second = await start(config);
    processes.push(second.child);
    const bobAgain = await login('bob', second.port);
    expect(await archive(bobAgain)).to.deep.equal(got);
    const aliceAgain = await login('alice', second.port);
    expect((await archive(aliceAgain)).map((m) => m.body)).to.deep.equal(got.map((m) => m.body));
  });
});
