// An answer on its way to a person or a room: streamed as one message and then XEP-0308
// corrections at most every `intervalMs`, or sent once finished (`final` mode); converted to
// XEP-0393 styling; split into several messages when it grows past `maxChars`.
//
// References:
// - XEP-0308 Last Message Correction §4 (every correction names the original message's id) and
//   §5 business rules (a correction re-sends the whole stanza).
// - XEP-0334 Message Processing Hints §4.2 <no-permanent-store/>: intermediate corrections are
//   marked so that archives keep only the first message and the final correction.
// - XEP-0085 Chat State Notifications §5.1: the finished answer carries <active/>.
// - XEP-0461 Message Replies §2 with a XEP-0428 fallback (a quote of the question) for clients
//   without replies; XEP-0359 §3.2 origin-id, which group chats reflect.

import { type Element, x } from '../xml/element.js';
import { BOT_NS, NS } from './ns.js';
import { cutAnswer } from './split.js';
import { markdownToStyling } from './styling.js';

export interface ReplyTo {
  /** The full JID (in a room, the occupant JID) of the question's author. */
  readonly to: string;
  /** The id the reply refers to (in a room, the room's stanza-id). */
  readonly id: string;
  /** A short quote of the question, shown by clients that do not render replies. */
  readonly quote: string;
}

export interface AnswerTarget {
  readonly from: string;
  readonly to: string;
  readonly type: 'chat' | 'groupchat';
  readonly replyTo?: ReplyTo;
}

export interface AnswerOptions {
  readonly streaming: 'corrections' | 'final';
  readonly intervalMs: number;
  readonly maxChars: number;
  readonly nextId: () => string;
  readonly send: (stanza: Element) => void;
  readonly now?: () => number;
}

/** The message being written (the latest part of a split answer). */
interface Current {
  readonly id: string;
  /** The body last sent. */
  body: string;
  /** Whether a correction marked no-permanent-store went out since the last permanent copy. */
  transient: boolean;
}

export class AnswerStream {
  private current: Current | undefined;
  /** Characters of the raw answer already sent in finished parts. */
  private offset = 0;
  /** What the next part starts with (a reopened code fence). */
  private carry = '';
  private latest = '';
  private lastSentAt = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  private finished = false;
  private partsSent = 0;
  private readonly now: () => number;

  constructor(
    private readonly target: AnswerTarget,
    private readonly options: AnswerOptions,
  ) {
    this.now = options.now ?? (() => performance.now());
  }

  /** Messages sent so far (first messages and corrections). */
  get sentAny(): boolean {
    return this.current !== undefined || this.partsSent > 0;
  }

  /** The raw answer so far. */
  update(text: string): void {
    if (this.finished) return;
    this.latest = text;
    if (this.options.streaming === 'final') return;
    if (this.current === undefined && this.partsSent === 0) {
      // The first words go out at once: that is the latency people notice.
      if (text.trim() !== '') this.flush(false);
      return;
    }
    const wait = this.lastSentAt + this.options.intervalMs - this.now();
    if (wait <= 0) this.flush(false);
    else this.timer ??= setTimeout(() => this.flush(false), wait);
  }

  /** The answer is complete; `note` (already plain text) is appended after a blank line. */
  finish(text: string, note?: string): void {
    if (this.finished) return;
    this.latest = text;
    this.flush(true, note);
  }

  /**
   * The answer failed: whatever was written stays, followed by `note` (the error), in the one
   * final message (a correction of the streamed one, or a new message when nothing was sent).
   */
  fail(partial: string, note: string): void {
    if (this.finished) return;
    this.latest = partial;
    this.flush(true, note);
  }

  /** Stops any pending correction without sending anything more (shutdown). */
  abandon(): void {
    this.finished = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private flush(final: boolean, note?: string): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.finished) return;
    if (final) this.finished = true;
    const max = this.options.maxChars;
    // Finished parts: every time the unsent text outgrows a message, its head goes out for good.
    for (;;) {
      const rest = this.carry + this.latest.slice(this.offset);
      const cut = cutAnswer(rest, max);
      if (cut === undefined) break;
      this.deliver(markdownToStyling(cut.head), true, false);
      this.current = undefined;
      this.offset += cut.consumed - this.carry.length;
      this.carry = cut.carry;
    }
    let body = markdownToStyling(this.carry + this.latest.slice(this.offset)).trim();
    if (note !== undefined) body = body === '' ? note : `${body}\n\n${note}`;
    if (body === '') return;
    this.deliver(body, final, final);
    this.lastSentAt = this.now();
  }

  /** Sends `body` as the current message: new, or a correction of it. */
  private deliver(body: string, permanent: boolean, active: boolean): void {
    const current = this.current;
    if (current !== undefined && current.body === body && !current.transient) {
      // Nothing changed and the archive already has this text: only the chat state is news.
      if (active) this.options.send(this.chatState());
      return;
    }
    if (current !== undefined && current.body === body && !permanent) return;
    const id = this.options.nextId();
    // A first message is always kept: archives hold it and the final correction, nothing between.
    const transient = current !== undefined && !permanent;
    const message = this.message(id, body, current?.id, transient, active);
    if (current === undefined) {
      this.current = { id, body, transient: false };
      this.partsSent++;
    } else {
      current.body = body;
      current.transient = transient;
    }
    this.options.send(message);
  }

  private message(
    id: string,
    text: string,
    replaces: string | undefined,
    transient: boolean,
    active: boolean,
  ): Element {
    const { from, to, type, replyTo } = this.target;
    const message = x('message', { from, to, type, id });
    // The reply (and its quote) belongs to the first part of the answer only.
    const replying = replyTo !== undefined && this.partsSent === (replaces === undefined ? 0 : 1);
    if (replying) {
      const quote = quoteFallback(replyTo.quote);
      message.append(x('body', null, quote + text));
      message.append(x('reply', { xmlns: BOT_NS.REPLY, to: replyTo.to, id: replyTo.id }));
      message.append(
        x(
          'fallback',
          { xmlns: BOT_NS.FALLBACK, for: BOT_NS.REPLY },
          x('body', { start: 0, end: codePoints(quote) }),
        ),
      );
    } else message.append(x('body', null, text));
    if (replaces !== undefined) message.append(x('replace', { xmlns: BOT_NS.CORRECT, id: replaces }));
    if (transient) message.append(x('no-permanent-store', { xmlns: NS.HINTS }));
    if (active) message.append(x('active', { xmlns: NS.CHATSTATES }));
    message.append(x('origin-id', { xmlns: BOT_NS.SID, id }));
    return message;
  }

  private chatState(): Element {
    const { from, to, type } = this.target;
    return x(
      'message',
      { from, to, type, id: this.options.nextId() },
      x('active', { xmlns: NS.CHATSTATES }),
      x('no-store', { xmlns: NS.HINTS }),
    );
  }
}

/** "> first line of the question\n", shortened. */
function quoteFallback(quote: string): string {
  const line = quote.split('\n', 1)[0]!.trim();
  const short = line.length > 80 ? line.slice(0, 79) + '…' : line;
  return `> ${short}\n`;
}

function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdbff) n++;
  }
  return n;
}
