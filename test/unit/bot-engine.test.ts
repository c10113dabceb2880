// The engine with a scripted backend and the stanzas it sends captured: room permissions, the
// queue limit, /stop before an answer started, shutdown, usage charging and an empty answer —
// each question ending in exactly one final message.

import { expect } from 'chai';
import type { Backend, BackendEvents } from '../../src/bot/backends/types.js';
import { type Asker, Engine, type EngineSettings } from '../../src/bot/engine.js';
import { ConversationMemory } from '../../src/bot/memory.js';
import { MemoryBotStore } from '../../src/bot/store.js';
import { silentLogger } from '../../src/log.js';
import type { Element } from '../../src/xml/element.js';

const SETTINGS: EngineSettings = {
  model: 'm',
  models: ['m'],
  systemPrompt: 'S',
  nick: 'bot',
  maxAnswerTokens: 100,
  timeouts: { connectMs: 1000, firstTokenMs: 1000, silenceMs: 1000, totalMs: 5000 },
  streaming: 'final',
  correctionIntervalMs: 1000,
  maxMessageChars: 4000,
  concurrency: 1,
  queue: 1,
  userPerMinute: 100,
  roomPerMinute: 100,
  userDailyTokens: 0,
  roomDailyTokens: 0,
};

type Step = (events: BackendEvents, signal: AbortSignal) => Promise<void>;

function setup(steps: Step[], settings: Partial<EngineSettings> = {}) {
  const sent: Element[] = [];
  const store = new MemoryBotStore();
  let call = 0;
  const backend: Backend = {
    kind: 'scripted',
    async complete(_request, events, signal) {
      const step = steps[Math.min(call++, steps.length - 1)]!;
      events.connected();
      await step(events, signal);
      return { finish: 'stop', usage: { promptTokens: 10, completionTokens: 5 } };
    },
    async close() {},
  };
  let n = 0;
  const engine = new Engine({
    backend,
    memory: new ConversationMemory(store, {
      user: { maxMessages: 10, maxTokens: 1000 },
      room: { maxMessages: 10, maxTokens: 1000 },
      idleMs: 0,
    }),
    store,
    log: silentLogger,
    send: (el) => sent.push(el),
    nextId: () => `id${++n}`,
    settings: { ...SETTINGS, ...settings },
  });
  /** Bodies of the final messages (those with <active/>), in order. */
  const finals = () =>
    sent
      .filter((el) => el.getChild('active', 'http://jabber.org/protocol/chatstates') && el.getChild('body'))
      .map((el) => `${el.attrs.to}: ${el.getChildText('body')}`);
  return { engine, sent, finals, store };
}

const ALICE: Asker = { kind: 'user', jid: 'alice@x' };
const TO_ALICE = { from: 'bot@ai.x', to: 'alice@x/r', type: 'chat' as const };
const text =
  (t: string): Step =>
  async (events) =>
    events.text(t);
const held =
  (gate: Promise<void>): Step =>
  async (_events, signal) =>
    new Promise<void>((resolve, reject) => {
      void gate.then(resolve);
      signal.addEventListener('abort', () => reject(new Error('aborted')));
    });
const tick = () => new Promise((resolve) => setImmediate(resolve));

async function settled(engine: Engine, question: Parameters<Engine['ask']>[0]): Promise<void> {
  await new Promise<void>((resolve) => engine.ask({ ...question, settled: resolve }));
}

describe('assistant engine', () => {
  it('in a room, only owners may set instructions and only owners and admins reset', () => {
    const { engine, finals } = setup([text('x')]);
    const room = { from: 'bot@ai.x/w', to: 'r@muc.x', type: 'groupchat' as const };
    const as = (affiliation: 'owner' | 'admin' | 'member'): Asker => ({
      kind: 'room',
      room: 'r@muc.x',
      nick: 'n',
      affiliation,
    });
    engine.command(as('member'), room, 'system', 'Be a pirate.');
    engine.command(as('admin'), room, 'system', 'Be a pirate.');
    engine.command(as('owner'), room, 'system', 'Be a pirate.');
    engine.command(as('member'), room, 'reset', '');
    engine.command(as('admin'), room, 'reset', '');
    expect(finals()).to.deep.equal([
      'r@muc.x: ⚠ In a room, only owners may use /system.',
      'r@muc.x: ⚠ In a room, only owners may use /system.',
      'r@muc.x: Understood: these are my instructions here from now on.',
      'r@muc.x: ⚠ In a room, only owners and admins may use /reset.',
      'r@muc.x: Done: I have forgotten our conversation so far (the settings stay).',
    ]);
    expect(engine.current(as('member')).system).to.equal('Be a pirate.');
  });

  it('refuses a question beyond the queue, and /stop before its turn ends it with one message', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const { engine, finals } = setup([held(gate), text('second')]);
    const bob: Asker = { kind: 'user', jid: 'bob@x' };
    const toBob = { ...TO_ALICE, to: 'bob@x/r' };
    engine.ask({ asker: ALICE, target: TO_ALICE, text: 'first' });
    await tick();
    // Alice's answer holds the only slot; Bob waits for it, and one question may wait per conversation.
    const bobFirst = settled(engine, { asker: bob, target: toBob, text: 'waiting' });
    await tick();
    engine.ask({ asker: bob, target: toBob, text: 'queued' });
    engine.ask({ asker: bob, target: toBob, text: 'one too many' });
    expect(finals()).to.deep.equal([
      'bob@x/r: ⚠ I still have your earlier questions to answer; ask again once I have.',
    ]);
    engine.command(bob, toBob, 'stop', '');
    await bobFirst;
    expect(finals().slice(1)).to.deep.equal([
      'bob@x/r: Also dropped one waiting question.',
      'bob@x/r: ⏹ Stopped.',
    ]);
    open();
  });

  it('charges the tokens the backend counted and answers /usage', async () => {
    const { engine, finals } = setup([text('ok')], { userDailyTokens: 1000 });
    await settled(engine, { asker: ALICE, target: TO_ALICE, text: 'q' });
    engine.command(ALICE, TO_ALICE, 'usage', '');
    expect(finals()).to.deep.equal([
      'alice@x/r: ok',
      'alice@x/r: You have used 15 of 1000 tokens today; the count resets at midnight UTC.',
    ]);
  });

  it('says so when the model gives an empty answer, and does not remember it', async () => {
    const { engine, finals, store } = setup([text('')]);
    await settled(engine, { asker: ALICE, target: TO_ALICE, text: 'q' });
    expect(finals()).to.deep.equal(['alice@x/r: ⚠ The model gave an empty answer; /retry may help.']);
    expect(store.load('user:alice@x')!.messages.map((m) => m.role)).to.deep.equal(['user']);
  });

  it('shutdown ends every answer with a final message saying so', async () => {
    const { engine, finals } = setup([held(new Promise(() => {}))]);
    engine.ask({ asker: ALICE, target: TO_ALICE, text: 'long' });
    await tick();
    await engine.shutdown(1000);
    expect(finals()).to.deep.equal(['alice@x/r: ⚠ The assistant is restarting; ask again in a moment.']);
  });
});
