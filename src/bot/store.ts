// What the assistant keeps: conversation histories and settings, daily token counts, the rooms
// it was invited to and who subscribed to its presence. Two implementations of one interface:
// the bot's own SQLite file (better-sqlite3, WAL) when persistence is on, and plain maps when it
// is off. The interface is synchronous on purpose: the file is always local and private to the
// assistant, and an await per stored message would only add latency to every answer.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

export type MessageRole = 'user' | 'assistant';

export interface StoredMessage {
  readonly id: number;
  readonly role: MessageRole;
  /** In a room: who said it (never a real JID). */
  readonly nick: string | undefined;
  readonly content: string;
  /** Estimated tokens (tokens.ts). */
  readonly tokens: number;
  /** Milliseconds since the epoch. */
  readonly at: number;
}

export interface Settings {
  /** The conversation's own system prompt, replacing the configured one. */
  readonly system: string | undefined;
  /** The model chosen with /model. */
  readonly model: string | undefined;
}

export interface ConversationRecord {
  readonly settings: Settings;
  /** Oldest first. */
  readonly messages: StoredMessage[];
  readonly activeAt: number;
}

export interface InvitedRoom {
  readonly room: string;
  readonly invitedBy: string;
}

export interface BotStore {
  load(key: string): ConversationRecord | undefined;
  /** Returns the new message's id. */
  append(key: string, message: Omit<StoredMessage, 'id'>): number;
  /** Deletes the messages of `key` with ids below `firstKept`. */
  trimBefore(key: string, firstKept: number): void;
  /** Deletes the messages of `key` with ids from `first` on. */
  deleteFrom(key: string, first: number): void;
  clearMessages(key: string): void;
  saveSettings(key: string, settings: Settings, activeAt: number): void;
  /** Erases everything about the conversation. */
  forget(key: string): void;
  /** Erases the messages of conversations inactive since `before`; returns their keys. */
  expireIdle(before: number): string[];

  /** Adds to a subject's count for a day ('2025-01-31'); returns the new count. */
  addUsage(subject: string, day: string, tokens: number): number;
  usage(subject: string, day: string): number;
  /** Drops the counts of days before `day`. */
  pruneUsage(day: string): void;

  invitedRooms(): InvitedRoom[];
  addInvitedRoom(room: InvitedRoom): void;
  removeInvitedRoom(room: string): void;

  subscribers(): string[];
  addSubscriber(jid: string): void;
  removeSubscriber(jid: string): void;

  close(): void;
}

// ---- SQLite ----

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE conversations (
  key TEXT PRIMARY KEY,
  system TEXT,
  model TEXT,
  active_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE messages (
  id INTEGER PRIMARY KEY,
  conversation TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
  nick TEXT,
  content TEXT NOT NULL,
  tokens INTEGER NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX messages_by_conversation ON messages (conversation, id);
CREATE TABLE usage (
  subject TEXT NOT NULL,
  day TEXT NOT NULL,
  tokens INTEGER NOT NULL,
  PRIMARY KEY (subject, day)
) WITHOUT ROWID;
CREATE TABLE invited_rooms (room TEXT PRIMARY KEY, invited_by TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE subscribers (jid TEXT PRIMARY KEY) WITHOUT ROWID;
`;

interface MessageRow {
  id: number;
  role: MessageRole;
  nick: string | null;
  content: string;
  tokens: number;
  at: number;
}

export class StoreError extends Error {
  override name = 'StoreError';
}

export class SqliteBotStore implements BotStore {
  private readonly db: Database.Database;
  private readonly statements;
  /** Writes of the current event-loop turn share one transaction, committed on the next turn. */
  private inTransaction = false;
  private readonly commit = (): void => {
    this.inTransaction = false;
    if (this.db.open && this.db.inTransaction) this.db.exec('COMMIT');
  };

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    try {
      this.db = new Database(file);
    } catch (err) {
      throw new StoreError(`cannot open the assistant's database ${file}: ${(err as Error).message}`);
    }
    const db = this.db;
    db.pragma('journal_mode = WAL');
    // A lost last message after a power cut is acceptable for chat history; a fsync per message is not.
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version === 0) {
      db.transaction(() => {
        db.exec(SCHEMA);
        db.pragma(`user_version = ${SCHEMA_VERSION}`);
      })();
    } else if (version !== SCHEMA_VERSION) {
      db.close();
      throw new StoreError(
        `the assistant's database ${file} has schema version ${version}, this Warbler knows ${SCHEMA_VERSION} — use a newer Warbler or another file`,
      );
    }
    this.statements = {
      conversation: db.prepare<[string], { system: string | null; model: string | null; active_at: number }>(
        'SELECT system, model, active_at FROM conversations WHERE key = ?',
      ),
      messages: db.prepare<[string], MessageRow>(
        'SELECT id, role, nick, content, tokens, at FROM messages WHERE conversation = ? ORDER BY id',
      ),
      insert: db.prepare(
        'INSERT INTO messages (conversation, role, nick, content, tokens, at) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      touch: db.prepare(
        'INSERT INTO conversations (key, active_at) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET active_at = excluded.active_at',
      ),
      trimBefore: db.prepare('DELETE FROM messages WHERE conversation = ? AND id < ?'),
      deleteFrom: db.prepare('DELETE FROM messages WHERE conversation = ? AND id >= ?'),
      clear: db.prepare('DELETE FROM messages WHERE conversation = ?'),
      saveSettings: db.prepare(
        'INSERT INTO conversations (key, system, model, active_at) VALUES (?, ?, ?, ?) ' +
          'ON CONFLICT (key) DO UPDATE SET system = excluded.system, model = excluded.model, active_at = excluded.active_at',
      ),
      forget: db.prepare('DELETE FROM conversations WHERE key = ?'),
      idle: db.prepare<[number], { key: string }>(
        'SELECT key FROM conversations AS c WHERE active_at < ? AND EXISTS (SELECT 1 FROM messages WHERE conversation = c.key)',
      ),
      addUsage: db.prepare<[string, string, number], { tokens: number }>(
        'INSERT INTO usage (subject, day, tokens) VALUES (?, ?, ?) ' +
          'ON CONFLICT (subject, day) DO UPDATE SET tokens = tokens + excluded.tokens RETURNING tokens',
      ),
      usage: db.prepare<[string, string], { tokens: number }>(
        'SELECT tokens FROM usage WHERE subject = ? AND day = ?',
      ),
      pruneUsage: db.prepare('DELETE FROM usage WHERE day < ?'),
      rooms: db.prepare<[], { room: string; invited_by: string }>(
        'SELECT room, invited_by FROM invited_rooms ORDER BY room',
      ),
      addRoom: db.prepare('INSERT OR REPLACE INTO invited_rooms (room, invited_by) VALUES (?, ?)'),
      removeRoom: db.prepare('DELETE FROM invited_rooms WHERE room = ?'),
      subscribers: db.prepare<[], { jid: string }>('SELECT jid FROM subscribers ORDER BY jid'),
      addSubscriber: db.prepare('INSERT OR IGNORE INTO subscribers (jid) VALUES (?)'),
      removeSubscriber: db.prepare('DELETE FROM subscribers WHERE jid = ?'),
    };
  }

  load(key: string): ConversationRecord | undefined {
    const row = this.statements.conversation.get(key);
    if (row === undefined) return undefined;
    const messages = this.statements.messages.all(key).map(
      (m): StoredMessage => ({
        id: m.id,
        role: m.role,
        nick: m.nick ?? undefined,
        content: m.content,
        tokens: m.tokens,
        at: m.at,
      }),
    );
    return {
      settings: { system: row.system ?? undefined, model: row.model ?? undefined },
      messages,
      activeAt: row.active_at,
    };
  }

  append(key: string, m: Omit<StoredMessage, 'id'>): number {
    this.batch();
    this.statements.touch.run(key, m.at);
    return Number(
      this.statements.insert.run(key, m.role, m.nick ?? null, m.content, m.tokens, m.at).lastInsertRowid,
    );
  }

  trimBefore(key: string, firstKept: number): void {
    this.batch();
    this.statements.trimBefore.run(key, firstKept);
  }

  deleteFrom(key: string, first: number): void {
    this.batch();
    this.statements.deleteFrom.run(key, first);
  }

  clearMessages(key: string): void {
    this.batch();
    this.statements.clear.run(key);
  }

  saveSettings(key: string, settings: Settings, activeAt: number): void {
    this.batch();
    this.statements.saveSettings.run(key, settings.system ?? null, settings.model ?? null, activeAt);
  }

  forget(key: string): void {
    this.batch();
    this.statements.clear.run(key);
    this.statements.forget.run(key);
  }

  expireIdle(before: number): string[] {
    this.batch();
    const keys = this.statements.idle.all(before).map((r) => r.key);
    for (const key of keys) this.statements.clear.run(key);
    return keys;
  }

  addUsage(subject: string, day: string, tokens: number): number {
    this.batch();
    return this.statements.addUsage.get(subject, day, tokens)!.tokens;
  }

  usage(subject: string, day: string): number {
    return this.statements.usage.get(subject, day)?.tokens ?? 0;
  }

  pruneUsage(day: string): void {
    this.batch();
    this.statements.pruneUsage.run(day);
  }

  invitedRooms(): InvitedRoom[] {
    return this.statements.rooms.all().map((r) => ({ room: r.room, invitedBy: r.invited_by }));
  }

  addInvitedRoom(room: InvitedRoom): void {
    this.batch();
    this.statements.addRoom.run(room.room, room.invitedBy);
  }

  removeInvitedRoom(room: string): void {
    this.batch();
    this.statements.removeRoom.run(room);
  }

  subscribers(): string[] {
    return this.statements.subscribers.all().map((r) => r.jid);
  }

  addSubscriber(jid: string): void {
    this.batch();
    this.statements.addSubscriber.run(jid);
  }

  removeSubscriber(jid: string): void {
    this.batch();
    this.statements.removeSubscriber.run(jid);
  }

  close(): void {
    if (!this.db.open) return;
    this.commit();
    this.db.close();
  }

  /**
   * Opens the turn's transaction on its first write. Under load, dozens of answers end in one
   * turn, and one commit for all of them costs what one commit per statement cost for each; a
   * crash can take back at most the last turn's writes, which only chat history can afford.
   */
  private batch(): void {
    if (this.inTransaction) return;
    this.inTransaction = true;
    this.db.exec('BEGIN');
    setImmediate(this.commit);
  }
}

// ---- In memory ----

interface MemoryConversation {
  settings: Settings;
  messages: StoredMessage[];
  activeAt: number;
}

/** The same contract without a file: everything is gone when the process ends. */
export class MemoryBotStore implements BotStore {
  private readonly conversations = new Map<string, MemoryConversation>();
  private readonly counts = new Map<string, number>();
  private readonly rooms = new Map<string, InvitedRoom>();
  private readonly subs = new Set<string>();
  private nextId = 1;

  load(key: string): ConversationRecord | undefined {
    const c = this.conversations.get(key);
    return c && { settings: c.settings, messages: [...c.messages], activeAt: c.activeAt };
  }

  append(key: string, m: Omit<StoredMessage, 'id'>): number {
    const c = this.conversation(key);
    const id = this.nextId++;
    c.messages.push({ ...m, id });
    c.activeAt = m.at;
    return id;
  }

  trimBefore(key: string, firstKept: number): void {
    const c = this.conversations.get(key);
    if (c) c.messages = c.messages.filter((m) => m.id >= firstKept);
  }

  deleteFrom(key: string, first: number): void {
    const c = this.conversations.get(key);
    if (c) c.messages = c.messages.filter((m) => m.id < first);
  }

  clearMessages(key: string): void {
    const c = this.conversations.get(key);
    if (c) c.messages = [];
  }

  saveSettings(key: string, settings: Settings, activeAt: number): void {
    const c = this.conversation(key);
    c.settings = settings;
    c.activeAt = activeAt;
  }

  forget(key: string): void {
    this.conversations.delete(key);
  }

  expireIdle(before: number): string[] {
    const keys: string[] = [];
    for (const [key, c] of this.conversations)
      if (c.activeAt < before && c.messages.length > 0) {
        c.messages = [];
        keys.push(key);
      }
    return keys;
  }

  addUsage(subject: string, day: string, tokens: number): number {
    const key = `${day} ${subject}`;
    const total = (this.counts.get(key) ?? 0) + tokens;
    this.counts.set(key, total);
    return total;
  }

  usage(subject: string, day: string): number {
    return this.counts.get(`${day} ${subject}`) ?? 0;
  }

  pruneUsage(day: string): void {
    for (const key of this.counts.keys()) if (key.slice(0, key.indexOf(' ')) < day) this.counts.delete(key);
  }

  invitedRooms(): InvitedRoom[] {
    return [...this.rooms.values()].sort((a, b) => (a.room < b.room ? -1 : 1));
  }

  addInvitedRoom(room: InvitedRoom): void {
    this.rooms.set(room.room, room);
  }

  removeInvitedRoom(room: string): void {
    this.rooms.delete(room);
  }

  subscribers(): string[] {
    return [...this.subs].sort();
  }

  addSubscriber(jid: string): void {
    this.subs.add(jid);
  }

  removeSubscriber(jid: string): void {
    this.subs.delete(jid);
  }

  close(): void {}

  private conversation(key: string): MemoryConversation {
    let c = this.conversations.get(key);
    if (c === undefined) {
      c = { settings: { system: undefined, model: undefined }, messages: [], activeAt: 0 };
      this.conversations.set(key, c);
    }
    return c;
  }
}
