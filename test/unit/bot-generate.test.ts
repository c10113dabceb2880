// One answer under four deadlines, with a scripted backend: which deadline applies when, that
// progress resets the silence timer, that /stop wins, and that backend errors keep their kind.

import { expect } from 'chai';
import { type Backend, BackendError, type BackendEvents } from '../../src/bot/backends/types.js';
import { GenerationError, generate } from '../../src/bot/generate.js';

const REQUEST = { model: 'm', messages: [{ role: 'user' as const, content: 'q' }], maxTokens: 10 };
const FAST = { connectMs: 40, firstTokenMs: 40, silenceMs: 40, totalMs: 400 };

type Script = (events: BackendEvents, signal: AbortSignal) => Promise<void>;

function backend(script: Script): Backend & { aborted: boolean } {
  const b = {
    kind: 'scripted',
    aborted: false,
    async complete(_request: unknown, events: BackendEvents, signal: AbortSignal) {
      signal.addEventListener('abort', () => {
        b.aborted = true;
      });
      await script(events, signal);
      return { finish: 'stop' as const, usage: undefined };
    },
    async close() {},
  };
  return b;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const forever = () => new Promise<void>(() => {});

async function failureOf(b: Backend, timeouts = FAST, stop?: AbortSignal): Promise<[string, string]> {
  try {
    await generate(b, REQUEST, timeouts, () => {}, stop);
  } catch (err) {
    if (err instanceof GenerationError) return [err.kind, err.partial];
    throw err;
  }
  throw new Error('expected a failure');
}

describe('generating an answer', () => {
  it('accumulates the text and reports each step', async () => {
    const seen: string[] = [];
    const result = await generate(
      backend(async (e) => {
        e.connected();
        e.reasoning('hmm');
        e.text('Hel');
        e.text('lo');
      }),
      REQUEST,
      FAST,
      (text) => seen.push(text),
    );
    expect(seen).to.deep.equal(['Hel', 'Hello']);
    expect(result.text).to.equal('Hello');
    expect(result.finish).to.equal('stop');
    expect(result.firstTextAt).to.be.a('number');
  });

  it('times out reaching the backend', async () => {
    const b = backend(forever);
    expect(await failureOf(b)).to.deep.equal(['timeout-connect', '']);
    expect(b.aborted).to.equal(true);
  });

  it('times out waiting for the first token once connected', async () => {
    expect(await failureOf(backend(async (e) => (e.connected(), forever())))).to.deep.equal([
      'timeout-first-token',
      '',
    ]);
  });

  it('reasoning counts as the first token and as progress', async () => {
    const result = await generate(
      backend(async (e) => {
        e.connected();
        for (let i = 0; i < 4; i++) {
          await sleep(20);
          e.reasoning('…');
        }
        e.text('ok');
      }),
      REQUEST,
      FAST,
      () => {},
    );
    expect(result.text).to.equal('ok');
  });

  it('times out on silence between chunks, keeping the partial answer', async () => {
    expect(
      await failureOf(backend(async (e) => (e.connected(), e.text('partial'), forever()))),
    ).to.deep.equal(['timeout-silence', 'partial']);
  });

  it('times out on the whole answer even while chunks keep coming', async () => {
    const b = backend(async (e, signal) => {
      e.connected();
      while (!signal.aborted) {
        e.text('.');
        await sleep(10);
      }
    });
    const [kind, partial] = await failureOf(b, { ...FAST, totalMs: 100 });
    expect(kind).to.equal('timeout-total');
    expect(partial.length).to.be.greaterThan(0);
  });

  it('stops on request, at once, even with a backend that ignores its signal', async () => {
    const controller = new AbortController();
    const pending = failureOf(
      backend(async (e) => (e.connected(), e.text('so far'), forever())),
      { ...FAST, silenceMs: 10_000 },
      controller.signal,
    );
    await sleep(5);
    controller.abort();
    expect(await pending).to.deep.equal(['stopped', 'so far']);
  });

  it('keeps the backend’s error kind', async () => {
    for (const code of ['unreachable', 'http-status', 'model-error', 'protocol', 'unavailable'] as const) {
      const b = backend(async () => {
        throw new BackendError(code, 'detail');
      });
      expect((await failureOf(b))[0]).to.equal(code);
    }
  });
});
