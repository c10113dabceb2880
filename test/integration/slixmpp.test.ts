// Interop with slixmpp (Python; Debian 12 ships 1.8.3 as python3-slixmpp), a client that shares
// no code with Warbler: it must log in at its first attempt and exchange messages with an
// @xmpp/client user. test/interop/slixmpp_client.py drives it and reports JSON lines.
//
// slixmpp 1.8 picks the strongest -PLUS mechanism offered and binds with tls-unique whatever
// the TLS version, so this is the test of the COMPAT note in src/tls/channel-binding.ts:
// tls-unique accepted on TLS 1.3 (RFC 5929 §3, RFC 9266 §3), without advertising it there.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { xml } from '@xmpp/client';
import { expect } from 'chai';
import { connect, type TestClient } from '../helpers/client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** The system interpreter: Debian's python3-slixmpp installs there, not in a pyenv or venv on PATH. */
const PYTHON = '/usr/bin/python3';
// From dist/test/integration/ back to the source tree's test/interop/.
const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '../../../test/interop/slixmpp_client.py');

type Report = { event: string } & Record<string, unknown>;

/** Why slixmpp cannot run here, or undefined when it can. */
function slixmppUnavailable(): string | undefined {
  const probe = spawnSync(PYTHON, ['-c', 'import slixmpp; print(slixmpp.__version__)'], { encoding: 'utf8' });
  if (probe.error) return `${PYTHON} cannot run (${probe.error.message})`;
  if (probe.status !== 0) return `${PYTHON} cannot import slixmpp (apt install python3-slixmpp)`;
  return undefined;
}

/** The script's reports as they come, and its exit code. */
class SlixmppRun {
  readonly reports: Report[] = [];
  readonly exited: Promise<number | null>;
  private readonly listeners: Array<() => void> = [];
  stderr = '';

  constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      this.reports.push(JSON.parse(line) as Report);
      for (const listener of this.listeners.splice(0)) listener();
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    void this.exited.then(() => {
      for (const listener of this.listeners.splice(0)) listener();
    });
  }

  /** The first report of this kind; rejects if the script exits without one. */
  async report(event: string): Promise<Report> {
    let exited = false;
    void this.exited.then(() => {
      exited = true;
    });
    for (;;) {
      const found = this.reports.find((r) => r.event === event);
      if (found) return found;
      if (exited || this.child.exitCode !== null) {
        throw new Error(`slixmpp exited without "${event}": ${JSON.stringify(this.reports)}\n${this.stderr}`);
      }
      await new Promise<void>((resolve) => this.listeners.push(resolve));
    }
  }
}

describe('interop: slixmpp', () => {
  let unavailable: string | undefined;
  let ts: TestServer | undefined;
  const clients: TestClient[] = [];
  let run: SlixmppRun | undefined;

  before(async () => {
    unavailable = slixmppUnavailable();
    if (unavailable) return;
    ts = await startTestServer();
    await ts.addUser('alice', 'alice-secret');
    await ts.addUser('bob', 'bob-secret');
  });
  beforeEach(function () {
    if (unavailable) {
      this.currentTest!.title += ` (skipped: ${unavailable})`;
      this.skip();
    }
  });
  afterEach(async () => {
    if (run && run.child.exitCode === null) run.child.kill();
    run = undefined;
    await Promise.all(clients.splice(0).map((c) => c.stop().catch(() => {})));
  });
  after(async () => {
    await ts?.stop();
  });

  it('logs in at the first attempt (SCRAM-SHA-256-PLUS, tls-unique) and exchanges messages both ways', async () => {
    const server = ts!;
    const bob = await connect({
      port: server.port,
      domain: 'localhost',
      username: 'bob',
      password: 'bob-secret',
      resource: 'desk',
    });
    clients.push(bob);

    const args = [
      '--jid',
      'alice@localhost/slix',
      '--password',
      'alice-secret',
      '--port',
      String(server.port),
    ];
    args.push('--to', 'bob@localhost/desk', '--body', 'hello from slixmpp');
    run = new SlixmppRun(spawn(PYTHON, [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));

    const bound = await run.report('bound');
    expect(bound).to.deep.equal({ event: 'bound', jid: 'alice@localhost/slix', tls: 'TLSv1.3' });

    const fromSlixmpp = await bob.waitFor((el) => el.name === 'message', 15000);
    expect(fromSlixmpp.attrs.from).to.equal('alice@localhost/slix');
    expect(fromSlixmpp.attrs.type).to.equal('chat');
    expect(fromSlixmpp.getChildText('body')).to.equal('hello from slixmpp');

    await bob.send(
      xml(
        'message',
        { to: 'alice@localhost/slix', type: 'chat' },
        xml('body', {}, 'hello from @xmpp/client'),
      ),
    );
    expect(await run.exited).to.equal(0);
    expect(run.reports.find((r) => r.event === 'message')).to.deep.equal({
      event: 'message',
      from: 'bob@localhost/desk',
      type: 'chat',
      body: 'hello from @xmpp/client',
    });

    // Exactly one SASL exchange: one <auth/>, no <failure/>, then success.
    const sasl = run.reports.filter((r) => ['auth', 'failure', 'success'].includes(r.event));
    expect(sasl).to.deep.equal([
      { event: 'auth', mechanism: 'SCRAM-SHA-256-PLUS', gs2_header: 'p=tls-unique,,' },
      { event: 'success', mechanism: 'SCRAM-SHA-256-PLUS' },
    ]);
    expect(run.reports.filter((r) => r.event === 'error')).to.deep.equal([]);
  });

  it('a wrong password: not-authorized at each attempt, until the server ends the stream', async () => {
    const server = ts!;
    const args = ['--jid', 'alice@localhost/slix', '--password', 'wrong', '--port', String(server.port)];
    args.push('--to', 'bob@localhost/desk', '--timeout', '10');
    run = new SlixmppRun(spawn(PYTHON, [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
    expect(await run.exited).to.equal(1);
    const sasl = run.reports.filter((r) => ['auth', 'failure', 'success'].includes(r.event));
    expect(sasl.slice(0, 2)).to.deep.equal([
      { event: 'auth', mechanism: 'SCRAM-SHA-256-PLUS', gs2_header: 'p=tls-unique,,' },
      { event: 'failure', mechanism: 'SCRAM-SHA-256-PLUS', condition: 'not-authorized' },
    ]);
    // slixmpp tries the next mechanism after each failure; c2s.max_auth_attempts (3) ends it.
    const failures = sasl.filter((r) => r.event === 'failure').map((r) => r.condition);
    expect(failures).to.deep.equal(['not-authorized', 'not-authorized', 'not-authorized']);
    expect(sasl.some((r) => r.event === 'success')).to.equal(false);
  });
});
