// What every backend offers the assistant: one streamed chat completion at a time per call,
// reported through callbacks (no per-token promises or allocations beyond the text itself),
// ending in a promise that settles once. Timeouts are not a backend's business: generate.ts
// watches the callbacks and aborts through the signal.

export type Role = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  readonly role: Role;
  readonly content: string;
}

export interface BackendRequest {
  readonly model: string;
  readonly messages: readonly ChatMessage[];
  readonly maxTokens: number;
}

export interface TokenUsage {
  readonly promptTokens: number;
  readonly completionTokens: number;
}

export interface BackendEvents {
  /** The backend is reached (TCP and TLS up, or a reused connection); called at most once. */
  connected(): void;
  /** A piece of the answer. */
  text(delta: string): void;
  /** A piece of the model's reasoning: progress, but never shown or remembered. */
  reasoning(delta: string): void;
}

/**
 * How an answer ended. 'stop': the model finished. 'length': it hit max_tokens. 'truncated':
 * the stream ended before the model said it was done (no finish reason and no [DONE]).
 */
export type FinishReason = 'stop' | 'length' | 'truncated';

export interface BackendResult {
  readonly finish: FinishReason;
  /** What the backend counted, when it says. */
  readonly usage: TokenUsage | undefined;
}

export type BackendErrorCode =
  /** Nothing answers at the address (refused, no route, DNS failure, TLS failure). */
  | 'unreachable'
  /** The server answered the request with an HTTP error status. */
  | 'http-status'
  /** The server reported an error inside an open stream. */
  | 'model-error'
  /** The response could not be understood at all. */
  | 'protocol'
  /** The signal aborted the request. */
  | 'aborted'
  /** The backend cannot run here (a missing optional dependency, a bad model file). */
  | 'unavailable';

export class BackendError extends Error {
  override name = 'BackendError';
  readonly code: BackendErrorCode;
  /** For 'http-status'. */
  readonly status: number | undefined;

  constructor(code: BackendErrorCode, message: string, status?: number) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

export interface Backend {
  /** 'openai' or 'gguf', for logs. */
  readonly kind: string;
  /** Streams one completion. Rejects with a BackendError; with code 'aborted' once the signal fires. */
  complete(request: BackendRequest, events: BackendEvents, signal: AbortSignal): Promise<BackendResult>;
  /** Releases connections, models and threads. */
  close(): Promise<void>;
}
