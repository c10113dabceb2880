// A streaming client for the OpenAI-compatible chat-completions API (POST {base}/chat/completions
// with "stream": true), the one Ollama, llama.cpp's server, vLLM, LM Studio, OpenAI, DeepSeek and
// Qwen's compatible mode all serve.
//
// Tolerant of what real servers send: keep-alive comments; `reasoning_content` (DeepSeek, vLLM,
// llama.cpp) or `reasoning` (Ollama, OpenRouter) deltas, taken as progress and never shown; a
// final usage chunk whose `choices` is empty (stream_options.include_usage); an error object
// (or an SSE event named "error") inside an open stream; a plain JSON completion from a server
// that ignores "stream"; and a stream that stops without `data: [DONE]`, which is reported as a
// truncated answer unless the model had already given its finish reason.
//
// node:http rather than fetch: the keep-alive agent reuses connections with less per-request
// overhead, and the socket is at hand to tell "reached the server" (the connect timeout) from
// "the model is slow" (the first-token timeout).

import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { SseError, SseParser } from './sse.js';
import {
  type Backend,
  BackendError,
  type BackendEvents,
  type BackendRequest,
  type BackendResult,
  type FinishReason,
  type TokenUsage,
} from './types.js';

export interface OpenAiOptions {
  /** Up to and including /v1: http://127.0.0.1:11434/v1. */
  baseUrl: string;
  /** Sent as a bearer token when given. */
  apiKey?: string;
  /** Merged into every request body before the fields this client sets. */
  extraBody?: Readonly<Record<string, unknown>>;
}

/** The most of an error response body read, for its message. */
const MAX_ERROR_BODY = 65536;
/** The most of a non-streamed JSON completion read. */
const MAX_JSON_BODY = 16 << 20;

/** The parts of a streamed chunk this client reads. */
interface CompletionChunk {
  choices?: Array<{
    delta?: { content?: unknown; reasoning_content?: unknown; reasoning?: unknown } | null;
    message?: { content?: unknown; reasoning_content?: unknown } | null;
    finish_reason?: unknown;
  }> | null;
  usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } | null;
  error?: unknown;
}

export class OpenAiBackend implements Backend {
  readonly kind = 'openai';
  private readonly url: URL;
  private readonly agent: http.Agent;
  private readonly request: typeof http.request;
  private readonly authorization: string | undefined;
  private readonly extraBody: Readonly<Record<string, unknown>>;

  constructor(options: OpenAiOptions) {
    const base = options.baseUrl.endsWith('/') ? options.baseUrl : options.baseUrl + '/';
    this.url = new URL('chat/completions', base);
    const secure = this.url.protocol === 'https:';
    if (!secure && this.url.protocol !== 'http:')
      throw new BackendError(
        'unavailable',
        `the backend URL must be http:// or https://, not ${this.url.protocol}`,
      );
    this.agent = secure ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
    this.request = secure ? https.request : http.request;
    this.authorization = options.apiKey ? `Bearer ${options.apiKey}` : undefined;
    this.extraBody = options.extraBody ?? {};
  }

  async complete(
    request: BackendRequest,
    events: BackendEvents,
    signal: AbortSignal,
  ): Promise<BackendResult> {
    const body = JSON.stringify({
      max_tokens: request.maxTokens,
      ...this.extraBody,
      model: request.model,
      messages: request.messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    try {
      return await this.once(body, events, signal);
    } catch (err) {
      // A kept-alive connection the server had closed fails before any response; one retry on a
      // fresh connection is safe because nothing reached the model.
      if (err instanceof StaleConnection) return this.once(body, events, signal);
      throw err;
    }
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }

  private once(body: string, events: BackendEvents, signal: AbortSignal): Promise<BackendResult> {
    return new Promise<BackendResult>((resolve, reject) => {
      if (signal.aborted) {
        reject(new BackendError('aborted', 'stopped before the request was sent'));
        return;
      }
      let settled = false;
      const settle = (error: Error | undefined, result?: BackendResult): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve(result!);
      };
      const headers: http.OutgoingHttpHeaders = {
        'content-type': 'application/json',
        accept: 'text/event-stream, application/json',
        'content-length': Buffer.byteLength(body),
      };
      if (this.authorization) headers.authorization = this.authorization;
      const req = this.request(this.url, { method: 'POST', agent: this.agent, headers });
      const onAbort = (): void => {
        req.destroy();
        settle(new BackendError('aborted', 'stopped'));
      };
      signal.addEventListener('abort', onAbort, { once: true });

      let reachedOnce = false;
      const reached = (): void => {
        if (reachedOnce) return;
        reachedOnce = true;
        events.connected();
      };
      req.on('socket', (socket: Socket) => {
        socket.setNoDelay(true);
        if (socket.connecting)
          socket.once(this.url.protocol === 'https:' ? 'secureConnect' : 'connect', reached);
        else reached();
      });
      let reachedResponse = false;
      req.on('error', (err: NodeJS.ErrnoException) => {
        // Once the response has begun, its own 'close' tells how the answer ended.
        if (reachedResponse) return;
        if (req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE'))
          settle(new StaleConnection());
        else settle(unreachable(this.url, err));
      });
      req.on('response', (res) => {
        reachedResponse = true;
        reached();
        const status = res.statusCode ?? 0;
        if (status < 200 || status > 299) {
          readBody(res, MAX_ERROR_BODY, (text) =>
            settle(new BackendError('http-status', httpErrorMessage(status, text), status)),
          );
          return;
        }
        const type = String(res.headers['content-type'] ?? '');
        if (type.includes('application/json')) {
          readBody(res, MAX_JSON_BODY, (text) => {
            try {
              settle(undefined, plainCompletion(text, events));
            } catch (err) {
              settle(err as Error);
            }
          });
          return;
        }
        const stream = new CompletionStream(events);
        const parser = new SseParser(stream);
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (settled) return;
          try {
            parser.write(chunk);
          } catch (err) {
            res.destroy();
            settle(err instanceof SseError ? new BackendError('protocol', err.message) : (err as Error));
            return;
          }
          if (stream.error) {
            // The server may go on sending; the answer has failed either way.
            res.destroy();
            settle(stream.error);
          } else if (stream.done) {
            // [DONE]: answer now, and let the rest of the response drain so the connection is reused.
            settle(undefined, stream.result());
            res.resume();
          }
        });
        // 'close' covers both a clean end and a connection cut mid-answer.
        res.on('close', () => {
          parser.end();
          settle(undefined, stream.result());
        });
        res.on('error', () => {});
      });
      req.end(body);
    });
  }
}

/** A reused keep-alive connection failed before the server saw the request. */
class StaleConnection extends Error {}

/** Reads the events of one streamed completion. */
class CompletionStream {
  done = false;
  error: BackendError | undefined;
  private finish: FinishReason | undefined;
  private usage: TokenUsage | undefined;

  constructor(private readonly events: BackendEvents) {}

  event(data: string, type: string): void {
    if (this.done || this.error) return;
    if (data === '[DONE]') {
      this.done = true;
      return;
    }
    let chunk: CompletionChunk;
    try {
      chunk = JSON.parse(data) as CompletionChunk;
    } catch {
      // COMPAT: some proxies interleave lines that are not JSON; they carry no answer.
      if (type === 'error')
        this.error = new BackendError('model-error', `the backend reported: ${data.slice(0, 300)}`);
      return;
    }
    if (typeof chunk !== 'object' || chunk === null) return;
    if (type === 'error' || chunk.error !== undefined) {
      this.error = new BackendError(
        'model-error',
        `the backend reported: ${errorText(chunk.error ?? chunk)}`,
      );
      return;
    }
    const choice = chunk.choices?.[0];
    if (choice) {
      const delta = choice.delta ?? choice.message;
      if (delta) {
        const reasoning =
          (delta as { reasoning_content?: unknown }).reasoning_content ??
          (delta as { reasoning?: unknown }).reasoning;
        if (typeof reasoning === 'string' && reasoning !== '') this.events.reasoning(reasoning);
        if (typeof delta.content === 'string' && delta.content !== '') this.events.text(delta.content);
      }
      if (typeof choice.finish_reason === 'string')
        this.finish = choice.finish_reason === 'length' ? 'length' : 'stop';
    }
    if (chunk.usage) this.usage = readUsage(chunk.usage);
  }

  comment(): void {}

  result(): BackendResult {
    return { finish: this.done ? (this.finish ?? 'stop') : (this.finish ?? 'truncated'), usage: this.usage };
  }
}

/** A server that ignored "stream": true answered with one JSON completion. */
function plainCompletion(text: string, events: BackendEvents): BackendResult {
  let parsed: CompletionChunk;
  try {
    parsed = JSON.parse(text) as CompletionChunk;
  } catch {
    throw new BackendError('protocol', 'the backend answered with JSON that does not parse');
  }
  if (parsed.error !== undefined)
    throw new BackendError('model-error', `the backend reported: ${errorText(parsed.error)}`);
  const choice = parsed.choices?.[0];
  const content = choice?.message?.content ?? choice?.delta?.content;
  if (typeof content !== 'string')
    throw new BackendError('protocol', 'the backend answered without a message');
  if (content !== '') events.text(content);
  const finish: FinishReason = choice?.finish_reason === 'length' ? 'length' : 'stop';
  return { finish, usage: parsed.usage ? readUsage(parsed.usage) : undefined };
}

function readUsage(usage: { prompt_tokens?: unknown; completion_tokens?: unknown }): TokenUsage | undefined {
  const prompt = usage.prompt_tokens;
  const completion = usage.completion_tokens;
  if (typeof prompt !== 'number' || typeof completion !== 'number') return undefined;
  return { promptTokens: prompt, completionTokens: completion };
}

function errorText(error: unknown): string {
  if (typeof error === 'string') return error.slice(0, 300);
  if (typeof error === 'object' && error !== null) {
    const message = (error as { message?: unknown }).message;
    if (typeof message === 'string') return message.slice(0, 300);
  }
  return JSON.stringify(error).slice(0, 300);
}

function httpErrorMessage(status: number, body: string): string {
  let detail = '';
  try {
    const parsed = JSON.parse(body) as { error?: unknown; message?: unknown };
    detail = errorText(parsed.error ?? parsed.message ?? parsed);
  } catch {
    detail = body.trim().slice(0, 300);
  }
  return detail === '' ? `HTTP status ${status}` : `HTTP status ${status}: ${detail}`;
}

function unreachable(url: URL, err: NodeJS.ErrnoException): BackendError {
  return new BackendError('unreachable', `cannot reach ${url.origin} (${err.code ?? err.message})`);
}

function readBody(res: http.IncomingMessage, limit: number, done: (text: string) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    done(Buffer.concat(chunks).toString('utf8'));
  };
  res.on('data', (chunk: Buffer) => {
    if (size >= limit) return;
    chunks.push(chunk);
    size += chunk.length;
  });
  res.on('end', finish);
  res.on('close', finish);
  res.on('error', () => {});
}
