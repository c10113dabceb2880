// The AI assistant against Warbler's own component port (bot.test.ts runs it against Prosody):
// a real Warbler, @xmpp/client as the user, the assistant as a real XEP-0114 component, and the
// fake OpenAI-compatible server (test/helpers/fake-llm.ts) with scripted, streamed answers.
//
// First the assistant in-process (runBot) with a configured secret: a streamed answer with its
// corrections, presence subscription through Warbler's roster, disco. Then what `warbler start`
// does with [bot] enabled = true: the assistant as a supervised child process with a secret made
// for the run, restarted when it dies, stopped with the server.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type XmlElement, xml } from '@xmpp/client';
import { expect } from 'chai';
import { type BotHandle, runBot } from '../../src/bot/index.js';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { BUILTIN_MODULES, moduleSections } from '../../src/modules.js';
import { Server } from '../../src/server.js';
import { NS } from '../../src/xml/ns.js';
import { connect, eventually, type TestClient } from '../helpers/client.js';
import { type FakeLlm, startFakeLlm, streamed } from '../helpers/fake-llm.js';
import { request, upcoming } from '../helpers/im.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const BOT = 'assistant@ai.localhost';
const SECRET = 'assistant secret';
const CORRECT = 'urn:xmpp:message-correct:0';

const isBotMessage = (el: XmlElement) => el.name === 'message' && el.attrs.from === BOT;
const isActive = (el: XmlElement) => isBotMessage(el) && el.getChild('active', NS.CHATSTATES) !== undefined;
const bodyOf = (el: XmlElement) => el.getChildText('body') ?? undefined;

/** The message showing the answer once `end` (the <active/>) arrived: the last one with a body. */
function shownAt(c: TestClient, end: XmlElement): XmlElement {
  for (let i = c.received.indexOf(end); i >= 0; i--) {
    const el = c.received[i]!;
    if (isBotMessage(el) && bodyOf(el) !== undefined) return el;
  }
  throw new Error('no answer before the final chat state');
}

let ids = 0;

/** Asks the assistant and waits for the final message of exactly this answer. */
async function ask(c: TestClient, text: string, timeoutMs = 10_000): Promise<XmlElement> {
  const next = upcoming(c);
  await c.send(xml('message', { to: BOT, type: 'chat', id: `q${++ids}` }, xml('body', {}, text)));
  const end = await Promise.race([
    next(isActive),
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`no answer to "${text}"`)), timeoutMs),
    ),
  ]);
  return shownAt(c, end);
}

function backendToml(llm: FakeLlm): string {
  return [
    '[bot.backend]',
    `base_url = "${llm.url}"`,
    'model = "fake-model"',
    '[bot.timeouts]',
    'connect = 2',
    'first_token = 5',
    'silence = 5',
    'total = 10',
  ].join('\n');
}

describe('the AI assistant against Warbler', function () {
  this.timeout(30_000);
  let llm: FakeLlm;
  const clients: TestClient[] = [];

  before(async () => {
    llm = await startFakeLlm();
  });
  after(async () => {
    await llm?.stop();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.stop().catch(() => {})));
  });

  async function user(port: number, name: string): Promise<TestClient> {
    const c = await connect({ port, domain: 'localhost', username: name, password: `${name}-pw` });
    clients.push(c);
    return c;
  }

  describe('in-process, on the component port', () => {
    let ts: TestServer;
    let bot: BotHandle;

    before(async () => {
      ts = await startTestServer({
        extraToml: [
          '[component]',
          'addresses = ["127.0.0.1"]',
          'port = 0',
          '[components."ai.localhost"]',
          `secret = "${SECRET}"`,
          'name = "Assistant"',
        ].join('\n'),
      });
      for (const name of ['alice', 'bob']) await ts.addUser(name, `${name}-pw`);
      const config = loadConfig({
        text: [
          '[bot]',
          `server_port = ${ts.server.listening.component[0]!.port}`,
          'correction_interval = 200',
          'system_prompt = "You are a test."',
          backendToml(llm),
          '[bot.memory]',
          'persist = false',
        ].join('\n'),
      }).bot;
      bot = await runBot({ config, serverDomain: 'localhost', dataDir: ts.dir, secret: SECRET });
    });

    after(async () => {
      await bot?.stop();
      await ts?.stop();
    });

    it('streams an answer to a local user as one message and its corrections', async () => {
      let open!: () => void;
      const gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      llm.script([
        { steps: [{ text: 'The answer' }, { gate }, { text: ' is **42**.' }, { finish: 'stop' }] },
      ]);
      const alice = await user(ts.port, 'alice');
      const next = upcoming(alice);
      await alice.send(xml('message', { to: BOT, type: 'chat', id: 'deep' }, xml('body', {}, 'What is it?')));
      const opening = await next((el) => isBotMessage(el) && bodyOf(el) !== undefined);
      expect(bodyOf(opening)).to.equal('The answer');
      open();
      const final = shownAt(alice, await next(isActive));
      expect(bodyOf(final)).to.equal('The answer is *42*.');
      expect(final.getChild('replace', CORRECT)!.attrs.id).to.equal(opening.attrs.id);
      expect(llm.requests.at(-1)!.body.messages).to.deep.equal([
        { role: 'system', content: 'You are a test.' },
        { role: 'user', content: 'What is it?' },
      ]);
    });

    it('accepts a subscription through Warbler’s roster and shows as online', async () => {
      const bob = await user(ts.port, 'bob');
      // Subscription notices go to the resources that asked for the roster (RFC 6121 §3.1.6).
      await request(bob, 'get', xml('query', { xmlns: NS.ROSTER }));
      await bob.send(xml('presence'));
      const next = upcoming(bob);
      await bob.send(xml('presence', { to: BOT, type: 'subscribe' }));
      const subscribed = await next((el) => el.name === 'presence' && el.attrs.type === 'subscribed');
      expect(subscribed.attrs.from).to.equal(BOT);
      const available = await next(
        (el) =>
          el.name === 'presence' && el.attrs.from?.startsWith(BOT) === true && el.attrs.type === undefined,
      );
      expect(available.getChildText('status')).to.equal('Ask me anything (fake-model)');
    });

    it('is a client/bot in disco, and listed in the host’s items', async () => {
      const alice = await user(ts.port, 'alice');
      const info = await request(alice, 'get', xml('query', { xmlns: NS.DISCO_INFO }), BOT);
      expect(info.getChild('query', NS.DISCO_INFO)!.getChild('identity')!.attrs).to.include({
        category: 'client',
        type: 'bot',
      });
      const items = await request(alice, 'get', xml('query', { xmlns: NS.DISCO_ITEMS }), 'localhost');
      const jids = items
        .getChild('query', NS.DISCO_ITEMS)!
        .getChildren('item')
        .map((i) => i.attrs.jid);
      expect(jids).to.include('ai.localhost');
    });
  });

  describe('supervised by the server ([bot] enabled = true)', () => {
    let dir: string;
    let server: Server | undefined;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'warbler-bot-supervised-'));
      const configFile = join(dir, 'warbler.toml');
      writeFileSync(
        configFile,
        [
          'hosts = ["localhost"]',
          'data_dir = "data"',
          '[log]',
          // The child's own log goes to the test's standard error.
          'level = "error"',
          '[c2s]',
          'addresses = ["127.0.0.1"]',
          'port = 0',
          'direct_tls_port = 0',
          '[s2s]',
          'enabled = false',
          '[component]',
          'addresses = ["127.0.0.1"]',
          'port = 0',
          '[bot]',
          'enabled = true',
          'streaming = "final"',
          backendToml(llm),
        ].join('\n'),
      );
      const config = loadConfig({ file: configFile }, moduleSections());
      server = await Server.start(config, { modules: BUILTIN_MODULES, log: silentLogger, configFile });
      await server.accounts.create((await import('../../src/jid.js')).jid('alice', 'localhost'), 'alice-pw');
    });

    after(async () => {
      await server?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const connected = () => server!.components.session('ai.localhost') !== undefined;

    it('runs the assistant as a child process that answers, restarts it when it dies, and stops it with the server', async () => {
      const supervisor = server!.botSupervisor!;
      await eventually(connected, 'the assistant connected', 15_000);
      const port = server!.listening.c2s[0]!.port;
      const alice = await user(port, 'alice');
      llm.script([streamed('First life.'), streamed('Second life.')]);
      expect(bodyOf(await ask(alice, 'Are you there?'))).to.equal('First life.');

      const firstPid = supervisor.pid!;
      process.kill(firstPid, 'SIGKILL');
      await eventually(() => !connected(), 'the dead assistant’s stream closed', 5000);
      await eventually(() => connected() && supervisor.starts === 2, 'the assistant came back', 15_000);
      expect(supervisor.pid).to.not.equal(firstPid);
      expect(bodyOf(await ask(alice, 'And now?'))).to.equal('Second life.');

      const secondPid = supervisor.pid!;
      await server!.stop();
      server = undefined;
      expect(() => process.kill(secondPid, 0)).to.throw(Error, 'ESRCH');
    });
  });
});
