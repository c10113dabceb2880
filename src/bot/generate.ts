// One answer from a backend, under four separate deadlines: reaching the backend, the first
// token, silence between chunks, and the whole answer. Whatever happens, the promise settles
// once: with the answer (possibly marked truncated or cut at the length limit), or with a
// GenerationError that says which of these went wrong, in words fit for the person waiting.

import type { Backend, BackendRequest, FinishReason, TokenUsage } from './backends/types.js';
import { BackendError } from './backends/types.js';

export interface Timeouts {
  readonly connectMs: number;
  readonly firstTokenMs: number;
  readonly silenceMs: number;
  readonly totalMs: number;
}

export type FailureKind =
  | 'unreachable'
  | 'http-status'
  | 'model-error'
  | 'protocol'
  | 'unavailable'
  | 'timeout-connect'
  | 'timeout-first-token'
  | 'timeout-silence'
  | 'timeout-total'
  | 'stopped';

export class GenerationError extends Error {
  override name = 'GenerationError';

  constructor(
    readonly kind: FailureKind,
    /** For logs: the backend's own words (never shown to users verbatim when it may hold a URL). */
    readonly detail: string,
    /** The answer written before the failure. */
    readonly partial: string,
  ) {
    super(`${kind}: ${detail}`);
  }
}

export interface Generation {
  readonly text: string;
  readonly finish: FinishReason;
  readonly usage: TokenUsage | undefined;
  /** When the first piece of text arrived (performance.now()), or undefined for an empty answer. */
  readonly firstTextAt: number | undefined;
}

/**
 * Streams one answer. `onText` gets the whole text so far after every piece. `stop` aborts on
 * request (/stop, shutdown): the promise then rejects with kind 'stopped'.
 */
export function generate(
  backend: Backend,
  request: BackendRequest,
  timeouts: Timeouts,
  onText: (text: string) => void,
  stop?: AbortSignal,
): Promise<Generation> {
  return new Promise<Generation>((resolve, reject) => {
    const controller = new AbortController();
    let settled = false;
    let text = '';
    let firstTextAt: number | undefined;
    let connected = false;
    let started = false;

    const finish = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(total);
      clearTimeout(phase);
      stop?.removeEventListener('abort', onStop);
      return true;
    };
    // A deadline or /stop settles the answer at once, even if the backend is slow to notice its
    // signal: nobody waits on a backend that hangs.
    const expire = (kind: FailureKind): void => {
      if (!finish()) return;
      controller.abort();
      reject(new GenerationError(kind, kind === 'stopped' ? 'stopped' : 'deadline passed', text));
    };
    const onStop = (): void => expire('stopped');

    const total = setTimeout(expire, timeouts.totalMs, 'timeout-total');
    // One timer for the current phase (connect, then first token, then silence), re-armed in place.
    let phase = setTimeout(expire, timeouts.connectMs, 'timeout-connect');
    const progress = (): void => {
      if (started) {
        phase.refresh();
        return;
      }
      started = true;
      clearTimeout(phase);
      phase = setTimeout(expire, timeouts.silenceMs, 'timeout-silence');
    };
    const events = {
      connected(): void {
        if (settled || connected || started) return;
        connected = true;
        clearTimeout(phase);
        phase = setTimeout(expire, timeouts.firstTokenMs, 'timeout-first-token');
      },
      text(delta: string): void {
        if (settled) return;
        progress();
        if (firstTextAt === undefined) firstTextAt = performance.now();
        text += delta;
        onText(text);
      },
      reasoning(): void {
        if (!settled) progress();
      },
    };

    if (stop?.aborted) {
      expire('stopped');
      return;
    }
    stop?.addEventListener('abort', onStop, { once: true });
    backend.complete(request, events, controller.signal).then(
      (result) => {
        if (finish()) resolve({ text, finish: result.finish, usage: result.usage, firstTextAt });
      },
      (err: unknown) => {
        if (!finish()) return;
        if (err instanceof BackendError) {
          // An abort nobody here asked for (the backend closed during shutdown) counts as stopped.
          const kind: FailureKind = err.code === 'aborted' ? 'stopped' : err.code;
          reject(new GenerationError(kind, err.message, text));
        } else
          reject(new GenerationError('protocol', err instanceof Error ? err.message : String(err), text));
      },
    );
  });
}
