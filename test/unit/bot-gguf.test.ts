// The GGUF backend's adapter to node-llama-cpp, with a stand-in for the library: the options it
// is given (the thread count always explicit, no build at run time), the history it is handed,
// how its results and failures map, and the message when the optional package is missing.

import { expect } from 'chai';
import {
  importNodeLlamaCpp,
  type LlamaHistoryItem,
  type LlamaModule,
  openGgufBackend,
  threadCount,
  toHistory,
} from '../../src/bot/backends/gguf.js';
import type { BackendError } from '../../src/bot/backends/types.js';

interface Calls {
  getLlama?: unknown;
  loadModel?: unknown;
  createContext?: unknown;
  history?: LlamaHistoryItem[];
  maxTokens?: number;
  disposed: string[];
}

function fakeLibrary(behaviour: {
  chunks?: string[];
  stopReason?: string;
  fail?: Error;
  loadFails?: Error;
}): { lib: LlamaModule; calls: Calls } {
  const calls: Calls = { disposed: [] };
  let input = 0;
  let output = 0;
  const sequence = {
    get tokenMeter() {
      return { usedInputTokens: input, usedOutputTokens: output };
    },
    dispose: () => calls.disposed.push('sequence'),
  };
  const lib: LlamaModule = {
    async getLlama(options) {
      calls.getLlama = options;
      return {
        async loadModel(o) {
          calls.loadModel = o;
          if (behaviour.loadFails) throw behaviour.loadFails;
          return {
            async createContext(c) {
              calls.createContext = c;
              return {
                getSequence: () => sequence,
                dispose: async () => void calls.disposed.push('context'),
              };
            },
            dispose: async () => void calls.disposed.push('model'),
          };
        },
        dispose: async () => void calls.disposed.push('llama'),
      };
    },
    LlamaChat: class {
      async generateResponse(
        history: LlamaHistoryItem[],
        options: { onTextChunk: (t: string) => void; signal: AbortSignal; maxTokens: number },
      ) {
        calls.history = history;
        calls.maxTokens = options.maxTokens;
        if (behaviour.fail) throw behaviour.fail;
        input += 11;
        for (const chunk of behaviour.chunks ?? []) {
          output++;
          options.onTextChunk(chunk);
        }
        return {
          response: (behaviour.chunks ?? []).join(''),
          metadata: { stopReason: behaviour.stopReason ?? 'eogToken' },
        };
      }
      dispose() {
        calls.disposed.push('chat');
      }
    },
  };
  return { lib, calls };
}

const OPTIONS = { modelPath: '/models/m.gguf', threads: 3, contextSize: 2048, gpuLayers: 0, sequences: 4 };
const REQUEST = {
  model: 'm',
  maxTokens: 99,
  messages: [
    { role: 'system' as const, content: 'S' },
    { role: 'user' as const, content: 'U1' },
    { role: 'assistant' as const, content: 'A1' },
    { role: 'user' as const, content: 'U2' },
  ],
};

describe('GGUF backend adapter', () => {
  it('passes an explicit thread count, CPU only, no build at run time', async () => {
    const { lib, calls } = fakeLibrary({});
    const backend = await openGgufBackend(OPTIONS, async () => lib);
    expect(calls.getLlama).to.deep.equal({ gpu: false, build: 'never', maxThreads: 3, logLevel: 'error' });
    expect(calls.loadModel).to.deep.equal({ modelPath: '/models/m.gguf', gpuLayers: 0 });
    expect(calls.createContext).to.deep.equal({ contextSize: 2048, sequences: 4, threads: 3 });
    await backend.close();
    expect(calls.disposed).to.deep.equal(['context', 'model', 'llama']);
  });

  it('0 threads means half the CPUs, at least one', () => {
    expect(threadCount(0, 8)).to.equal(4);
    expect(threadCount(0, 1)).to.equal(1);
    expect(threadCount(6, 2)).to.equal(6);
  });

  it('hands the conversation over as a history ending with the model’s turn', () => {
    expect(toHistory(REQUEST)).to.deep.equal([
      { type: 'system', text: 'S' },
      { type: 'user', text: 'U1' },
      { type: 'model', response: ['A1'] },
      { type: 'user', text: 'U2' },
      { type: 'model', response: [] },
    ]);
  });

  const stops: ReadonlyArray<[string, string]> = [
    ['eogToken', 'stop'],
    ['stopGenerationTrigger', 'stop'],
    ['maxTokens', 'length'],
  ];
  for (const [stopReason, finish] of stops)
    it(`streams the text and maps stop reason ${stopReason} to '${finish}', with token counts`, async () => {
      const { lib, calls } = fakeLibrary({ chunks: ['Hel', '', 'lo'], stopReason });
      const backend = await openGgufBackend(OPTIONS, async () => lib);
      const text: string[] = [];
      let connected = 0;
      const result = await backend.complete(
        REQUEST,
        { connected: () => connected++, text: (t) => text.push(t), reasoning: () => {} },
        new AbortController().signal,
      );
      expect(connected).to.equal(1);
      expect(text).to.deep.equal(['Hel', 'lo']);
      expect(result).to.deep.equal({ finish, usage: { promptTokens: 11, completionTokens: 3 } });
      expect(calls.maxTokens).to.equal(99);
      expect(calls.disposed).to.deep.equal(['chat', 'sequence']);
    });

  it('reports an abort as aborted and a library failure as a model error', async () => {
    const aborted = fakeLibrary({ fail: new Error('AbortError') });
    const controller = new AbortController();
    controller.abort();
    const backend = await openGgufBackend(OPTIONS, async () => aborted.lib);
    const events = { connected: () => {}, text: () => {}, reasoning: () => {} };
    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (err: BackendError) => err.code,
      );
    expect(await code(backend.complete(REQUEST, events, controller.signal))).to.equal('aborted');
    const failing = fakeLibrary({ fail: new Error('ggml failure') });
    const other = await openGgufBackend(OPTIONS, async () => failing.lib);
    expect(await code(other.complete(REQUEST, events, new AbortController().signal))).to.equal('model-error');
  });

  it('says which model could not be loaded', async () => {
    const { lib, calls } = fakeLibrary({ loadFails: new Error('invalid magic') });
    const error = await openGgufBackend(OPTIONS, async () => lib).then(
      () => undefined,
      (err: BackendError) => err,
    );
    expect(error?.code).to.equal('unavailable');
    expect(error?.message).to.equal('cannot load the model /models/m.gguf: invalid magic');
    expect(calls.disposed).to.deep.equal(['llama']);
  });

  it('explains how to install node-llama-cpp when it is missing', async () => {
    const error = await importNodeLlamaCpp().then(
      () => undefined,
      (err: BackendError) => err,
    );
    // Installed (the optional dependency is present): nothing to explain.
    if (error === undefined) return;
    expect(error.code).to.equal('unavailable');
    expect(error.message).to.equal(
      'the gguf backend needs the optional package node-llama-cpp; install it beside Warbler with npm install node-llama-cpp@3.21.1',
    );
  });
});
