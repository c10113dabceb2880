// A real local HTTP server speaking the OpenAI-compatible chat-completions protocol
// (POST /v1/chat/completions, streamed as server-sent events), answering with scripts the tests
// write: text in chunks, reasoning, keep-alive comments, delays, gates the test opens, an error
// inside the stream, a usage chunk with empty choices, a stream that ends without [DONE], a cut
// connection, an HTTP error status, a plain JSON completion, or no answer at all.

import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Step =
  /** A piece of the answer (delta.content). */
  | { readonly text: string }
  /** A piece of reasoning (delta.reasoning_content). */
  | { readonly reasoning: string }
  /** A comment line, as servers send for keep-alive. */
  | { readonly comment: string }
  /** A pause, in milliseconds. */
  | { readonly wait: number }
  /** Waits until the promise settles (a test holding the answer at this point). */
  | { readonly gate: Promise<unknown> }
  /** An error object inside the open stream. */
  | { readonly error: string }
  /** A chunk with a finish reason and an empty delta. */
  | { readonly finish: 'stop' | 'length' }
  /** The final usage chunk (with an empty choices array, as stream_options.include_usage gives). */
  | { readonly usage: { readonly prompt: number; readonly completion: number } }
  /** Bytes written as they are. */
  | { readonly raw: string }
  /** The connection is destroyed here. */
  | { readonly cut: true };

export interface FakeAnswer {
  /** An HTTP error status instead of a stream, with `errorMessage` in an OpenAI-style error body. */
  readonly status?: number;
  readonly errorMessage?: string;
  /** The stream. */
  readonly steps?: readonly Step[];
  /** Whether data: [DONE] ends the stream (default true). */
  readonly done?: boolean;
  /** Answer with one plain JSON completion of this text instead of a stream. */
  readonly json?: string;
  /** Accept the request and never answer. */
  readonly hang?: boolean;
}

export interface RecordedRequest {
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  /** The parsed JSON body. */
  readonly body: {
    model: string;
    messages: Array<{ role: string; content: string }>;
    stream?: boolean;
    max_tokens?: number;
    [key: string]: unknown;
  };
  /** Set when the client went away before the answer ended. */
  aborted: boolean;
  /** Set when the answer was written to its end. */
  finished: boolean;
}

export type Script = (request: RecordedRequest, index: number) => FakeAnswer;

export interface FakeLlm {
  /** The base URL, ending in /v1. */
  readonly url: string;
  readonly port: number;
  /** Every request, in arrival order. */
  readonly requests: RecordedRequest[];
  /**
   * How the next requests are answered: a function (given the request and its index since this
   * call), or a list used in order (the last one repeats).
   */
  script(script: Script | readonly FakeAnswer[]): void;
  /** Resolves when `count` requests have arrived. */
  waitForRequests(count: number, timeoutMs?: number): Promise<RecordedRequest>;
  stop(): Promise<void>;
}

/** A streamed answer of `text`, cut in pieces of `size` characters. */
export function streamed(text: string, options: { size?: number; wait?: number } = {}): FakeAnswer {
  const size = options.size ?? 8;
  const steps: Step[] = [];
  for (let i = 0; i < text.length; i += size) {
    if (options.wait !== undefined && i > 0) steps.push({ wait: options.wait });
    steps.push({ text: text.slice(i, i + size) });
  }
  steps.push({ finish: 'stop' });
  steps.push({ usage: { prompt: 10, completion: Math.ceil(text.length / 4) } });
  return { steps };
}

export async function startFakeLlm(initial?: Script | readonly FakeAnswer[]): Promise<FakeLlm> {
  let script: Script = () => streamed('Hello from the fake model.');
  const requests: RecordedRequest[] = [];
  const waiters: Array<{ count: number; resolve: (r: RecordedRequest) => void }> = [];
  const sockets = new Set<Socket>();
  let created = 1_700_000_000;

  /** Requests before the current script was set: indexes count from there. */
  let base = 0;
  const setScript = (next: Script | readonly FakeAnswer[]): void => {
    base = requests.length;
    if (typeof next === 'function') script = next;
    else {
      const list = [...next];
      script = (_request, index) => list[Math.min(index, list.length - 1)]!;
    }
  };
  if (initial) setScript(initial);

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}` } }));
        return;
      }
      const record: RecordedRequest = {
        path: req.url,
        headers: req.headers,
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as RecordedRequest['body'],
        aborted: false,
        finished: false,
      };
      const index = requests.length - base;
      requests.push(record);
      for (let i = 0; i < waiters.length; i++)
        if (requests.length >= waiters[i]!.count) {
          waiters[i]!.resolve(record);
          waiters.splice(i--, 1);
        }
      res.on('close', () => {
        if (!record.finished) record.aborted = true;
      });
      void respond(script(record, index), record, res, ++created);
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    requests,
    script: setScript,
    waitForRequests(count, timeoutMs = 10_000) {
      if (requests.length >= count) return Promise.resolve(requests[count - 1]!);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out waiting for request ${count}`)),
          timeoutMs,
        );
        waiters.push({
          count,
          resolve: (r) => {
            clearTimeout(timer);
            resolve(r);
          },
        });
      });
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function respond(
  answer: FakeAnswer,
  record: RecordedRequest,
  res: http.ServerResponse,
  created: number,
) {
  if (answer.hang) return;
  if (answer.status !== undefined) {
    res.writeHead(answer.status, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({ error: { message: answer.errorMessage ?? 'scripted failure', type: 'server_error' } }),
    );
    record.finished = true;
    return;
  }
  const model = record.body.model;
  if (answer.json !== undefined) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: `cmpl-${created}`,
        object: 'chat.completion',
        created,
        model,
        choices: [{ index: 0, message: { role: 'assistant', content: answer.json }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 },
      }),
    );
    record.finished = true;
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const chunk = (delta: object, finish: string | null = null): string =>
    `data: ${JSON.stringify({
      id: `chatcmpl-${created}`,
      object: 'chat.completion.chunk',
      created,
      model,
      choices: [{ index: 0, delta, finish_reason: finish }],
    })}\n\n`;
  // Real servers open with the role.
  res.write(chunk({ role: 'assistant', content: '' }));
  for (const step of answer.steps ?? []) {
    if (res.destroyed) return;
    if ('text' in step) res.write(chunk({ content: step.text }));
    else if ('reasoning' in step) res.write(chunk({ reasoning_content: step.reasoning }));
    else if ('comment' in step) res.write(`: ${step.comment}\n\n`);
    else if ('wait' in step) await new Promise((resolve) => setTimeout(resolve, step.wait));
    else if ('gate' in step) await step.gate.catch(() => {});
    else if ('error' in step)
      res.write(`data: ${JSON.stringify({ error: { message: step.error, type: 'server_error' } })}\n\n`);
    else if ('finish' in step) res.write(chunk({}, step.finish));
    else if ('usage' in step)
      res.write(
        `data: ${JSON.stringify({
          id: `chatcmpl-${created}`,
          object: 'chat.completion.chunk',
          created,
          model,
          choices: [],
          usage: {
            prompt_tokens: step.usage.prompt,
            completion_tokens: step.usage.completion,
            total_tokens: step.usage.prompt + step.usage.completion,
          },
        })}\n\n`,
      );
    else if ('raw' in step) res.write(step.raw);
    else if ('cut' in step) {
      // What was written goes out first; then the connection ends in the middle of the body.
      await new Promise<void>((resolve) => res.write('', () => resolve()));
      res.socket?.end();
      return;
    }
  }
  if (res.destroyed) return;
  if (answer.done !== false) res.write('data: [DONE]\n\n');
  record.finished = true;
  res.end();
}
