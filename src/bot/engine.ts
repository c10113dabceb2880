// The assistant's heart: questions in, answers out, for one-to-one chats and rooms alike.
// Each conversation has a serial queue (one answer at a time, in order); a global semaphore
// bounds the answers generated at once; rates and daily quotas are checked before a question
// is queued. Every question ends in exactly one final message: the answer, or one short error.
// Commands (typed or ad hoc) act on the same conversations.

import type { Logger } from '../log.js';
import { type Element, x } from '../xml/element.js';
import type { Backend } from './backends/types.js';
import { type CommandName, helpText } from './commands.js';
import { type FailureKind, type Generation, GenerationError, generate, type Timeouts } from './generate.js';
import { DailyQuota, RateLimiter, Semaphore, SerialQueue, utcDay } from './limits.js';
import { type ConversationKey, type ConversationMemory, roomKey, userKey } from './memory.js';
import { NS } from './ns.js';
import { AnswerStream, type AnswerTarget } from './outgoing.js';
import { buildPrompt, roomInstructions } from './prompt.js';
import type { BotStore } from './store.js';
import { estimateTokens } from './tokens.js';

export type Affiliation = 'owner' | 'admin' | 'member' | 'outcast' | 'none';

export type Asker =
  | { readonly kind: 'user'; readonly jid: string }
  | {
      readonly kind: 'room';
      readonly room: string;
      readonly nick: string;
      readonly affiliation: Affiliation;
    };

export interface Question {
  readonly asker: Asker;
  readonly target: AnswerTarget;
  /** The question, remembered when its turn comes; undefined when memory already holds it (a room line, /retry). */
  readonly text: string | undefined;
  /** In a room: the id of the line that asked; the prompt stops there. */
  readonly upToId?: number;
  /** Called once the question has had its final message (or was dropped). */
  readonly settled?: () => void;
}

export interface EngineSettings {
  readonly model: string;
  /** Models /model may choose; always includes model. */
  readonly models: readonly string[];
  readonly systemPrompt: string;
  readonly nick: string;
  readonly maxAnswerTokens: number;
  readonly timeouts: Timeouts;
  readonly streaming: 'corrections' | 'final';
  readonly correctionIntervalMs: number;
  readonly maxMessageChars: number;
  readonly concurrency: number;
  readonly queue: number;
  readonly userPerMinute: number;
  readonly roomPerMinute: number;
  readonly userDailyTokens: number;
  readonly roomDailyTokens: number;
}

export interface EngineOptions {
  readonly backend: Backend;
  readonly memory: ConversationMemory;
  readonly store: BotStore;
  readonly log: Logger;
  readonly send: (stanza: Element) => void;
  readonly nextId: () => string;
  readonly settings: EngineSettings;
  readonly now?: () => number;
  /** Told about every answer (for the benchmark and logs). */
  readonly onAnswer?: (report: AnswerReport) => void;
}

export interface AnswerReport {
  readonly key: ConversationKey;
  readonly outcome: 'answered' | FailureKind;
  readonly tokens: number;
  /** Milliseconds from dequeuing to the first text, when there was text. */
  readonly firstTextMs: number | undefined;
}

interface Conversation {
  readonly key: ConversationKey;
  readonly queue: SerialQueue;
  /** The answer being written, with its stop switch. */
  running: AbortController | undefined;
}

export class Engine {
  private readonly conversations = new Map<ConversationKey, Conversation>();
  private readonly slots: Semaphore;
  private readonly userRate: RateLimiter;
  private readonly roomRate: RateLimiter;
  private readonly userQuota: DailyQuota;
  private readonly roomQuota: DailyQuota;
  private readonly inFlight = new Set<Promise<void>>();
  private closing = false;
  private readonly now: () => number;

  constructor(private readonly options: EngineOptions) {
    const s = options.settings;
    this.now = options.now ?? Date.now;
    this.slots = new Semaphore(s.concurrency);
    this.userRate = new RateLimiter(s.userPerMinute, this.now);
    this.roomRate = new RateLimiter(s.roomPerMinute, this.now);
    this.userQuota = new DailyQuota(options.store, s.userDailyTokens, this.now);
    this.roomQuota = new DailyQuota(options.store, s.roomDailyTokens, this.now);
  }

  /** Queues a question, or answers at once with why it cannot be (rate, quota, a full queue). */
  ask(q: Question): void {
    if (this.closing) {
      q.settled?.();
      return;
    }
    const key = keyOf(q.asker);
    const room = q.asker.kind === 'room';
    const waitMs = room ? this.roomRate.take(q.asker.room) : this.userRate.take(key);
    if (waitMs > 0) {
      const seconds = Math.ceil(waitMs / 1000);
      this.say(
        q.target,
        `⚠ ${room ? 'This room is' : 'You are'} asking faster than I may answer; try again in ${seconds} s.`,
      );
      q.settled?.();
      return;
    }
    const quota = room ? this.roomQuota : this.userQuota;
    if (!quota.allows(key)) {
      this.say(
        q.target,
        `⚠ ${room ? "This room's" : 'Your'} daily limit of ${quota.daily} tokens is used up; it resets at midnight UTC.`,
      );
      q.settled?.();
      return;
    }
    const conversation = this.conversation(key);
    if (conversation.queue.waiting >= this.options.settings.queue) {
      this.say(q.target, '⚠ I still have your earlier questions to answer; ask again once I have.');
      q.settled?.();
      return;
    }
    conversation.queue.push({
      run: () => this.track(this.answer(conversation, q)),
      dropped: () => q.settled?.(),
    });
  }

  /** Runs a command for whoever asked, answering in `target` (nothing for a /stop that stopped something). */
  command(asker: Asker, target: AnswerTarget, name: CommandName, arg: string): void {
    const reply = this.execute(asker, target, name, arg);
    if (reply !== undefined) this.say(target, reply);
  }

  /** The same, returning the reply instead of sending it (ad-hoc commands show it in a form). */
  execute(asker: Asker, target: AnswerTarget, name: CommandName, arg: string): string | undefined {
    const key = keyOf(asker);
    const s = this.options.settings;
    const room = asker.kind === 'room' ? asker : undefined;
    const denied = room && !permitted(name, room.affiliation);
    if (denied)
      return `⚠ In a room, only ${name === 'reset' || name === 'forget' ? 'owners and admins' : 'owners'} may use /${name}.`;
    const memory = this.options.memory;
    switch (name) {
      case 'help':
        return helpText(room !== undefined, s.nick);
      case 'reset':
        this.halt(key);
        memory.reset(key);
        return 'Done: I have forgotten our conversation so far (the settings stay).';
      case 'forget':
        this.halt(key);
        memory.forget(key);
        return 'Done: everything I kept about this conversation is erased.';
      case 'stop': {
        const conversation = this.conversations.get(key);
        const running = conversation?.running;
        const dropped = conversation?.queue.clear() ?? 0;
        running?.abort();
        const also = dropped === 1 ? 'one waiting question' : `${dropped} waiting questions`;
        if (running !== undefined) return dropped > 0 ? `Also dropped ${also}.` : undefined;
        return dropped > 0 ? `Dropped ${also}.` : 'There is nothing to stop.';
      }
      case 'retry': {
        if (room !== undefined) return 'In a room, ask again instead.';
        const conversation = this.conversations.get(key);
        if (conversation && (conversation.running || conversation.queue.waiting > 0))
          return 'I am still answering; send /stop first, or wait for the answer.';
        if (memory.rewindToLastQuestion(key) === undefined)
          return 'There is no question to answer again yet.';
        this.ask({ asker, target, text: undefined });
        return undefined;
      }
      case 'model': {
        const current = memory.settings(key).model ?? s.model;
        if (arg === '') return `Model: ${current}. Available: ${s.models.join(', ')}.`;
        const chosen = s.models.find((m) => m.toLowerCase() === arg.toLowerCase());
        if (chosen === undefined)
          return `⚠ There is no model "${arg}" here. Available: ${s.models.join(', ')}.`;
        memory.updateSettings(key, { model: chosen === s.model ? undefined : chosen });
        return `Model set to ${chosen}.`;
      }
      case 'system': {
        const own = memory.settings(key).system;
        if (arg === '')
          return own === undefined
            ? `My instructions are the default ones:\n> ${s.systemPrompt}`
            : `My instructions here:\n> ${own.replace(/\n/g, '\n> ')}\n(/system default restores the default ones.)`;
        if (arg.toLowerCase() === 'default') {
          memory.updateSettings(key, { system: undefined });
          return 'Back to the default instructions.';
        }
        memory.updateSettings(key, { system: arg });
        return 'Understood: these are my instructions here from now on.';
      }
      case 'usage': {
        const quota = room ? this.roomQuota : this.userQuota;
        const used = quota.used(key);
        const whose = room ? 'This room has' : 'You have';
        return quota.unlimited
          ? `${whose} used ${used} tokens today (UTC).`
          : `${whose} used ${used} of ${quota.daily} tokens today; the count resets at midnight UTC.`;
      }
    }
  }

  /** The model and instructions a conversation uses now, and the models it may choose from. */
  current(asker: Asker): { model: string; system: string; models: readonly string[] } {
    const s = this.options.settings;
    const own = this.options.memory.settings(keyOf(asker));
    return { model: own.model ?? s.model, system: own.system ?? s.systemPrompt, models: s.models };
  }

  /** A one-off message: a command's reply, a refusal, an error. */
  say(target: AnswerTarget, text: string): void {
    const stream = new AnswerStream(target, this.streamOptions('final'));
    stream.finish(text);
  }

  /** Expires idle state: rate buckets, idle conversations, old usage counts. Run every minute. */
  sweep(): void {
    this.userRate.sweep();
    this.roomRate.sweep();
    for (const [key, c] of this.conversations)
      if (!c.queue.busy && c.running === undefined) this.conversations.delete(key);
    this.options.memory.sweep();
    this.options.store.pruneUsage(utcDay(this.now() - 2 * 86_400_000));
  }

  /** Stops every answer (each ends with a final message saying so) and waits for them, at most `waitMs`. */
  async shutdown(waitMs: number): Promise<void> {
    this.closing = true;
    for (const c of this.conversations.values()) {
      c.queue.clear();
      c.running?.abort();
    }
    if (this.inFlight.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.inFlight]),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, waitMs);
      }),
    ]);
    clearTimeout(timer);
  }

  /** Answers in flight and waiting, for the benchmark and health checks. */
  get load(): { running: number; waiting: number } {
    return { running: this.slots.inUse, waiting: this.slots.queued };
  }

  private conversation(key: ConversationKey): Conversation {
    let c = this.conversations.get(key);
    if (c === undefined) {
      c = { key, queue: new SerialQueue(), running: undefined };
      this.conversations.set(key, c);
    }
    return c;
  }

  /** Stops the answer being written and drops the waiting ones. */
  private halt(key: ConversationKey): void {
    const c = this.conversations.get(key);
    if (c === undefined) return;
    c.queue.clear();
    c.running?.abort();
  }

  private track(job: Promise<void>): Promise<void> {
    this.inFlight.add(job);
    return job.finally(() => this.inFlight.delete(job));
  }

  private async answer(conversation: Conversation, q: Question): Promise<void> {
    const stop = new AbortController();
    conversation.running = stop;
    let release: (() => void) | undefined;
    try {
      try {
        release = await this.slots.acquire(stop.signal);
      } catch {
        // Stopped while waiting for a slot: nothing was written, so this is the final word.
        this.say(q.target, this.closing ? RESTARTING : '⏹ Stopped.');
        return;
      }
      await this.generateAnswer(conversation.key, q, stop.signal);
    } finally {
      release?.();
      if (conversation.running === stop) conversation.running = undefined;
      q.settled?.();
    }
  }

  private async generateAnswer(key: ConversationKey, q: Question, stop: AbortSignal): Promise<void> {
    const { memory, log } = this.options;
    const s = this.options.settings;
    if (q.text !== undefined) memory.add(key, 'user', q.text);
    this.options.send(this.chatState(q.target, 'composing'));
    const settings = memory.settings(key);
    const system = settings.system ?? s.systemPrompt;
    const messages = buildPrompt(
      q.asker.kind === 'room' ? roomInstructions(system, s.nick) : system,
      memory.history(key),
      q.upToId,
    );
    const model = settings.model ?? s.model;
    const stream = new AnswerStream(q.target, this.streamOptions(s.streaming));
    const started = performance.now();
    let generation: Generation;
    try {
      generation = await generate(
        this.options.backend,
        { model, messages, maxTokens: s.maxAnswerTokens },
        s.timeouts,
        (text) => stream.update(text),
        stop,
      );
    } catch (err) {
      const failure = err instanceof GenerationError ? err : new GenerationError('protocol', String(err), '');
      stream.fail(failure.partial, this.failureNote(failure, model));
      const level = failure.kind === 'stopped' ? 'debug' : 'warn';
      log[level]('answer failed', { conversation: kindOf(key), kind: failure.kind, detail: failure.detail });
      // What was spent still counts: the prompt was read, the partial answer written.
      const spent =
        messages.reduce((n, m) => n + estimateTokens(m.content), 0) + estimateTokens(failure.partial);
      this.charge(q.asker, key, spent);
      this.options.onAnswer?.({ key, outcome: failure.kind, tokens: spent, firstTextMs: undefined });
      return;
    }
    const { text, finish, usage } = generation;
    let note: string | undefined;
    if (text.trim() === '') note = '⚠ The model gave an empty answer; /retry may help.';
    else if (finish === 'truncated')
      note = '⚠ The answer is cut off: the model’s stream ended before it was done.';
    else if (finish === 'length')
      note = `(The answer reached the length limit of ${s.maxAnswerTokens} tokens.)`;
    stream.finish(text, note);
    if (text.trim() !== '') memory.add(key, 'assistant', text);
    const tokens = usage
      ? usage.promptTokens + usage.completionTokens
      : messages.reduce((n, m) => n + estimateTokens(m.content), 0) + estimateTokens(text);
    this.charge(q.asker, key, tokens);
    this.options.onAnswer?.({
      key,
      outcome: 'answered',
      tokens,
      firstTextMs: generation.firstTextAt === undefined ? undefined : generation.firstTextAt - started,
    });
  }

  private charge(asker: Asker, key: ConversationKey, tokens: number): void {
    (asker.kind === 'room' ? this.roomQuota : this.userQuota).add(key, tokens);
  }

  private failureNote(err: GenerationError, model: string): string {
    const t = this.options.settings.timeouts;
    switch (err.kind) {
      case 'stopped':
        return this.closing ? RESTARTING : '⏹ Stopped.';
      case 'unreachable':
      case 'timeout-connect':
        return '⚠ I cannot reach the language model right now; please try again later.';
      case 'http-status':
        return `⚠ ${httpFailure(err.detail, model)}`;
      case 'model-error':
        return `⚠ The language model failed while answering (${err.detail.replace(/^the backend reported: /, '')}).`;
      case 'protocol':
        return '⚠ The language model sent an answer I could not read.';
      case 'unavailable':
        return `⚠ The language model is not available (${err.detail}).`;
      case 'timeout-first-token':
        return `⚠ The language model did not start answering within ${t.firstTokenMs / 1000} s.`;
      case 'timeout-silence':
        return `⚠ The language model went silent for ${t.silenceMs / 1000} s, so I stopped waiting.`;
      case 'timeout-total':
        return `⚠ The answer took longer than ${t.totalMs / 1000} s, so I stopped it.`;
    }
  }

  private streamOptions(streaming: 'corrections' | 'final') {
    const s = this.options.settings;
    return {
      streaming,
      intervalMs: s.correctionIntervalMs,
      maxChars: s.maxMessageChars,
      nextId: this.options.nextId,
      send: this.options.send,
    };
  }

  private chatState(target: AnswerTarget, state: 'composing' | 'active'): Element {
    return x(
      'message',
      { from: target.from, to: target.to, type: target.type, id: this.options.nextId() },
      x(state, { xmlns: NS.CHATSTATES }),
      x('no-store', { xmlns: NS.HINTS }),
    );
  }
}

const RESTARTING = '⚠ The assistant is restarting; ask again in a moment.';

function keyOf(asker: Asker): ConversationKey {
  return asker.kind === 'user' ? userKey(asker.jid) : roomKey(asker.room);
}

/** For logs: which kind of conversation, never whose. */
function kindOf(key: ConversationKey): string {
  return key.startsWith('room:') ? 'room' : 'user';
}

/** Who may run a command in a room, by affiliation (XEP-0045 §5.2). */
function permitted(name: CommandName, affiliation: Affiliation): boolean {
  switch (name) {
    case 'system':
    case 'model':
      return affiliation === 'owner';
    case 'reset':
    case 'forget':
      return affiliation === 'owner' || affiliation === 'admin';
    default:
      return true;
  }
}

function httpFailure(detail: string, model: string): string {
  const status = Number(/HTTP status (\d+)/.exec(detail)?.[1] ?? 0);
  if (status === 401 || status === 403)
    return 'The language model refused my credentials; please tell the administrator.';
  if (status === 404) return `The model “${model}” is not available on the language model server.`;
  if (status === 429) return 'The language model is overloaded right now; try again in a minute.';
  if (status >= 500) return `The language model server failed (HTTP ${status}); try again later.`;
  return `The language model server refused the request (HTTP ${status}).`;
}
