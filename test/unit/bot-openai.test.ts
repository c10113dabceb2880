// The chat-completions client against the fake model server (a real HTTP server on loopback):
// what is sent, and what is made of each kind of answer real servers give.

import { expect } from 'chai';
import { OpenAiBackend } from '../../src/bot/backends/openai.js';
import type { BackendError, BackendResult } from '../../src/bot/backends/types.js';
import { type FakeAnswer, type FakeLlm, startFakeLlm, streamed } from '../helpers/fake-llm.js';

const REQUEST = {
  model: 'test-model',
  messages: [
    { role: 'system' as const, content: 'Be brief.' },
    { role: 'user' as const, content: 'Hi' },
  ],
  maxTokens: 64,
};

interface Outcome {
  connected: number;
  text: string[];
  reasoning: string[];
  result?: BackendResult;
  error?: [string, string];
}

describe('OpenAI-compatible streaming client', () => {
  let llm: FakeLlm;
  let backend: OpenAiBackend;

  before(async () => {
    llm = await startFakeLlm();
    backend = new OpenAiBackend({
      baseUrl: llm.url,
      apiKey: 'sk-test',
      extraBody: { temperature: 0.25, max_tokens: 32 },
    });
  });
  after(async () => {
    await backend.close();
    await llm.stop();
  });

  async function run(
    answer: FakeAnswer,
    signal = new AbortController().signal,
    client = backend,
  ): Promise<Outcome> {
    llm.script([answer]);
    const out: Outcome = { connected: 0, text: [], reasoning: [] };
    try {
      out.result = await client.complete(
        REQUEST,
        {
          connected: () => out.connected++,
          text: (t) => out.text.push(t),
          reasoning: (t) => out.reasoning.push(t),
        },
        signal,
      );
    } catch (err) {
      out.error = [(err as BackendError).code, (err as Error).message];
    }
    return out;
  }

  it('posts the conversation with stream, usage, the API key and the extra body', async () => {
    await run(streamed('ok'));
    const sent = llm.requests.at(-1)!;
    expect(sent.path).to.equal('/v1/chat/completions');
    expect(sent.headers.authorization).to.equal('Bearer sk-test');
    expect(sent.body).to.deep.equal({
      max_tokens: 32,
      temperature: 0.25,
      model: 'test-model',
      messages: REQUEST.messages,
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('streams text, keeps reasoning apart, reads the usage chunk with empty choices', async () => {
    const out = await run({
      steps: [
        { comment: 'keep-alive' },
        { reasoning: 'Think' },
        { text: 'Hel' },
        { comment: 'keep-alive' },
        { text: 'lo' },
        { finish: 'stop' },
        { usage: { prompt: 12, completion: 2 } },
      ],
    });
    expect(out).to.deep.equal({
      connected: 1,
      text: ['Hel', 'lo'],
      reasoning: ['Think'],
      result: { finish: 'stop', usage: { promptTokens: 12, completionTokens: 2 } },
    });
  });

  it('events cut anywhere in the byte stream are read the same', async () => {
    const data = (content: string) =>
      `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\r\n\r\n`;
    const raw = data('é😀') + data('ok');
    const out = await run({ steps: [...raw].map((c) => ({ raw: c })) });
    expect(out.text).to.deep.equal(['é😀', 'ok']);
    expect(out.result!.finish).to.equal('stop');
  });

  const endings: ReadonlyArray<[string, FakeAnswer, string]> = [
    ['[DONE] after a finish reason', { steps: [{ text: 'a' }, { finish: 'stop' }] }, 'stop'],
    ['[DONE] without a finish reason', { steps: [{ text: 'a' }] }, 'stop'],
    ['the length limit', { steps: [{ text: 'a' }, { finish: 'length' }] }, 'length'],
    ['no [DONE] and no finish reason', { steps: [{ text: 'a' }], done: false }, 'truncated'],
    ['no [DONE] after a finish reason', { steps: [{ text: 'a' }, { finish: 'stop' }], done: false }, 'stop'],
    ['a connection cut mid-answer', { steps: [{ text: 'a' }, { cut: true }] }, 'truncated'],
  ];
  for (const [name, answer, finish] of endings)
    it(`ends with '${finish}' on ${name}`, async () => {
      const out = await run(answer);
      expect(out.error).to.equal(undefined);
      expect(out.text).to.deep.equal(['a']);
      expect(out.result!.finish).to.equal(finish);
    });

  const failures: ReadonlyArray<[string, FakeAnswer, [string, string]]> = [
    [
      'an error inside the stream',
      { steps: [{ text: 'a' }, { error: 'overloaded' }] },
      ['model-error', 'the backend reported: overloaded'],
    ],
    [
      'an SSE event named error',
      { steps: [{ raw: 'event: error\ndata: {"message":"bad"}\n\n' }] },
      ['model-error', 'the backend reported: bad'],
    ],
    [
      'an HTTP error status',
      { status: 401, errorMessage: 'invalid key' },
      ['http-status', 'HTTP status 401: invalid key'],
    ],
  ];
  for (const [name, answer, error] of failures)
    it(`fails with ${error[0]} on ${name}`, async () => {
      expect((await run(answer)).error).to.deep.equal(error);
    });

  it('skips lines that are not JSON', async () => {
    const out = await run({ steps: [{ raw: 'data: not json\n\n' }, { text: 'fine' }] });
    expect(out.text).to.deep.equal(['fine']);
  });

  it('takes a plain JSON completion from a server that ignores "stream"', async () => {
    const out = await run({ json: 'Whole answer.' });
    expect(out.text).to.deep.equal(['Whole answer.']);
    expect(out.result).to.deep.equal({ finish: 'stop', usage: { promptTokens: 7, completionTokens: 3 } });
  });

  it('reports an unreachable server', async () => {
    const gone = await startFakeLlm();
    await gone.stop();
    const client = new OpenAiBackend({ baseUrl: gone.url });
    const out = await run(streamed('never'), undefined, client);
    expect(out.error![0]).to.equal('unreachable');
    expect(out.error![1]).to.match(/^cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)$/);
    await client.close();
  });

  it('stops when the signal aborts, and the server sees the request end', async () => {
    const controller = new AbortController();
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    llm.script([{ steps: [{ text: 'a' }, { gate }, { text: 'b' }] }]);
    const pending = backend.complete(
      REQUEST,
      { connected: () => {}, text: () => controller.abort(), reasoning: () => {} },
      controller.signal,
    );
    const error = await pending.then(
      () => undefined,
      (err: BackendError) => err.code,
    );
    expect(error).to.equal('aborted');
    const request = llm.requests.at(-1)!;
    for (let i = 0; i < 100 && !request.aborted; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(request.aborted).to.equal(true);
    open();
  });

  it('reuses its connection for the next request', async () => {
    await run(streamed('one'));
    const out = await run(streamed('two'));
    expect(out.text.join('')).to.equal('two');
    expect(out.connected).to.equal(1);
  });
});
