// Conversation memory: per person ("user:<bare JID>") and per room ("room:<room JID>"), the
// recent messages within a message and token budget, the conversation's settings (its own
// system prompt and model), and idle expiry. Hot conversations are cached here; the store
// (SQLite or maps) holds everything else and survives restarts when persistence is on.

import type { BotStore, MessageRole, Settings, StoredMessage } from './store.js';
import { estimateTokens } from './tokens.js';

export type ConversationKey = `user:${string}` | `room:${string}`;

export function userKey(bareJid: string): ConversationKey {
  return `user:${bareJid}`;
}

export function roomKey(roomJid: string): ConversationKey {
  return `room:${roomJid}`;
}

export interface MemoryBudget {
  /** Messages kept, counting the newest. */
  readonly maxMessages: number;
  /** Estimated tokens kept; the newest message stays even when it alone is over. */
  readonly maxTokens: number;
}

export interface MemoryOptions {
  readonly user: MemoryBudget;
  readonly room: MemoryBudget;
  /** A conversation idle this long loses its history; 0 never. */
  readonly idleMs: number;
  readonly now?: () => number;
}

interface Cached {
  settings: Settings;
  messages: StoredMessage[];
  tokens: number;
  activeAt: number;
}

const NO_SETTINGS: Settings = Object.freeze({ system: undefined, model: undefined });
/** Conversations untouched this long leave the cache (they stay in the store). */
const CACHE_IDLE_MS = 10 * 60_000;

export class ConversationMemory {
  private readonly cache = new Map<ConversationKey, Cached>();
  private readonly now: () => number;

  constructor(
    private readonly store: BotStore,
    private readonly options: MemoryOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  history(key: ConversationKey): readonly StoredMessage[] {
    return this.get(key).messages;
  }

  settings(key: ConversationKey): Settings {
    return this.get(key).settings;
  }

  /** Remembers a message; returns its id. */
  add(key: ConversationKey, role: MessageRole, content: string, nick?: string): number {
    const c = this.get(key);
    const at = this.now();
    const message = { role, nick, content, tokens: estimateTokens(content), at };
    const id = this.store.append(key, message);
    c.messages.push({ id, ...message });
    c.tokens += message.tokens;
    c.activeAt = at;
    const budget = key.startsWith('room:') ? this.options.room : this.options.user;
    let drop = 0;
    const messages = c.messages;
    while (
      messages.length - drop > 1 &&
      (messages.length - drop > budget.maxMessages || c.tokens > budget.maxTokens)
    ) {
      c.tokens -= messages[drop]!.tokens;
      drop++;
    }
    if (drop > 0) {
      messages.splice(0, drop);
      this.store.trimBefore(key, messages[0]!.id);
    }
    return id;
  }

  /**
   * For /retry: removes what came after the latest question and returns that question, or
   * undefined when there is none.
   */
  rewindToLastQuestion(key: ConversationKey): StoredMessage | undefined {
    const c = this.get(key);
    const messages = c.messages;
    let i = messages.length - 1;
    while (i >= 0 && messages[i]!.role !== 'user') i--;
    if (i < 0) return undefined;
    if (i < messages.length - 1) {
      const removed = messages.splice(i + 1);
      for (const m of removed) c.tokens -= m.tokens;
      this.store.deleteFrom(key, removed[0]!.id);
    }
    return messages[i];
  }

  /** Starts afresh: the history goes, the settings stay. */
  reset(key: ConversationKey): void {
    const c = this.get(key);
    c.messages = [];
    c.tokens = 0;
    this.store.clearMessages(key);
  }

  /** Erases everything about the conversation, here and in the store. */
  forget(key: ConversationKey): void {
    this.cache.delete(key);
    this.store.forget(key);
  }

  updateSettings(key: ConversationKey, change: Partial<Settings>): Settings {
    const c = this.get(key);
    c.settings = { ...c.settings, ...change };
    c.activeAt = this.now();
    this.store.saveSettings(key, c.settings, c.activeAt);
    return c.settings;
  }

  /** Expires idle histories in the store and trims the cache; run every minute or so. */
  sweep(): void {
    const now = this.now();
    if (this.options.idleMs > 0) this.store.expireIdle(now - this.options.idleMs);
    for (const [key, c] of this.cache) if (now - c.activeAt > CACHE_IDLE_MS) this.cache.delete(key);
  }

  private get(key: ConversationKey): Cached {
    let c = this.cache.get(key);
    if (c === undefined) {
      const record = this.store.load(key);
      c = record
        ? {
            settings: record.settings,
            messages: record.messages,
            tokens: record.messages.reduce((sum, m) => sum + m.tokens, 0),
            activeAt: record.activeAt,
          }
        : { settings: NO_SETTINGS, messages: [], tokens: 0, activeAt: this.now() };
      this.cache.set(key, c);
    }
    const idle = this.options.idleMs;
    if (idle > 0 && c.messages.length > 0 && this.now() - c.activeAt > idle) {
      c.messages = [];
      c.tokens = 0;
      this.store.clearMessages(key);
    }
    return c;
  }
}
