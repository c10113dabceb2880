// The assistant's store: one contract, run against both implementations (its SQLite file and
// plain maps), then conversation memory on top of it: budgets, /retry, reset, forget, idle
// expiry, and persistence across reopening the file.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ConversationMemory, roomKey, userKey } from '../../src/bot/memory.js';
import { type BotStore, MemoryBotStore, SqliteBotStore } from '../../src/bot/store.js';

const stores: ReadonlyArray<[string, () => BotStore]> = [
  ['SQLite', () => new SqliteBotStore(':memory:')],
  ['in memory', () => new MemoryBotStore()],
];

for (const [name, open] of stores)
  describe(`bot store contract: ${name}`, () => {
    let store: BotStore;
    beforeEach(() => {
      store = open();
    });
    afterEach(() => store.close());

    const msg = (content: string, at: number, role: 'user' | 'assistant' = 'user', nick?: string) => ({
      role,
      nick,
      content,
      tokens: 3,
      at,
    });

    it('appends and loads messages in order, with settings', () => {
      expect(store.load('user:a')).to.equal(undefined);
      const first = store.append('user:a', msg('one', 10));
      const second = store.append('user:a', msg('two', 20, 'assistant'));
      expect(second).to.be.greaterThan(first);
      store.saveSettings('user:a', { system: 'Be brief.', model: undefined }, 30);
      const record = store.load('user:a')!;
      expect(record.messages.map((m) => [m.id, m.role, m.content, m.nick])).to.deep.equal([
        [first, 'user', 'one', undefined],
        [second, 'assistant', 'two', undefined],
      ]);
      expect(record.settings).to.deep.equal({ system: 'Be brief.', model: undefined });
      expect(record.activeAt).to.equal(30);
    });

    it('keeps nicknames of room lines', () => {
      store.append('room:r', msg('hi', 1, 'user', 'alice'));
      expect(store.load('room:r')!.messages[0]!.nick).to.equal('alice');
    });

    it('trims, rewinds, clears and forgets', () => {
      const ids = ['a', 'b', 'c', 'd'].map((c, i) => store.append('user:a', msg(c, i)));
      store.trimBefore('user:a', ids[1]!);
      store.deleteFrom('user:a', ids[3]!);
      expect(store.load('user:a')!.messages.map((m) => m.content)).to.deep.equal(['b', 'c']);
      store.append('user:b', msg('other', 1));
      store.clearMessages('user:a');
      expect(store.load('user:a')!.messages).to.deep.equal([]);
      store.forget('user:a');
      expect(store.load('user:a')).to.equal(undefined);
      expect(store.load('user:b')!.messages).to.have.length(1);
    });

    it('expires the history of idle conversations once', () => {
      store.append('user:old', msg('old', 100));
      store.append('user:new', msg('new', 1000));
      expect(store.expireIdle(500)).to.deep.equal(['user:old']);
      expect(store.load('user:old')!.messages).to.deep.equal([]);
      expect(store.expireIdle(500)).to.deep.equal([]);
      expect(store.load('user:new')!.messages).to.have.length(1);
    });

    it('counts usage per subject and day, and prunes old days', () => {
      expect(store.addUsage('user:a', '2025-01-01', 5)).to.equal(5);
      expect(store.addUsage('user:a', '2025-01-01', 7)).to.equal(12);
      expect(store.addUsage('user:a', '2025-01-02', 1)).to.equal(1);
      expect(store.usage('user:a', '2025-01-01')).to.equal(12);
      expect(store.usage('user:b', '2025-01-01')).to.equal(0);
      store.pruneUsage('2025-01-02');
      expect(store.usage('user:a', '2025-01-01')).to.equal(0);
      expect(store.usage('user:a', '2025-01-02')).to.equal(1);
    });

    it('keeps invited rooms and subscribers', () => {
      store.addInvitedRoom({ room: 'b@muc', invitedBy: 'x@y' });
      store.addInvitedRoom({ room: 'a@muc', invitedBy: 'x@y' });
      store.removeInvitedRoom('b@muc');
      expect(store.invitedRooms()).to.deep.equal([{ room: 'a@muc', invitedBy: 'x@y' }]);
      store.addSubscriber('x@y');
      store.addSubscriber('x@y');
      store.addSubscriber('z@y');
      store.removeSubscriber('z@y');
      expect(store.subscribers()).to.deep.equal(['x@y']);
    });
  });

describe('conversation memory', () => {
  let now = 1_000_000;
  const clock = () => now;
  const options = {
    user: { maxMessages: 4, maxTokens: 1000 },
    room: { maxMessages: 2, maxTokens: 1000 },
    idleMs: 60_000,
    now: clock,
  };

  it('keeps at most maxMessages, dropping the oldest (here and in the store)', () => {
    const store = new MemoryBotStore();
    const memory = new ConversationMemory(store, options);
    const key = userKey('a@x');
    for (const word of ['1', '2', '3', '4', '5', '6']) memory.add(key, 'user', word);
    expect(memory.history(key).map((m) => m.content)).to.deep.equal(['3', '4', '5', '6']);
    expect(store.load(key)!.messages.map((m) => m.content)).to.deep.equal(['3', '4', '5', '6']);
    const room = roomKey('r@muc');
    for (const word of ['a', 'b', 'c']) memory.add(room, 'user', word, 'nick');
    expect(memory.history(room).map((m) => m.content)).to.deep.equal(['b', 'c']);
  });

  it('keeps within the token budget, but always the newest message', () => {
    const memory = new ConversationMemory(new MemoryBotStore(), {
      ...options,
      user: { maxMessages: 100, maxTokens: 30 },
    });
    const key = userKey('a@x');
    memory.add(key, 'user', 'x'.repeat(40)); // 14 tokens
    memory.add(key, 'assistant', 'y'.repeat(40));
    memory.add(key, 'user', 'z'.repeat(40));
    expect(memory.history(key).map((m) => m.content[0])).to.deep.equal(['y', 'z']);
    memory.add(key, 'user', 'w'.repeat(400));
    expect(memory.history(key).map((m) => m.content[0])).to.deep.equal(['w']);
  });

  it('rewinds to the last question for /retry', () => {
    const memory = new ConversationMemory(new MemoryBotStore(), options);
    const key = userKey('a@x');
    expect(memory.rewindToLastQuestion(key)).to.equal(undefined);
    memory.add(key, 'user', 'q1');
    memory.add(key, 'assistant', 'a1');
    memory.add(key, 'user', 'q2');
    memory.add(key, 'assistant', 'a2');
    expect(memory.rewindToLastQuestion(key)!.content).to.equal('q2');
    expect(memory.history(key).map((m) => m.content)).to.deep.equal(['q1', 'a1', 'q2']);
  });

  it('reset keeps settings; forget erases them', () => {
    const memory = new ConversationMemory(new MemoryBotStore(), options);
    const key = userKey('a@x');
    memory.add(key, 'user', 'q');
    memory.updateSettings(key, { model: 'm2' });
    memory.reset(key);
    expect(memory.history(key)).to.deep.equal([]);
    expect(memory.settings(key).model).to.equal('m2');
    memory.forget(key);
    expect(memory.settings(key)).to.deep.equal({ system: undefined, model: undefined });
  });

  it('an idle conversation starts afresh', () => {
    const memory = new ConversationMemory(new MemoryBotStore(), options);
    const key = userKey('a@x');
    memory.add(key, 'user', 'old');
    now += 60_001;
    expect(memory.history(key)).to.deep.equal([]);
  });

  it('survives reopening the SQLite file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'warbler-bot-store-'));
    try {
      const file = join(dir, 'bot.sqlite');
      let store = new SqliteBotStore(file);
      let memory = new ConversationMemory(store, options);
      const key = userKey('a@x');
      memory.add(key, 'user', 'remember me');
      memory.updateSettings(key, { system: 'Be brief.' });
      store.close();
      store = new SqliteBotStore(file);
      memory = new ConversationMemory(store, options);
      expect(memory.history(key).map((m) => m.content)).to.deep.equal(['remember me']);
      expect(memory.settings(key).system).to.equal('Be brief.');
      store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
