// The AI assistant end to end over real sockets, twice: against Prosody from Debian's packages
// (proving it works with other servers' XEP-0114 component port) and against Warbler itself, with
// @xmpp/client as the user, the assistant as a real component, and a real local HTTP server
// speaking the OpenAI-compatible chat-completions protocol with scripted, streamed answers.
//
// Covered: the handshake (and its failures), streamed answers as one message plus throttled
// XEP-0308 corrections (XEP-0334 hints on the intermediate ones, XEP-0085 states), final-only
// mode, splitting, Markdown → XEP-0393, memory and its persistence across restarts, every
// command typed and as XEP-0050 ad-hoc commands, receipts, refusing encrypted payloads, the allow
// list, presence subscriptions, disco, and every backend failure ending in exactly one final
// message: unreachable, HTTP errors, an error inside the stream, truncation, slow first tokens,
// silence, keep-alives and reasoning.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type XmlElement, xml } from '@xmpp/client';
import { expect } from 'chai';
import { BotError, type BotHandle, runBot } from '../../src/bot/index.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger, type Logger, type LogLevel } from '../../src/log.js';
import { NS } from '../../src/xml/ns.js';
import { connect, eventually, type TestClient } from '../helpers/client.js';
import { type FakeLlm, startFakeLlm, streamed } from '../helpers/fake-llm.js';
import { errorOf, request, upcoming } from '../helpers/im.js';
import { skipWithoutProsody, startProsody } from '../helpers/prosody.js';
import { startTestServer } from '../helpers/server.js';

const BOT = 'assistant@ai.localhost';
const CORRECT = 'urn:xmpp:message-correct:0';
const COMMANDS = 'http://jabber.org/protocol/commands';

type TomlValue = string | number | boolean | readonly string[];
type BotSettings = { [section: string]: { [key: string]: TomlValue } };

/** The [bot] section as TOML: `bot` holds its own keys, other entries its subsections. */
function botToml(settings: BotSettings): string {
  const lines: string[] = [];
  for (const [section, keys] of Object.entries(settings)) {
    lines.push(section === 'bot' ? '[bot]' : `[bot.${section}]`);
    for (const [key, value] of Object.entries(keys)) lines.push(`${key} = ${JSON.stringify(value)}`);
  }
  return lines.join('\n');
}

function testLog(): Logger | undefined {
  const level = process.env.WARBLER_TEST_LOG as LogLevel | undefined;
  return level ? createLogger({ level }) : undefined;
}

function isBotMessage(el: XmlElement): boolean {
  return el.name === 'message' && el.attrs.from === BOT;
}

function bodyOf(el: XmlElement): string | undefined {
  return el.getChildText('body') ?? undefined;
}

/**
 * The end of an answer: the <active/> chat state, on the final message or (when the last message
 * sent already holds the whole answer) on its own.
 */
function isActive(el: XmlElement): boolean {
  return isBotMessage(el) && el.getChild('active', NS.CHATSTATES) !== undefined;
}

/** The message showing the answer once `end` (the <active/>) arrived: the last one with a body. */
function shownAt(c: TestClient, end: XmlElement): XmlElement {
  const upTo = c.received.indexOf(end);
  for (let i = upTo; i >= 0; i--) {
    const el = c.received[i]!;
    if (isBotMessage(el) && bodyOf(el) !== undefined) return el;
  }
  throw new Error('no answer before the final chat state');
}

function deferred(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** The XMPP server the assistant runs against, with its component (ai.localhost) configured. */
interface BotServer {
  readonly c2sPort: number;
  readonly componentPort: number;
  readonly secret: string;
  /** The SASL mechanism users log in with (the library's choice when undefined). */
  readonly mechanism: string | undefined;
  addUser(username: string, password: string): void | Promise<void>;
  stop(): Promise<void>;
}

botSuite('the AI assistant against Prosody', async (ctx) => {
  skipWithoutProsody(ctx);
  return { ...(await startProsody()), mechanism: 'PLAIN' };
});

botSuite('the AI assistant against Warbler', async () => {
  const secret = 'assistant secret';
  const ts = await startTestServer({
    extraToml: [
      '[component]',
      'addresses = ["127.0.0.1"]',
      'port = 0',
      '[components."ai.localhost"]',
      `secret = "${secret}"`,
    ].join('\n'),
  });
  return {
    c2sPort: ts.port,
    componentPort: ts.server.listening.component[0]!.port,
    secret,
    mechanism: undefined,
    addUser: (username, password) => ts.addUser(username, password),
    stop: () => ts.stop(),
  };
});

function botSuite(title: string, start: (ctx: Mocha.Context) => Promise<BotServer>): void {
  describe(title, function () {
    this.timeout(30_000);
    let server: BotServer;
    let llm: FakeLlm;
    let dir: string;
    let bot: BotHandle | undefined;
    const clients: TestClient[] = [];
    let ids = 0;

    before(async function () {
      server = await start(this);
      for (const name of ['alice', 'bob', 'carol', 'dave', 'mallory'])
        await server.addUser(name, `${name}-pw`);
      llm = await startFakeLlm();
      dir = mkdtempSync(join(tmpdir(), 'warbler-bot-'));
    });

    after(async () => {
      await bot?.stop();
      await llm?.stop();
      await server?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    afterEach(async () => {
      await Promise.all(clients.splice(0).map((c) => c.stop().catch(() => {})));
    });

    function settings(overrides: BotSettings = {}): BotSettings {
      const base: BotSettings = {
        bot: {
          server_port: server.componentPort,
          allow: ['alice@localhost', 'bob@localhost', 'carol@localhost', 'dave@localhost'],
          correction_interval: 200,
          system_prompt: 'You are a test.',
        },
        backend: { base_url: llm.url, model: 'fake-model', models: ['fake-model', 'other-model'] },
        timeouts: { connect: 2, first_token: 2, silence: 2, total: 10 },
        memory: { database: join(dir, 'bot.sqlite') },
      };
      for (const [section, keys] of Object.entries(overrides)) base[section] = { ...base[section], ...keys };
      return base;
    }

    async function startBot(overrides: BotSettings = {}, secret = server.secret): Promise<BotHandle> {
      await bot?.stop();
      bot = undefined;
      const config = loadConfig({ text: botToml(settings(overrides)) }).bot;
      bot = await runBot({ config, serverDomain: 'localhost', dataDir: dir, secret, log: testLog() });
      return bot;
    }

    async function user(name: string): Promise<TestClient> {
      const c = await connect({
        port: server.c2sPort,
        domain: 'localhost',
        username: name,
        password: `${name}-pw`,
        mechanism: server.mechanism,
      });
      clients.push(c);
      return c;
    }

    /** Sends a chat message to the assistant; returns its id. */
    async function say(c: TestClient, text: string, ...payload: XmlElement[]): Promise<string> {
      const id = `q${++ids}`;
      await c.send(xml('message', { to: BOT, type: 'chat', id }, xml('body', {}, text), ...payload));
      return id;
    }

    /** Asks and waits for the final message of the answer. */
    async function ask(c: TestClient, text: string): Promise<XmlElement> {
      const next = upcoming(c);
      await say(c, text);
      return shownAt(c, await next(isActive));
    }

    /**
     * Proves nothing more came from the assistant after `mark`: a /usage command is answered at
     * once, so any stray message sent before it would have arrived first.
     */
    async function expectNothingMoreAfter(c: TestClient, final: XmlElement): Promise<void> {
      const reply = await ask(c, '/usage');
      const from = c.received.indexOf(final);
      const between = c.received
        .slice(from + 1, c.received.indexOf(reply))
        .filter((el) => isBotMessage(el) && bodyOf(el));
      expect(between.map((el) => el.toString())).to.deep.equal([]);
    }

    describe('connecting', () => {
      it('runs the bot: handshake, then an answer to a chat message', async () => {
        const handle = await startBot();
        expect(handle.jid).to.equal(BOT);
        expect(handle.domain).to.equal('ai.localhost');
        expect(handle.online).to.equal(true);
        llm.script([streamed('Hello, **alice**.')]);
        const alice = await user('alice');
        const final = await ask(alice, 'Hi!');
        expect(bodyOf(final)).to.equal('Hello, *alice*.');
        const sent = llm.requests.at(-1)!.body;
        expect(sent.model).to.equal('fake-model');
        expect(sent.stream).to.equal(true);
        expect(sent.messages).to.deep.equal([
          { role: 'system', content: 'You are a test.' },
          { role: 'user', content: 'Hi!' },
        ]);
      });

      it('fails to start with a wrong secret, saying the server refused it', async () => {
        await bot?.stop();
        bot = undefined;
        const config = loadConfig({ text: botToml(settings()) }).bot;
        const failure = await runBot({
          config,
          serverDomain: 'localhost',
          dataDir: dir,
          secret: 'wrong',
        }).then(
          () => undefined,
          (err: unknown) => err,
        );
        expect(failure).to.be.instanceOf(BotError);
        expect((failure as BotError).code).to.equal('BOT_CONNECT');
        expect((failure as BotError).message).to.contain('refused the component secret');
      });

      it('fails to start for a component name the server does not serve', async () => {
        const config = loadConfig({ text: botToml(settings({ bot: { component: 'nope.localhost' } })) }).bot;
        const failure = await runBot({
          config,
          serverDomain: 'localhost',
          dataDir: dir,
          secret: server.secret,
        }).then(
          () => undefined,
          (err: unknown) => err,
        );
        expect(failure).to.be.instanceOf(BotError);
        expect((failure as BotError).code).to.equal('BOT_CONNECT');
      });
    });

    describe('one-to-one chat', () => {
      before(async () => {
        await startBot();
      });

      it('streams an answer as one message and throttled corrections, marking the intermediate ones', async () => {
        const first = deferred();
        const second = deferred();
        llm.script([
          {
            steps: [
              { text: 'The answer' },
              { gate: first.promise },
              { text: ' is **42**' },
              { gate: second.promise },
              { text: '.' },
              { finish: 'stop' },
              { usage: { prompt: 20, completion: 6 } },
            ],
          },
        ]);
        const alice = await user('alice');
        const next = upcoming(alice);
        await say(alice, 'What is the answer?');
        const composing = await next(
          (el) => isBotMessage(el) && el.getChild('composing', NS.CHATSTATES) !== undefined,
        );
        expect(bodyOf(composing)).to.equal(undefined);
        const opening = await next((el) => isBotMessage(el) && bodyOf(el) !== undefined);
        expect(bodyOf(opening)).to.equal('The answer');
        expect(opening.getChild('replace', CORRECT)).to.equal(undefined);
        expect(opening.getChild('no-permanent-store', NS.HINTS)).to.equal(undefined);
        const originalId = opening.attrs.id;

        first.open();
        const middle = await next((el) => isBotMessage(el) && el.getChild('replace', CORRECT) !== undefined);
        expect(bodyOf(middle)).to.equal('The answer is *42*');
        expect(middle.getChild('replace', CORRECT)!.attrs.id).to.equal(originalId);
        expect(middle.getChild('no-permanent-store', NS.HINTS)).to.not.equal(undefined);
        expect(middle.getChild('active', NS.CHATSTATES)).to.equal(undefined);

        second.open();
        const final = await next(isActive);
        expect(bodyOf(final)).to.equal('The answer is *42*.');
        expect(final.getChild('replace', CORRECT)!.attrs.id).to.equal(originalId);
        expect(final.getChild('no-permanent-store', NS.HINTS)).to.equal(undefined);
        expect(new Set([opening.attrs.id, middle.attrs.id, final.attrs.id]).size).to.equal(3);
        await expectNothingMoreAfter(alice, final);
      });

      it('remembers the conversation and sends it with the next question', async () => {
        llm.script([streamed('Paris.'), streamed('About 2.1 million.')]);
        const bob = await user('bob');
        await ask(bob, 'Capital of France?');
        await ask(bob, 'How many people live there?');
        expect(llm.requests.at(-1)!.body.messages).to.deep.equal([
          { role: 'system', content: 'You are a test.' },
          { role: 'user', content: 'Capital of France?' },
          { role: 'assistant', content: 'Paris.' },
          { role: 'user', content: 'How many people live there?' },
        ]);
      });

      it('answers a receipt request (XEP-0184)', async () => {
        llm.script([streamed('Received.')]);
        const carol = await user('carol');
        const next = upcoming(carol);
        const id = await say(carol, 'ping?', xml('request', { xmlns: NS.RECEIPTS }));
        const receipt = await next(
          (el) => isBotMessage(el) && el.getChild('received', NS.RECEIPTS) !== undefined,
        );
        expect(receipt.getChild('received', NS.RECEIPTS)!.attrs.id).to.equal(id);
        await next(isActive);
      });

      it('refuses an OMEMO message in plain text and never sends it to the model', async () => {
        const before = llm.requests.length;
        const carol = await user('carol');
        const next = upcoming(carol);
        await say(
          carol,
          'I sent you an OMEMO encrypted message but your client doesn’t seem to support that.',
          xml('encrypted', { xmlns: 'eu.siacs.conversations.axolotl' }, xml('header', { sid: '1' })),
        );
        const refusal = shownAt(carol, await next(isActive));
        expect(bodyOf(refusal)).to.match(/^⚠ I cannot read OMEMO-encrypted messages/);
        expect(llm.requests.length).to.equal(before);
      });

      it('answers someone not on the allow list with a forbidden error', async () => {
        const before = llm.requests.length;
        const mallory = await user('mallory');
        const next = upcoming(mallory);
        const id = await say(mallory, 'Let me in');
        const error = await next(
          (el) => el.name === 'message' && el.attrs.id === id && el.attrs.type === 'error',
        );
        expect(errorOf(error)).to.deep.equal({ type: 'auth', condition: 'forbidden' });
        expect(llm.requests.length).to.equal(before);
      });

      it('takes unknown /words as text, not commands', async () => {
        llm.script([streamed('It is a directory.')]);
        const dave = await user('dave');
        await ask(dave, '/etc is what?');
        expect(llm.requests.at(-1)!.body.messages.at(-1)).to.deep.equal({
          role: 'user',
          content: '/etc is what?',
        });
      });
    });

    describe('commands', () => {
      before(async () => {
        await startBot();
      });

      it('/help lists the commands', async () => {
        const alice = await user('alice');
        const help = bodyOf(await ask(alice, '/help'))!;
        for (const name of ['help', 'reset', 'retry', 'stop', 'model', 'system', 'usage', 'forget'])
          expect(help).to.contain(`/${name}`);
      });

      it('/model and /system change what the next question is sent with', async () => {
        llm.script([streamed('Bonjour.')]);
        const alice = await user('alice');
        expect(bodyOf(await ask(alice, '/model nonexistent'))).to.equal(
          '⚠ There is no model "nonexistent" here. Available: fake-model, other-model.',
        );
        expect(bodyOf(await ask(alice, '/model other-model'))).to.equal('Model set to other-model.');
        expect(bodyOf(await ask(alice, '/system Answer in French.'))).to.equal(
          'Understood: these are my instructions here from now on.',
        );
        await ask(alice, 'Hello');
        const sent = llm.requests.at(-1)!.body;
        expect(sent.model).to.equal('other-model');
        expect(sent.messages[0]).to.deep.equal({ role: 'system', content: 'Answer in French.' });
        expect(bodyOf(await ask(alice, '/system default'))).to.equal('Back to the default instructions.');
        expect(bodyOf(await ask(alice, '/model'))).to.equal(
          'Model: other-model. Available: fake-model, other-model.',
        );
      });

      it('/reset starts afresh, /retry answers the last question again, /usage counts tokens', async () => {
        llm.script([streamed('One.'), streamed('Two.'), streamed('Three.')]);
        const bob = await user('bob');
        expect(bodyOf(await ask(bob, '/reset'))).to.equal(
          'Done: I have forgotten our conversation so far (the settings stay).',
        );
        await ask(bob, 'Count');
        const again = await ask(bob, '/retry');
        expect(bodyOf(again)).to.equal('Two.');
        const retried = llm.requests.at(-1)!.body.messages;
        expect(retried).to.deep.equal([
          { role: 'system', content: 'You are a test.' },
          { role: 'user', content: 'Count' },
        ]);
        expect(bodyOf(await ask(bob, '/usage'))).to.match(
          /^You have used \d+ of 200000 tokens today; the count resets at midnight UTC\.$/,
        );
        await ask(bob, '/forget');
        await ask(bob, 'Fresh');
        expect(llm.requests.at(-1)!.body.messages).to.deep.equal([
          { role: 'system', content: 'You are a test.' },
          { role: 'user', content: 'Fresh' },
        ]);
      });

      it('/stop ends the answer being written with one final message, and the request is aborted', async () => {
        const hold = deferred();
        llm.script([{ steps: [{ text: 'Once upon a time' }, { gate: hold.promise }, { text: ' more' }] }]);
        const carol = await user('carol');
        const next = upcoming(carol);
        await say(carol, 'Tell me a story');
        await next((el) => isBotMessage(el) && bodyOf(el) === 'Once upon a time');
        await say(carol, '/stop');
        const final = shownAt(carol, await next(isActive));
        expect(bodyOf(final)).to.equal('Once upon a time\n\n⏹ Stopped.');
        const story = llm.requests.at(-1)!;
        await eventually(() => story.aborted, 'the fake model sees the request aborted');
        hold.open();
        expect(story.finished).to.equal(false);
        await expectNothingMoreAfter(carol, final);
      });

      it('offers the commands as XEP-0050 ad-hoc commands', async () => {
        llm.script([streamed('ok')]);
        const dave = await user('dave');
        const items = await request(
          dave,
          'get',
          xml('query', { xmlns: 'http://jabber.org/protocol/disco#items', node: COMMANDS }),
          BOT,
        );
        expect(
          items
            .getChild('query')!
            .getChildren('item')
            .map((i) => i.attrs.node),
        ).to.deep.equal(['help', 'reset', 'retry', 'stop', 'model', 'system', 'usage', 'forget']);
        const reset = await request(
          dave,
          'set',
          xml('command', { xmlns: COMMANDS, node: 'reset', action: 'execute' }),
          BOT,
        );
        const done = reset.getChild('command', COMMANDS)!;
        expect(done.attrs.status).to.equal('completed');
        expect(done.getChildText('note')).to.equal(
          'Done: I have forgotten our conversation so far (the settings stay).',
        );

        const stage1 = await request(
          dave,
          'set',
          xml('command', { xmlns: COMMANDS, node: 'model', action: 'execute' }),
          BOT,
        );
        const form = stage1.getChild('command', COMMANDS)!;
        expect(form.attrs.status).to.equal('executing');
        const field = form.getChild('x', NS.DATA_FORMS)!.getChild('field')!;
        expect(field.attrs.var).to.equal('model');
        expect(field.getChildren('option').map((o) => o.getChildText('value'))).to.deep.equal([
          'fake-model',
          'other-model',
        ]);
        const stage2 = await request(
          dave,
          'set',
          xml(
            'command',
            { xmlns: COMMANDS, node: 'model', sessionid: form.attrs.sessionid },
            xml(
              'x',
              { xmlns: NS.DATA_FORMS, type: 'submit' },
              xml('field', { var: 'model' }, xml('value', {}, 'other-model')),
            ),
          ),
          BOT,
        );
        expect(stage2.getChild('command', COMMANDS)!.attrs.status).to.equal('completed');
        expect(stage2.getChild('command', COMMANDS)!.getChildText('note')).to.equal(
          'Model set to other-model.',
        );
        await ask(dave, 'hi');
        expect(llm.requests.at(-1)!.body.model).to.equal('other-model');

        const stale = await request(
          dave,
          'set',
          xml('command', { xmlns: COMMANDS, node: 'model', sessionid: form.attrs.sessionid }),
          BOT,
        );
        expect(errorOf(stale)).to.deep.equal({ type: 'modify', condition: 'bad-request' });
      });
    });

    describe('presence and discovery', () => {
      before(async () => {
        await startBot();
      });

      /** An available resource that asked for its roster, so that presence reaches it (RFC 6121 §4.2). */
      async function online(name: string): Promise<TestClient> {
        const c = await user(name);
        await request(c, 'get', xml('query', { xmlns: NS.ROSTER }));
        await c.send(xml('presence'));
        return c;
      }

      it('accepts a subscription from an allowed user and shows as online', async () => {
        const alice = await online('alice');
        const next = upcoming(alice);
        await alice.send(xml('presence', { to: BOT, type: 'subscribe' }));
        const subscribed = await next((el) => el.name === 'presence' && el.attrs.type === 'subscribed');
        expect(subscribed.attrs.from).to.equal(BOT);
        const available = await next(
          (el) => el.name === 'presence' && el.attrs.from === BOT && el.attrs.type === undefined,
        );
        expect(available.getChildText('status')).to.equal('Ask me anything (fake-model)');
      });

      it('refuses a subscription from someone not allowed', async () => {
        const mallory = await online('mallory');
        const next = upcoming(mallory);
        await mallory.send(xml('presence', { to: BOT, type: 'subscribe' }));
        await next(
          (el) => el.name === 'presence' && el.attrs.from === BOT && el.attrs.type === 'unsubscribed',
        );
      });

      it('is a client of type bot in service discovery, with the features it uses', async () => {
        const alice = await user('alice');
        const info = await request(alice, 'get', xml('query', { xmlns: NS.DISCO_INFO }), BOT);
        const query = info.getChild('query', NS.DISCO_INFO)!;
        expect(query.getChild('identity')!.attrs).to.deep.equal({
          category: 'client',
          type: 'bot',
          name: 'Warbler assistant',
        });
        const features = query.getChildren('feature').map((f) => f.attrs.var);
        for (const f of [
          COMMANDS,
          CORRECT,
          NS.CHATSTATES,
          NS.RECEIPTS,
          'urn:xmpp:reply:0',
          'urn:xmpp:styling:0',
        ])
          expect(features).to.include(f);
        const items = await request(alice, 'get', xml('query', { xmlns: NS.DISCO_ITEMS }), 'ai.localhost');
        expect(
          items
            .getChild('query')!
            .getChildren('item')
            .map((i) => i.attrs.jid),
        ).to.deep.equal([BOT]);
        const unknown = await request(alice, 'get', xml('query', { xmlns: 'jabber:iq:version' }), BOT);
        expect(errorOf(unknown)).to.deep.equal({ type: 'cancel', condition: 'service-unavailable' });
      });
    });

    describe('each failure ends in exactly one final message', () => {
      before(async () => {
        // A database of its own: the settings other tests chose (/model) do not apply here.
        await startBot({ memory: { database: join(dir, 'failures.sqlite') } });
      });

      const cases: Array<{ name: string; answer: Parameters<FakeLlm['script']>[0]; expected: string }> = [
        {
          name: 'an HTTP error status',
          answer: [{ status: 500, errorMessage: 'boom' }],
          expected: '⚠ The language model server failed (HTTP 500); try again later.',
        },
        {
          name: 'a model that is not there (404)',
          answer: [{ status: 404, errorMessage: 'model not found' }],
          expected: '⚠ The model “fake-model” is not available on the language model server.',
        },
        {
          name: 'an error inside the open stream, after some text',
          answer: [{ steps: [{ text: 'Partial' }, { error: 'out of memory' }] }],
          expected: 'Partial\n\n⚠ The language model failed while answering (out of memory).',
        },
        {
          name: 'a stream that ends without [DONE] or a finish reason',
          answer: [{ steps: [{ text: 'Half an' }], done: false }],
          expected: 'Half an\n\n⚠ The answer is cut off: the model’s stream ended before it was done.',
        },
        {
          name: 'a connection cut in the middle',
          answer: [{ steps: [{ text: 'Cut' }, { cut: true }] }],
          expected: 'Cut\n\n⚠ The answer is cut off: the model’s stream ended before it was done.',
        },
        {
          name: 'a first token slower than the first_token timeout',
          answer: [{ steps: [{ wait: 3000 }, { text: 'late' }] }],
          expected: '⚠ The language model did not start answering within 2 s.',
        },
        {
          name: 'silence after the first tokens, keep-alive comments notwithstanding',
          answer: [
            {
              steps: [
                { text: 'Begun' },
                { wait: 800 },
                { comment: 'keep-alive' },
                { wait: 800 },
                { comment: 'keep-alive' },
                { wait: 800 },
                { comment: 'keep-alive' },
                { wait: 800 },
                { text: 'late' },
              ],
            },
          ],
          expected: 'Begun\n\n⚠ The language model went silent for 2 s, so I stopped waiting.',
        },
        {
          name: 'keep-alives, reasoning and a usage chunk with empty choices (an answer, not a failure)',
          answer: [
            {
              steps: [
                { comment: 'ping' },
                { reasoning: 'Let me think.' },
                { comment: 'ping' },
                { text: 'Thought through.' },
                { finish: 'stop' },
                { usage: { prompt: 5, completion: 3 } },
              ],
            },
          ],
          expected: 'Thought through.',
        },
        {
          name: 'a plain JSON completion from a server that ignores "stream"',
          answer: [{ json: 'Not streamed.' }],
          expected: 'Not streamed.',
        },
        {
          name: 'an answer cut at the length limit',
          answer: [{ steps: [{ text: 'Long' }, { finish: 'length' }] }],
          expected: 'Long\n\n(The answer reached the length limit of 1024 tokens.)',
        },
      ];
      for (const c of cases)
        it(c.name, async () => {
          llm.script(c.answer);
          const alice = await user('alice');
          const final = await ask(alice, 'Go');
          expect(bodyOf(final)).to.equal(c.expected);
          await expectNothingMoreAfter(alice, final);
        });

      it('an unreachable backend', async () => {
        const closed = await startFakeLlm();
        const url = closed.url;
        await closed.stop();
        await startBot({ backend: { base_url: url } });
        const alice = await user('alice');
        const final = await ask(alice, 'Anyone there?');
        expect(bodyOf(final)).to.equal(
          '⚠ I cannot reach the language model right now; please try again later.',
        );
        await expectNothingMoreAfter(alice, final);
      });
    });

    describe('delivery options and limits', () => {
      it('final-only mode sends one message', async () => {
        await startBot({ bot: { streaming: 'final' } });
        llm.script([streamed('All at once, in the end.', { size: 3, wait: 50 })]);
        const alice = await user('alice');
        const mark = alice.received.length;
        const final = await ask(alice, 'Go');
        expect(bodyOf(final)).to.equal('All at once, in the end.');
        const bodies = alice.received
          .slice(mark)
          .filter((el) => isBotMessage(el) && bodyOf(el) !== undefined);
        expect(bodies).to.have.length(1);
      });

      it('splits a very long answer into several messages', async () => {
        await startBot({ bot: { streaming: 'final', max_message_chars: 200 } });
        const paragraphs = Array.from(
          { length: 6 },
          (_, i) => `Paragraph ${i}: ${'word '.repeat(15).trim()}.`,
        );
        llm.script([streamed(paragraphs.join('\n\n'), { size: 40 })]);
        const bob = await user('bob');
        const mark = bob.received.length;
        await ask(bob, 'Write a lot');
        const parts = bob.received
          .slice(mark)
          .filter((el) => isBotMessage(el) && bodyOf(el) !== undefined)
          .map(bodyOf);
        expect(parts.length).to.be.greaterThan(1);
        for (const part of parts) expect(part!.length).to.be.at.most(200);
        expect(parts.join('\n\n')).to.equal(paragraphs.join('\n\n'));
      });

      it('refuses questions beyond the per-user rate, with one message each', async () => {
        await startBot({ limits: { user_per_minute: 2 } });
        llm.script([streamed('ok')]);
        const carol = await user('carol');
        await ask(carol, 'one');
        await ask(carol, 'two');
        const refused = await ask(carol, 'three');
        expect(bodyOf(refused)).to.match(/^⚠ You are asking faster than I may answer; try again in \d+ s\.$/);
      });

      it('refuses questions once the daily token quota is used up', async () => {
        await startBot({ limits: { user_daily_tokens: 10 } });
        llm.script([streamed('ok')]);
        const dave = await user('dave');
        await ask(dave, 'spend');
        const refused = await ask(dave, 'more');
        expect(bodyOf(refused)).to.equal(
          '⚠ Your daily limit of 10 tokens is used up; it resets at midnight UTC.',
        );
      });

      it('keeps conversations across a restart when persistence is on', async () => {
        await startBot();
        llm.script([streamed('Noted: blue.'), streamed('Blue.')]);
        const alice = await user('alice');
        await ask(alice, '/reset');
        await ask(alice, 'My favourite colour is blue.');
        await startBot();
        await ask(alice, 'What is my favourite colour?');
        expect(llm.requests.at(-1)!.body.messages.slice(1)).to.deep.equal([
          { role: 'user', content: 'My favourite colour is blue.' },
          { role: 'assistant', content: 'Noted: blue.' },
          { role: 'user', content: 'What is my favourite colour?' },
        ]);
      });

      it('serves conversations one at a time under a global limit of one, answering all', async () => {
        await startBot({ limits: { concurrency: 1 } });
        const hold = deferred();
        llm.script([{ steps: [{ gate: hold.promise }, { text: 'first' }] }, streamed('second')]);
        const before = llm.requests.length;
        const alice = await user('alice');
        const bob = await user('bob');
        const aliceAnswer = upcoming(alice)(isActive).then((end) => shownAt(alice, end));
        const bobAnswer = upcoming(bob)(isActive).then((end) => shownAt(bob, end));
        await say(alice, 'First in line');
        await llm.waitForRequests(before + 1);
        await say(bob, 'Second in line');
        // Bob's question waits for the slot: the backend has seen only Alice's.
        const carol = await user('carol');
        await ask(carol, '/usage');
        expect(llm.requests.length).to.equal(before + 1);
        hold.open();
        expect(bodyOf(await aliceAnswer)).to.equal('first');
        expect(bodyOf(await bobAnswer)).to.equal('second');
      });
    });
  });
}
