// Running the assistant: runBot() builds it from a [bot] config section — store, memory,
// backend, engine, the handlers, the component connection — connects, and hands back a handle
// to stop it. `warbler bot` runs it in its own process; `warbler start` supervises it when
// [bot] enabled = true. It reaches the server only through XEP-0114, like any third-party bot.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { jid as makeJid } from '../jid.js';
import { type Logger, silentLogger } from '../log.js';
import type { Element } from '../xml/element.js';
import { AdHocCommands } from './adhoc.js';
import { AllowList } from './allow.js';
import { openBackend } from './backends/index.js';
import type { Backend } from './backends/types.js';
import { StanzaRouter } from './bot.js';
import { DirectChat } from './chat.js';
import { ComponentConnection, ComponentError } from './component.js';
import type { BotConfig } from './config.js';
import { type AnswerReport, Engine } from './engine.js';
import { ConversationMemory } from './memory.js';
import { Presence } from './presence.js';
import { Rooms } from './rooms.js';
import { type BotStore, MemoryBotStore, SqliteBotStore } from './store.js';

export { type BotConfig, botSchema } from './config.js';
export type { AnswerReport } from './engine.js';

export interface BotOptions {
  /** The loaded [bot] section. */
  readonly config: BotConfig;
  /** The server's (first) domain: the default component is ai.<domain>, and its users are allowed by default. */
  readonly serverDomain: string;
  /** Where bot.sqlite goes when bot.memory.database is not set (the server's data_dir). */
  readonly dataDir: string;
  /** The component secret; else bot.secret_file, else $WARBLER_BOT_SECRET. */
  readonly secret?: string;
  readonly log?: Logger;
  /** Gives up connecting the first time (runBot then rejects with BOT_CONNECT). */
  readonly signal?: AbortSignal;
  /** The environment for secrets and API keys (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /** A ready backend, instead of the configured one (tests, embedding). */
  readonly backend?: Backend;
  /** Told about each answer: for metrics and the benchmark. */
  readonly onAnswer?: (report: AnswerReport) => void;
}

export interface BotHandle {
  /** The JID people chat with: assistant@ai.example.org. */
  readonly jid: string;
  /** The component domain. */
  readonly domain: string;
  /** Whether the component stream is up right now (it reconnects by itself). */
  readonly online: boolean;
  /** Ends every answer with a final message, leaves rooms, goes offline, closes everything. */
  stop(): Promise<void>;
}

export type BotErrorCode = 'BOT_SECRET' | 'BOT_BACKEND' | 'BOT_STORE' | 'BOT_CONNECT';

export class BotError extends Error {
  override name = 'BotError';
  constructor(
    readonly code: BotErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const SECRET_ENV = 'WARBLER_BOT_SECRET';
const SWEEP_MS = 60_000;
const SHUTDOWN_WAIT_MS = 3000;

export async function runBot(options: BotOptions): Promise<BotHandle> {
  const config = options.config;
  const env = options.env ?? process.env;
  const log = (options.log ?? silentLogger).child({ component: 'bot' });
  const domain = config.component === '' ? `ai.${options.serverDomain}` : config.component.toLowerCase();
  const jid = makeJid(config.name, domain).bare;
  const secret = resolveSecret(config, options.secret, env);

  let store: BotStore;
  try {
    store = config.memory.persist
      ? new SqliteBotStore(config.memory.database ?? join(options.dataDir, 'bot.sqlite'))
      : new MemoryBotStore();
  } catch (err) {
    throw new BotError('BOT_STORE', (err as Error).message);
  }
  let backend: Backend;
  try {
    backend =
      options.backend ?? (await openBackend(config.backend, { env, sequences: config.limits.concurrency }));
  } catch (err) {
    store.close();
    throw new BotError('BOT_BACKEND', `bot backend: ${(err as Error).message}`);
  }

  let prefixCounter = 0;
  const idPrefix = randomBytes(4).toString('hex');
  const nextId = (): string => `${idPrefix}-${(++prefixCounter).toString(36)}`;
  // Set once the connection exists; stanzas built before that have nowhere to go anyway.
  let connection: ComponentConnection | undefined;
  const send = (stanza: Element): void => {
    if (!connection?.send(stanza)) log.debug('offline: dropped an outgoing stanza', { name: stanza.name });
  };

  const allow = new AllowList(config.allow, options.serverDomain);
  const memory = new ConversationMemory(store, {
    user: { maxMessages: config.memory.max_messages, maxTokens: config.memory.max_tokens },
    room: { maxMessages: config.rooms.context_lines + 1, maxTokens: config.memory.max_tokens },
    idleMs: config.memory.idle_expiry * 1000,
  });
  const b = config.backend;
  const models = b.models.includes(b.model) ? b.models : [b.model, ...b.models];
  const engine = new Engine({
    backend,
    memory,
    store,
    log,
    send,
    nextId,
    onAnswer: options.onAnswer,
    settings: {
      model: b.model,
      models,
      systemPrompt: config.system_prompt,
      nick: config.rooms.nick,
      maxAnswerTokens: b.max_answer_tokens,
      timeouts: {
        connectMs: config.timeouts.connect * 1000,
        firstTokenMs: config.timeouts.first_token * 1000,
        silenceMs: config.timeouts.silence * 1000,
        totalMs: config.timeouts.total * 1000,
      },
      streaming: config.streaming,
      correctionIntervalMs: config.correction_interval,
      maxMessageChars: config.max_message_chars,
      concurrency: config.limits.concurrency,
      queue: config.limits.queue,
      userPerMinute: config.limits.user_per_minute,
      roomPerMinute: config.limits.room_per_minute,
      userDailyTokens: config.limits.user_daily_tokens,
      roomDailyTokens: config.limits.room_daily_tokens,
    },
  });
  const rooms = new Rooms({
    engine,
    memory,
    store,
    allow,
    log,
    send,
    nextId,
    jid,
    occupantJid: `${jid}/warbler`,
    nick: config.rooms.nick,
    configured: config.rooms.join,
    acceptInvites: config.rooms.accept_invites,
    contextLines: config.rooms.context_lines,
    maxBotTurns: config.rooms.max_bot_turns,
    loopPauseMs: config.rooms.loop_pause * 1000,
  });
  const presence = new Presence({ jid, status: `Ask me anything (${b.model})`, allow, store, send });
  const router = new StanzaRouter({
    disco: { jid, domain, name: 'Warbler assistant' },
    allow,
    chat: new DirectChat({ engine, allow, log, send, nextId, jid }),
    rooms,
    presence,
    adhoc: new AdHocCommands(engine, jid),
    send,
    log,
  });

  connection = new ComponentConnection({
    host: config.server_host,
    port: config.server_port,
    domain,
    secret,
    log,
    onStanza: (stanza) => router.route(stanza),
    onOnline: () => {
      presence.announce();
      rooms.joinAll();
    },
    onOffline: () => rooms.offline(),
  });
  const sweeper = setInterval(() => engine.sweep(), SWEEP_MS);
  sweeper.unref();

  const closeAll = async (): Promise<void> => {
    clearInterval(sweeper);
    await backend.close().catch(() => {});
    store.close();
  };
  try {
    await connection.start(options.signal);
  } catch (err) {
    await connection.stop();
    await closeAll();
    const reason = err instanceof ComponentError ? err.message : String(err);
    throw new BotError(
      'BOT_CONNECT',
      `bot: cannot connect to ${config.server_host}:${config.server_port} as ${domain}: ${reason}`,
    );
  }
  log.info('assistant ready', { jid, backend: backend.kind, model: b.model });

  let stopping: Promise<void> | undefined;
  const conn = connection;
  return {
    jid,
    domain,
    get online() {
      return conn.online;
    },
    stop() {
      stopping ??= (async () => {
        await engine.shutdown(SHUTDOWN_WAIT_MS);
        rooms.leaveAll();
        presence.goodbye();
        await conn.stop();
        await closeAll();
        log.info('assistant stopped');
      })();
      return stopping;
    },
  };
}

function resolveSecret(config: BotConfig, given: string | undefined, env: NodeJS.ProcessEnv): string {
  if (given !== undefined && given !== '') return given;
  if (config.secret_file !== undefined) {
    let text: string;
    try {
      text = readFileSync(config.secret_file, 'utf8');
    } catch (err) {
      throw new BotError(
        'BOT_SECRET',
        `cannot read bot.secret_file ${config.secret_file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
    const secret = text.trim();
    if (secret === '') throw new BotError('BOT_SECRET', `bot.secret_file ${config.secret_file} is empty`);
    return secret;
  }
  const fromEnv = env[SECRET_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  throw new BotError(
    'BOT_SECRET',
    `no component secret for the assistant: set bot.secret_file, or the environment variable ${SECRET_ENV}`,
  );
}
