// The AI assistant in group chats, end to end, twice: in Prosody's MUC (with mod_muc_mam for
// XEP-0359 stanza ids) and in Warbler's own (conference.localhost), with @xmpp/client occupants,
// the assistant as a component of that server, and the fake model server.
//
// Covered: joining a configured room; answering only when addressed (nick prefix, XEP-0372
// mention, XEP-0461 reply to its own message); replying with XEP-0461 to the room's stanza-id;
// recent room lines as context with nicknames only; owners (and only owners) setting the room's
// instructions; XEP-0249 invitations from allowed people; the cap on answers in a row.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type XmlElement, xml } from '@xmpp/client';
import { expect } from 'chai';
import { type BotHandle, runBot } from '../../src/bot/index.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger, type LogLevel } from '../../src/log.js';
import { NS } from '../../src/xml/ns.js';
import { connect, type TestClient } from '../helpers/client.js';
import { type FakeLlm, startFakeLlm, streamed } from '../helpers/fake-llm.js';
import { upcoming } from '../helpers/im.js';
import { skipWithoutProsody, startProsody } from '../helpers/prosody.js';
import { startTestServer } from '../helpers/server.js';

const MUC = 'http://jabber.org/protocol/muc';
const REPLY = 'urn:xmpp:reply:0';
const SID = 'urn:xmpp:sid:0';

/** The server the rooms are on, with the assistant's component configured. */
interface RoomServer {
  readonly c2sPort: number;
  readonly componentPort: number;
  /** The assistant's component secret (its domain is ai.localhost). */
  readonly secret: string;
  readonly mucDomain: string;
  /** The SASL mechanism users log in with (the library's choice when undefined). */
  readonly mechanism: string | undefined;
  addUser(username: string, password: string): void | Promise<void>;
  stop(): Promise<void>;
}

roomSuite('the AI assistant in group chats (Prosody MUC)', async (ctx) => {
  skipWithoutProsody(ctx);
  return { ...(await startProsody()), mechanism: 'PLAIN' };
});

roomSuite('the AI assistant in group chats (Warbler MUC)', async () => {
  const secret = 'rooms assistant secret';
  const ts = await startTestServer({
    extraToml: [
      '[component]',
      'addresses = ["127.0.0.1"]',
      'port = 0',
      '[components."ai.localhost"]',
      `secret = "${secret}"`,
      // Rooms open at once, as Prosody's do, rather than waiting for their owner's configuration.
      '[muc]',
      'lock_timeout = 0',
    ].join('\n'),
  });
  return {
    c2sPort: ts.port,
    componentPort: ts.server.listening.component[0]!.port,
    secret,
    mucDomain: 'conference.localhost',
    mechanism: undefined,
    addUser: (username, password) => ts.addUser(username, password),
    stop: () => ts.stop(),
  };
});

function roomSuite(title: string, start: (ctx: Mocha.Context) => Promise<RoomServer>): void {
  describe(title, function () {
    this.timeout(30_000);
    let server: RoomServer;
    let llm: FakeLlm;
    let dir: string;
    let bot: BotHandle | undefined;
    let alice: TestClient;
    let bob: TestClient;
    let lounge: string;
    let ids = 0;

    function occupant(room: string, nick: string): string {
      return `${room}/${nick}`;
    }

    async function startBot(extra: string[] = []): Promise<void> {
      await bot?.stop();
      const toml = [
        '[bot]',
        `server_port = ${server.componentPort}`,
        'correction_interval = 200',
        'system_prompt = "Be brief."',
        '[bot.backend]',
        `base_url = "${llm.url}"`,
        'model = "fake-model"',
        '[bot.memory]',
        `database = "${join(dir, `bot-${++ids}.sqlite`)}"`,
        '[bot.rooms]',
        `join = ["${lounge}"]`,
        ...extra,
      ].join('\n');
      const config = loadConfig({ text: toml }).bot;
      const level = process.env.WARBLER_TEST_LOG as LogLevel | undefined;
      const seen = upcoming(alice)(
        (el) => el.name === 'presence' && el.attrs.from === occupant(lounge, 'assistant'),
      );
      bot = await runBot({
        config,
        serverDomain: 'localhost',
        dataDir: dir,
        secret: server.secret,
        log: level ? createLogger({ level }) : undefined,
      });
      await seen;
    }

    async function user(name: string): Promise<TestClient> {
      return connect({
        port: server.c2sPort,
        domain: 'localhost',
        username: name,
        password: `${name}-pw`,
        mechanism: server.mechanism,
      });
    }

    /** Enters a room (creating it, as its owner, when it does not exist yet). */
    async function enter(c: TestClient, room: string, nick: string): Promise<void> {
      const self = upcoming(c)(
        (el) =>
          el.name === 'presence' &&
          el.attrs.from === occupant(room, nick) &&
          (el.getChild('x', NS.MUC_USER)?.getChildren('status') ?? []).some((s) => s.attrs.code === '110'),
      );
      await c.send(xml('presence', { to: occupant(room, nick) }, xml('x', { xmlns: MUC })));
      await self;
    }

    /** Says something in the room; resolves with the reflected message (carrying the room's stanza-id). */
    async function speak(
      c: TestClient,
      room: string,
      text: string,
      ...payload: XmlElement[]
    ): Promise<XmlElement> {
      const id = `m${++ids}`;
      const echo = upcoming(c)(
        (el) => el.name === 'message' && el.attrs.type === 'groupchat' && el.attrs.id === id,
      );
      await c.send(xml('message', { to: room, type: 'groupchat', id }, xml('body', {}, text), ...payload));
      return echo;
    }

    function fromAssistant(room: string): (el: XmlElement) => boolean {
      return (el) =>
        el.name === 'message' &&
        el.attrs.type === 'groupchat' &&
        el.attrs.from === occupant(room, 'assistant');
    }

    function finished(room: string): (el: XmlElement) => boolean {
      return (el) => fromAssistant(room)(el) && el.getChild('active', NS.CHATSTATES) !== undefined;
    }

    /**
     * The assistant's answer to `question` (the room's echo of it) as `c` sees it once finished:
     * the last message of the answer, found by its XEP-0461 reply to the question's stanza-id.
     * Not "the next finished answer": the end of an earlier answer may still be on its way to `c`
     * (the room sends it to each occupant in turn).
     */
    async function answerTo(c: TestClient, room: string, question: XmlElement): Promise<XmlElement> {
      // The id the assistant replies to: the room's stanza-id, else the message id (rooms.ts).
      const sid = question.getChildren('stanza-id', SID).find((el) => el.attrs.by === room)?.attrs.id;
      const id = sid ?? question.attrs.id;
      const isPart = (el: XmlElement) =>
        fromAssistant(room)(el) && el.getChild('reply', REPLY)?.attrs.id === id;
      const end = await c.waitFor(
        (el) => finished(room)(el) && c.received.slice(0, c.received.indexOf(el) + 1).some(isPart),
        15_000,
      );
      for (let i = c.received.indexOf(end); i >= 0; i--) if (isPart(c.received[i]!)) return c.received[i]!;
      throw new Error('no answer');
    }

    /** A finished message from the assistant that replies to nobody, starting with `text` (a notice). */
    function noticeIn(c: TestClient, room: string, text: string): Promise<XmlElement> {
      return c.waitFor(
        (el) => finished(room)(el) && el.getChildText('body')?.startsWith(text) === true,
        15_000,
      );
    }

    before(async function () {
      server = await start(this);
      for (const name of ['alice', 'bob', 'carol']) await server.addUser(name, `${name}-pw`);
      llm = await startFakeLlm();
      dir = mkdtempSync(join(tmpdir(), 'warbler-bot-rooms-'));
      lounge = `lounge@${server.mucDomain}`;
      alice = await user('alice');
      bob = await user('bob');
      await enter(alice, lounge, 'alice');
      await enter(bob, lounge, 'bob');
      await startBot();
    });

    after(async () => {
      await bot?.stop();
      await alice?.stop().catch(() => {});
      await bob?.stop().catch(() => {});
      await llm?.stop();
      await server?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('answers when addressed by nickname, replying to the room’s stanza-id, with recent lines as context', async () => {
      llm.script([streamed('Tea.')]);
      const before = llm.requests.length;
      await speak(bob, lounge, 'I like tea.');
      const question = await speak(alice, lounge, 'assistant: what does bob like?');
      const answer = await answerTo(alice, lounge, question);
      const stanzaId = question.getChild('stanza-id', SID);
      expect(stanzaId?.attrs.by).to.equal(lounge);
      const reply = answer.getChild('reply', REPLY)!;
      expect(reply.attrs).to.deep.equal({
        xmlns: REPLY,
        to: occupant(lounge, 'alice'),
        id: stanzaId!.attrs.id,
      });
      expect(answer.getChildText('body')).to.equal('> alice: what does bob like?\nTea.');
      const fallback = answer.getChild('fallback', 'urn:xmpp:fallback:0')!;
      expect(fallback.attrs.for).to.equal(REPLY);
      expect(fallback.getChild('body')!.attrs).to.deep.equal({
        start: '0',
        end: String('> alice: what does bob like?\n'.length),
      });
      expect(llm.requests.length).to.equal(before + 1);
      const messages = llm.requests.at(-1)!.body.messages;
      expect(messages[0]!.role).to.equal('system');
      expect(messages[0]!.content).to.match(/^Be brief\.\n\nYou are "assistant" in a group chat\./);
      expect(messages.slice(1)).to.deep.equal([
        { role: 'user', content: 'bob: I like tea.\nalice: what does bob like?' },
      ]);
      for (const m of messages) expect(m.content).to.not.contain('@localhost');
    });

    it('stays quiet when not addressed', async () => {
      llm.script([streamed('Hello.')]);
      const before = llm.requests.length;
      await speak(bob, lounge, 'Nobody asked the assistant anything here.');
      const question = await speak(bob, lounge, 'Assistant, say hello.');
      await answerTo(bob, lounge, question);
      expect(llm.requests.length).to.equal(before + 1);
      const last = llm.requests.at(-1)!.body.messages.at(-1)!;
      expect(last.content).to.equal('bob: Nobody asked the assistant anything here.\nbob: say hello.');
    });

    it('answers a XEP-0372 mention and a XEP-0461 reply to its own message', async () => {
      llm.script([streamed('Mentioned.'), streamed('Replied.')]);
      const mention = await speak(
        alice,
        lounge,
        'what do you think, assistant?',
        xml('reference', {
          xmlns: 'urn:xmpp:reference:0',
          type: 'mention',
          uri: `xmpp:${occupant(lounge, 'assistant')}`,
          begin: '19',
          end: '28',
        }),
      );
      const mentioned = await answerTo(alice, lounge, mention);
      expect(mentioned.getChildText('body')).to.match(/Mentioned\.$/);
      const answerId = mentioned.getChild('stanza-id', SID)!.attrs.id!;
      const quote = '> Mentioned.\n';
      const why = await speak(
        alice,
        lounge,
        `${quote}Why?`,
        xml('reply', { xmlns: REPLY, to: occupant(lounge, 'assistant'), id: answerId }),
        xml(
          'fallback',
          { xmlns: 'urn:xmpp:fallback:0', for: REPLY },
          xml('body', { start: '0', end: String(quote.length) }),
        ),
      );
      const replied = await answerTo(alice, lounge, why);
      expect(replied.getChildText('body')).to.equal('> alice: Why?\nReplied.');
      expect(llm.requests.at(-1)!.body.messages.at(-1)!.content).to.match(/alice: Why\?$/);
    });

    it('lets the owner, and only the owner, set the room’s instructions', async () => {
      llm.script([streamed('Oui.')]);
      const pirate = await speak(bob, lounge, 'assistant: /system Talk like a pirate.');
      expect((await answerTo(bob, lounge, pirate)).getChildText('body')).to.equal(
        '> bob: /system Talk like a pirate.\n⚠ In a room, only owners may use /system.',
      );
      const french = await speak(alice, lounge, 'assistant: /system Answer in French.');
      expect((await answerTo(alice, lounge, french)).getChildText('body')).to.match(
        /Understood: these are my instructions here from now on\.$/,
      );
      await answerTo(alice, lounge, await speak(alice, lounge, 'assistant: hello?'));
      expect(llm.requests.at(-1)!.body.messages[0]!.content).to.match(
        /^Answer in French\.\n\nYou are "assistant"/,
      );
    });

    it('joins a room an allowed user invites it to (XEP-0249)', async () => {
      const second = `second@${server.mucDomain}`;
      await enter(alice, second, 'alice');
      const joined = upcoming(alice)(
        (el) => el.name === 'presence' && el.attrs.from === occupant(second, 'assistant'),
      );
      await alice.send(
        xml(
          'message',
          { to: bot!.jid, id: `inv${++ids}` },
          xml('x', { xmlns: NS.CONFERENCE, jid: second, reason: 'Help us' }),
        ),
      );
      await joined;
      llm.script([streamed('Here.')]);
      const there = await speak(alice, second, 'assistant: are you there?');
      expect((await answerTo(alice, second, there)).getChildText('body')).to.equal(
        '> alice: are you there?\nHere.',
      );
    });

    it('pauses after max_bot_turns answers in a row to the same occupant, saying so once', async () => {
      await startBot(['max_bot_turns = 2']);
      llm.script([streamed('Again.')]);
      const before = llm.requests.length;
      for (let i = 0; i < 2; i++)
        await answerTo(bob, lounge, await speak(bob, lounge, `assistant: turn ${i}`));
      await speak(bob, lounge, 'assistant: turn 2');
      const pause = await noticeIn(bob, lounge, 'I will pause here');
      expect(pause.getChildText('body')).to.equal(
        'I will pause here: that was 2 answers in a row to bob. Ask me again in a little while.',
      );
      // Still paused, and silent about it: alice speaking to bob (not the assistant) ends the run.
      await speak(bob, lounge, 'assistant: turn 3');
      await speak(alice, lounge, 'bob, let it rest.');
      const fresh = await speak(bob, lounge, 'assistant: fresh start');
      expect((await answerTo(bob, lounge, fresh)).getChildText('body')).to.equal(
        '> bob: fresh start\nAgain.',
      );
      expect(llm.requests.length).to.equal(before + 3);
    });
  });
}
