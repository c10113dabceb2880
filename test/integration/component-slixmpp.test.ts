// XEP-0114 with an independent component library: slixmpp's ComponentXMPP (Python; Debian 12
// ships 1.8.3 as python3-slixmpp) connects to Warbler's component port, is listed in the host's
// disco items, and echoes an @xmpp/client user's messages. A wrong secret ends its stream with
// not-authorized. test/interop/slixmpp_component.py drives it and reports JSON lines.

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
const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '../../../test/interop/slixmpp_component.py');
const SECRET = 'slixmpp component secret';

type Report = { event: string } & Record<string, unknown>;

function slixmppUnavailable(): string | undefined {
  const probe = spawnSync(PYTHON, ['-c', 'import slixmpp.componentxmpp'], { encoding: 'utf8' });
  if (probe.error) return `${PYTHON} cannot run (${probe.error.message})`;
  if (probe.status !== 0) return `${PYTHON} cannot import slixmpp (apt install python3-slixmpp)`;
  return undefined;
}

/** The script's reports as they come. */
class ComponentRun {
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
    for (;;) {
      const found = this.reports.find((r) => r.event === event);
      if (found) return found;
      if (this.child.exitCode !== null)
        throw new Error(`slixmpp exited without "${event}": ${JSON.stringify(this.reports)}\n${this.stderr}`);
      await new Promise<void>((resolve) => this.listeners.push(resolve));
    }
  }
}

describe('components: slixmpp ComponentXMPP', () => {
  let unavailable: string | undefined;
  let ts: TestServer | undefined;
  let alice: TestClient | undefined;
  let run: ComponentRun | undefined;
  let port = 0;

  const start = (secret: string) =>
    new ComponentRun(
      spawn(PYTHON, [SCRIPT, '--jid', 'echo.localhost', '--secret', secret, '--port', String(port)], {
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );

  before(async () => {
    unavailable = slixmppUnavailable();
    if (unavailable) return;
    ts = await startTestServer({
      extraToml: [
        '[component]',
        'addresses = ["127.0.0.1"]',
        'port = 0',
        '[components."echo.localhost"]',
        `secret = "${SECRET}"`,
      ].join('\n'),
    });
    port = ts.server.listening.component[0]!.port;
    await ts.addUser('alice', 'alice-secret');
    alice = await connect({
      port: ts.port,
      domain: 'localhost',
      username: 'alice',
      password: 'alice-secret',
    });
  });
  beforeEach(function () {
    if (unavailable) {
      this.currentTest!.title += ` (skipped: ${unavailable})`;
      this.skip();
    }
  });
  afterEach(async () => {
    if (run && run.child.exitCode === null) {
      run.child.kill();
      await run.exited;
    }
    run = undefined;
  });
  after(async () => {
    await alice?.stop().catch(() => {});
    await ts?.stop();
  });

  it('connects, finds itself in the host’s disco items, and echoes a user’s message', async () => {
    run = start(SECRET);
    await run.report('online');
    expect(await run.report('items')).to.deep.equal({
      event: 'items',
      jids: ['conference.localhost', 'echo.localhost'],
    });

    await alice!.send(
      xml('message', { to: 'bot@echo.localhost', type: 'chat', id: 'e1' }, xml('body', {}, 'ping?')),
    );
    expect(await run.report('message')).to.deep.equal({
      event: 'message',
      from: alice!.jid!.toString(),
      to: 'bot@echo.localhost',
      body: 'ping?',
    });
    const echo = await alice!.waitFor(
      (s) => s.is('message') && s.attrs.from === 'bot@echo.localhost',
      10_000,
    );
    expect(echo.getChildText('body')).to.equal('echo: ping?');
  });

  it('is refused with not-authorized for a wrong secret', async () => {
    run = start('wrong secret');
    expect(await run.report('offline')).to.deep.equal({ event: 'offline', why: 'not-authorized' });
    expect(run.reports.some((r) => r.event === 'online')).to.equal(false);
  });
});
