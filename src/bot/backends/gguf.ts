// A GGUF model file run in-process by node-llama-cpp (pinned to 3.21.1), for machines without a
// model server. node-llama-cpp is an optional dependency: it is loaded with a dynamic import
// only when this backend is configured, and its absence is reported with what to install.
//
// Only the small part of its API used here is typed (LlamaModule below), so Warbler builds
// without the package. The thread count is always explicit: the library's default (every
// core) oversubscribes small machines that also run the XMPP server. Each answer takes one
// sequence of a shared context, so as many answers as there are sequences run at once.

import { availableParallelism } from 'node:os';
import {
  type Backend,
  BackendError,
  type BackendEvents,
  type BackendRequest,
  type BackendResult,
} from './types.js';

/** The package and version this backend is written against. */
export const NODE_LLAMA_CPP = 'node-llama-cpp';
export const NODE_LLAMA_CPP_VERSION = '3.21.1';

// ---- The subset of node-llama-cpp's API in use ----

export type LlamaHistoryItem =
  | { type: 'system'; text: string }
  | { type: 'user'; text: string }
  | { type: 'model'; response: string[] };

export interface LlamaSequence {
  readonly tokenMeter: { readonly usedInputTokens: number; readonly usedOutputTokens: number };
  dispose(): void;
}

export interface LlamaContext {
  getSequence(): LlamaSequence;
  dispose(): Promise<void>;
}

export interface LlamaModel {
  createContext(options: { contextSize: number; sequences: number; threads: number }): Promise<LlamaContext>;
  dispose(): Promise<void>;
}

export interface Llama {
  loadModel(options: { modelPath: string; gpuLayers: number }): Promise<LlamaModel>;
  dispose(): Promise<void>;
}

export interface LlamaChatInstance {
  generateResponse(
    history: LlamaHistoryItem[],
    options: { onTextChunk: (text: string) => void; signal: AbortSignal; maxTokens: number },
  ): Promise<{ response: string; metadata: { stopReason: string } }>;
  dispose(options?: { disposeSequence?: boolean }): void;
}

export interface LlamaModule {
  getLlama(options: {
    gpu: false | 'auto';
    build: 'never';
    maxThreads: number;
    logLevel: 'error' | 'warn';
  }): Promise<Llama>;
  LlamaChat: new (options: { contextSequence: LlamaSequence }) => LlamaChatInstance;
}

// ---- The backend ----

export interface GgufOptions {
  readonly modelPath: string;
  /** 0: half the CPUs, at least one. */
  readonly threads: number;
  readonly contextSize: number;
  readonly gpuLayers: number;
  /** Answers generated at once (one sequence each). */
  readonly sequences: number;
}

/** The thread count actually used for `configured` (0 = automatic). */
export function threadCount(configured: number, cpus = availableParallelism()): number {
  return configured > 0 ? configured : Math.max(1, Math.floor(cpus / 2));
}

/** Imports node-llama-cpp, or explains how to install it. */
export async function importNodeLlamaCpp(): Promise<LlamaModule> {
  // A variable specifier keeps TypeScript from resolving the optional package at build time.
  const specifier: string = NODE_LLAMA_CPP;
  try {
    return (await import(specifier)) as LlamaModule;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND')
      throw new BackendError(
        'unavailable',
        `the gguf backend needs the optional package ${NODE_LLAMA_CPP}; install it beside Warbler with ` +
          `npm install ${NODE_LLAMA_CPP}@${NODE_LLAMA_CPP_VERSION}`,
      );
    throw new BackendError('unavailable', `cannot load ${NODE_LLAMA_CPP}: ${(err as Error).message}`);
  }
}

/** Loads the model (seconds for a large file) and returns the backend. */
export async function openGgufBackend(
  options: GgufOptions,
  load: () => Promise<LlamaModule> = importNodeLlamaCpp,
): Promise<Backend> {
  const lib = await load();
  const threads = threadCount(options.threads);
  let llama: Llama;
  try {
    llama = await lib.getLlama({
      gpu: options.gpuLayers > 0 ? 'auto' : false,
      // Never compile llama.cpp at run time: use the prebuilt binary or fail with a clear message.
      build: 'never',
      maxThreads: threads,
      logLevel: 'error',
    });
  } catch (err) {
    throw new BackendError(
      'unavailable',
      `${NODE_LLAMA_CPP} cannot run on this machine: ${(err as Error).message}`,
    );
  }
  let model: LlamaModel;
  let context: LlamaContext;
  try {
    model = await llama.loadModel({ modelPath: options.modelPath, gpuLayers: options.gpuLayers });
  } catch (err) {
    await llama.dispose().catch(() => {});
    throw new BackendError(
      'unavailable',
      `cannot load the model ${options.modelPath}: ${(err as Error).message}`,
    );
  }
  try {
    context = await model.createContext({
      contextSize: options.contextSize,
      sequences: options.sequences,
      threads,
    });
  } catch (err) {
    await model.dispose().catch(() => {});
    await llama.dispose().catch(() => {});
    throw new BackendError('unavailable', `cannot create a context for the model: ${(err as Error).message}`);
  }
  return new GgufBackend(lib, llama, model, context);
}

class GgufBackend implements Backend {
  readonly kind = 'gguf';

  constructor(
    private readonly lib: LlamaModule,
    private readonly llama: Llama,
    private readonly model: LlamaModel,
    private readonly context: LlamaContext,
  ) {}

  async complete(
    request: BackendRequest,
    events: BackendEvents,
    signal: AbortSignal,
  ): Promise<BackendResult> {
    if (signal.aborted) throw new BackendError('aborted', 'stopped before the answer began');
    let sequence: LlamaSequence;
    try {
      sequence = this.context.getSequence();
    } catch (err) {
      throw new BackendError(
        'unavailable',
        `no free sequence in the model's context: ${(err as Error).message}`,
      );
    }
    events.connected();
    const chat = new this.lib.LlamaChat({ contextSequence: sequence });
    const before = {
      input: sequence.tokenMeter.usedInputTokens,
      output: sequence.tokenMeter.usedOutputTokens,
    };
    try {
      const result = await chat.generateResponse(toHistory(request), {
        onTextChunk: (text) => {
          if (text !== '') events.text(text);
        },
        signal,
        maxTokens: request.maxTokens,
      });
      if (signal.aborted) throw new BackendError('aborted', 'stopped');
      const stop = result.metadata.stopReason;
      return {
        finish: stop === 'maxTokens' ? 'length' : stop === 'abort' ? 'truncated' : 'stop',
        usage: {
          promptTokens: sequence.tokenMeter.usedInputTokens - before.input,
          completionTokens: sequence.tokenMeter.usedOutputTokens - before.output,
        },
      };
    } catch (err) {
      if (err instanceof BackendError) throw err;
      if (signal.aborted) throw new BackendError('aborted', 'stopped');
      throw new BackendError('model-error', (err as Error).message);
    } finally {
      chat.dispose({ disposeSequence: false });
      sequence.dispose();
    }
  }

  async close(): Promise<void> {
    await this.context.dispose().catch(() => {});
    await this.model.dispose().catch(() => {});
    await this.llama.dispose().catch(() => {});
  }
}

/** Chat-completions messages as node-llama-cpp's history, ending with the model's (empty) turn to write. */
export function toHistory(request: BackendRequest): LlamaHistoryItem[] {
  const history: LlamaHistoryItem[] = [];
  for (const m of request.messages) {
    if (m.role === 'assistant') history.push({ type: 'model', response: [m.content] });
    else history.push({ type: m.role, text: m.content });
  }
  history.push({ type: 'model', response: [] });
  return history;
}
