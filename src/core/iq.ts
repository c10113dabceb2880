// IQ handlers by (type, payload namespace, payload name) and scope, and the server's own
// outgoing requests. A handler returns its answer's payload (or nothing, for an empty
// result) and throws a StanzaError to refuse; the dispatcher builds the reply. Anything else
// a handler throws is a bug: the requester gets internal-server-error and the log a stack.
// RFC 6120 §8.2.3 (IQ semantics).

import type { JID } from '../jid.js';
import type { Logger } from '../log.js';
import { Element } from '../xml/element.js';
import { errorReply, StanzaError } from './errors.js';
import type { Session } from './session.js';

export type IqType = 'get' | 'set';

/**
 * host: addressed to a served domain (disco of the server, ping).
 * account: addressed to an account's bare JID, or sent by a client without `to` (roster,
 * vCard, private storage) — the server answers on the account's behalf.
 */
export type IqScope = 'host' | 'account';

export interface IqRequest {
  stanza: Element;
  /** The single child element: the request's payload. */
  payload: Element;
  from: JID;
  to: JID;
  origin: Session | undefined;
}

export type IqAnswer = Element | undefined | void;
export type IqHandler = (request: IqRequest) => IqAnswer | Promise<IqAnswer>;

function key(scope: IqScope, type: IqType, ns: string, name: string): string {
  return `${scope} ${type} ${ns} ${name}`;
}

export class IqHandlers {
  private readonly handlers = new Map<string, IqHandler>();

  /** Registers a handler; returns the function that removes it. Two handlers for one key is a bug. */
  add(scope: IqScope, type: IqType, ns: string, name: string, handler: IqHandler): () => void {
    const k = key(scope, type, ns, name);
    if (this.handlers.has(k)) throw new Error(`an iq handler for ${k} is already registered`);
    this.handlers.set(k, handler);
    return () => {
      if (this.handlers.get(k) === handler) this.handlers.delete(k);
    };
  }

  find(scope: IqScope, type: IqType, payload: Element): IqHandler | undefined {
    const ns = payload.getNS();
    if (ns === undefined) return undefined;
    return this.handlers.get(key(scope, type, ns, payload.localName));
  }
}

/** The result stanza for a request, carrying `payload` when there is one. */
export function iqResult(request: Element, payload?: Element): Element {
  const attrs: Record<string, string> = { type: 'result' };
  if (request.attrs.from !== undefined) attrs.to = request.attrs.from;
  if (request.attrs.to !== undefined) attrs.from = request.attrs.to;
  if (request.attrs.id !== undefined) attrs.id = request.attrs.id;
  const reply = new Element('iq', attrs);
  if (payload) reply.append(payload);
  return reply;
}

/**
 * Runs a handler and turns its outcome into the reply stanza. Never throws and never
 * rejects: the requester always gets exactly one answer.
 */
export async function runIqHandler(handler: IqHandler, request: IqRequest, log: Logger): Promise<Element> {
  try {
    const answer = await handler(request);
    return iqResult(request.stanza, answer ?? undefined);
  } catch (err) {
    if (!(err instanceof StanzaError)) {
      log.error('iq handler failed', {
        ns: request.payload.getNS(),
        name: request.payload.localName,
        from: request.from.full,
        error: err,
      });
    }
    // A get or set always has an error reply.
    return errorReply(
      request.stanza,
      err instanceof StanzaError ? err : new StanzaError('internal-server-error'),
    )!;
  }
}

/** The server's own outstanding requests (pings, probes of peers), matched by id and peer. */
export class PendingRequests {
  private readonly pending = new Map<string, { resolve: (reply: Element) => void; timer: NodeJS.Timeout }>();
  private counter = 0;

  nextId(): string {
    return `w${(++this.counter).toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  }

  wait(id: string, peer: string, timeoutMs: number): Promise<Element> {
    return new Promise((resolve, reject) => {
      const k = `${peer} ${id}`;
      const timer = setTimeout(() => {
        this.pending.delete(k);
        reject(new StanzaError('remote-server-timeout', `no answer from ${peer} within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.pending.set(k, { resolve, timer });
    });
  }

  /** Delivers a result or error to whoever waits for it; false when nobody does. */
  settle(reply: Element, peer: string): boolean {
    const id = reply.attrs.id;
    if (id === undefined) return false;
    const k = `${peer} ${id}`;
    const entry = this.pending.get(k);
    if (!entry) return false;
    this.pending.delete(k);
    clearTimeout(entry.timer);
    entry.resolve(reply);
    return true;
  }

  clear(): void {
    for (const entry of this.pending.values()) clearTimeout(entry.timer);
    this.pending.clear();
  }
}
