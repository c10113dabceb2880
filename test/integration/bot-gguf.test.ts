// The GGUF backend kind against a tiny synthetic model the test writes itself: a two-layer
// llama-architecture network with random weights and a SentencePiece-style vocabulary, a few
// hundred kilobytes in the GGUF v3 format. Its output is gibberish, but node-llama-cpp loads and
// runs it, so tokens stream through the whole assistant like a real model's.
//
// The output layer gives every control and byte token a zero row, so that under greedy decoding
// (node-llama-cpp's default) a word always wins over end-of-text: answers always run to the
// max_tokens limit, which makes their end predictable.
//
// node-llama-cpp is an optional dependency: without it the suite skips, saying so.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { xml } from '@xmpp/client';
import { expect } from 'chai';
import { importNodeLlamaCpp, openGgufBackend } from '../../src/bot/backends/gguf.js';
import { type BotHandle, runBot } from '../../src/bot/index.js';
import { loadConfig } from '../../src/config/load.js';
import { NS } from '../../src/xml/ns.js';
import { connect } from '../helpers/client.js';
import { upcoming } from '../helpers/im.js';
import { prosodyMissing, startProsody, type TestProsody } from '../helpers/prosody.js';

// ---- A GGUF v3 writer (ggml's gguf.md: header, key/value metadata, tensor infos, aligned data) ----

const GGUF_MAGIC = 0x46554747; // "GGUF", little-endian
const ALIGNMENT = 32;
enum ValueType {
  U32 = 4,
  I32 = 5,
  F32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
}
const GGML_F32 = 0;

type Metadata =
  | { type: ValueType.U32 | ValueType.I32 | ValueType.F32; value: number }
  | { type: ValueType.BOOL; value: boolean }
  | { type: ValueType.STRING; value: string }
  | { type: ValueType.ARRAY; of: ValueType.STRING; value: string[] }
  | { type: ValueType.ARRAY; of: ValueType.F32 | ValueType.I32; value: number[] };

class ByteWriter {
  readonly parts: Buffer[] = [];
  length = 0;

  bytes(b: Buffer): void {
    this.parts.push(b);
    this.length += b.length;
  }
  u32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.bytes(b);
  }
  i32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    this.bytes(b);
  }
  u64(v: number): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.bytes(b);
  }
  f32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    this.bytes(b);
  }
  string(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.bytes(b);
  }
  padTo(alignment: number): void {
    const pad = (alignment - (this.length % alignment)) % alignment;
    if (pad > 0) this.bytes(Buffer.alloc(pad));
  }
}

function writeValue(w: ByteWriter, m: Metadata): void {
  switch (m.type) {
    case ValueType.U32:
      w.u32(m.value);
      return;
    case ValueType.I32:
      w.i32(m.value);
      return;
    case ValueType.F32:
      w.f32(m.value);
      return;
    case ValueType.BOOL:
      w.bytes(Buffer.from([m.value ? 1 : 0]));
      return;
    case ValueType.STRING:
      w.string(m.value);
      return;
    case ValueType.ARRAY:
      w.u32(m.of);
      w.u64(m.value.length);
      for (const item of m.value)
        if (m.of === ValueType.STRING) w.string(item as string);
        else if (m.of === ValueType.F32) w.f32(item as number);
        else w.i32(item as number);
  }
}

/** Writes a tiny random llama model; returns its path. */
function writeTinyLlama(file: string): string {
  let seed = 20250101;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [2, 3, 3]; // unknown, control, control
  for (let i = 0; i < 256; i++) {
    tokens.push(`<0x${i.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6); // byte
  }
  const firstWord = tokens.length;
  const words = [
    '▁the',
    '▁a',
    '▁bird',
    '▁sings',
    '▁warbler',
    '▁song',
    '▁tree',
    '▁sky',
    '▁and',
    '▁of',
    '.',
    ',',
    '▁',
  ];
  for (const c of 'abcdefghijklmnopqrstuvwxyz') words.push(c);
  for (const word of words) {
    tokens.push(word);
    types.push(1); // normal
  }
  const scores = tokens.map((_, i) => (i < firstWord ? 0 : -(i - firstWord)));
  const nVocab = tokens.length;
  const nEmbd = 64;
  const nHead = 4;
  const nLayer = 2;
  const nFf = 128;
  const metadata: Array<[string, Metadata]> = [
    ['general.architecture', { type: ValueType.STRING, value: 'llama' }],
    ['general.name', { type: ValueType.STRING, value: 'warbler-test-tiny' }],
    ['general.alignment', { type: ValueType.U32, value: ALIGNMENT }],
    ['llama.context_length', { type: ValueType.U32, value: 512 }],
    ['llama.embedding_length', { type: ValueType.U32, value: nEmbd }],
    ['llama.block_count', { type: ValueType.U32, value: nLayer }],
    ['llama.feed_forward_length', { type: ValueType.U32, value: nFf }],
    ['llama.attention.head_count', { type: ValueType.U32, value: nHead }],
    ['llama.attention.head_count_kv', { type: ValueType.U32, value: nHead }],
    ['llama.rope.dimension_count', { type: ValueType.U32, value: nEmbd / nHead }],
    ['llama.attention.layer_norm_rms_epsilon', { type: ValueType.F32, value: 1e-5 }],
    ['llama.vocab_size', { type: ValueType.U32, value: nVocab }],
    ['tokenizer.ggml.model', { type: ValueType.STRING, value: 'llama' }],
    ['tokenizer.ggml.tokens', { type: ValueType.ARRAY, of: ValueType.STRING, value: tokens }],
    ['tokenizer.ggml.scores', { type: ValueType.ARRAY, of: ValueType.F32, value: scores }],
    ['tokenizer.ggml.token_type', { type: ValueType.ARRAY, of: ValueType.I32, value: types }],
    ['tokenizer.ggml.bos_token_id', { type: ValueType.U32, value: 1 }],
    ['tokenizer.ggml.eos_token_id', { type: ValueType.U32, value: 2 }],
    ['tokenizer.ggml.unknown_token_id', { type: ValueType.U32, value: 0 }],
    ['tokenizer.ggml.add_bos_token', { type: ValueType.BOOL, value: true }],
  ];
  const tensors: Array<{ name: string; dims: number[]; data: Float32Array }> = [];
  const tensor = (name: string, dims: number[], fill: (i: number) => number): void => {
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = fill(i);
    tensors.push({ name, dims, data });
  };
  const noise = (scale: number) => (): number => (random() * 2 - 1) * scale;
  // ggml dimensions: the first is the innermost (a row of an [n_embd, n_vocab] matrix has n_embd values).
  tensor('token_embd.weight', [nEmbd, nVocab], noise(0.5));
  for (let l = 0; l < nLayer; l++) {
    tensor(`blk.${l}.attn_norm.weight`, [nEmbd], () => 1);
    for (const part of ['q', 'k', 'v', 'output'])
      tensor(`blk.${l}.attn_${part}.weight`, [nEmbd, nEmbd], noise(0.1));
    tensor(`blk.${l}.ffn_norm.weight`, [nEmbd], () => 1);
    tensor(`blk.${l}.ffn_gate.weight`, [nEmbd, nFf], noise(0.1));
    tensor(`blk.${l}.ffn_up.weight`, [nEmbd, nFf], noise(0.1));
    tensor(`blk.${l}.ffn_down.weight`, [nFf, nEmbd], noise(0.1));
  }
  tensor('output_norm.weight', [nEmbd], () => 1);
  tensor('output.weight', [nEmbd, nVocab], (i) =>
    Math.floor(i / nEmbd) >= firstWord ? random() * 2 - 1 : 0,
  );

  const w = new ByteWriter();
  w.u32(GGUF_MAGIC);
  w.u32(3);
  w.u64(tensors.length);
  w.u64(metadata.length);
  for (const [key, value] of metadata) {
    w.string(key);
    w.u32(value.type);
    writeValue(w, value);
  }
  let offset = 0;
  for (const t of tensors) {
    w.string(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(GGML_F32);
    w.u64(offset);
    offset += Math.ceil(t.data.byteLength / ALIGNMENT) * ALIGNMENT;
  }
  w.padTo(ALIGNMENT);
  for (const t of tensors) {
    w.bytes(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    w.padTo(ALIGNMENT);
  }
  writeFileSync(file, Buffer.concat(w.parts));
  return file;
}

// ---- The tests ----

describe('the GGUF backend (node-llama-cpp) on a synthetic model', function () {
  this.timeout(60_000);
  let dir: string;
  let modelPath: string;

  before(async function () {
    try {
      await importNodeLlamaCpp();
    } catch (err) {
      process.stderr.write(`      skipped: ${(err as Error).message}\n`);
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'warbler-gguf-'));
    modelPath = writeTinyLlama(join(dir, 'tiny.gguf'));
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('streams tokens from the model, up to the length limit, counting them', async () => {
    const backend = await openGgufBackend({
      modelPath,
      threads: 1,
      contextSize: 512,
      gpuLayers: 0,
      sequences: 2,
    });
    try {
      const pieces: string[] = [];
      let connected = 0;
      const result = await backend.complete(
        {
          model: 'tiny',
          maxTokens: 8,
          messages: [
            { role: 'system', content: 'Be brief.' },
            { role: 'user', content: 'Sing, bird.' },
          ],
        },
        { connected: () => connected++, text: (t) => pieces.push(t), reasoning: () => {} },
        new AbortController().signal,
      );
      expect(connected).to.equal(1);
      expect(pieces.length).to.be.greaterThan(1);
      expect(pieces.join('').length).to.be.greaterThan(0);
      expect(result.finish).to.equal('length');
      expect(result.usage?.completionTokens).to.equal(8);
    } finally {
      await backend.close();
    }
  });

  it('stops when its signal aborts', async () => {
    const backend = await openGgufBackend({
      modelPath,
      threads: 1,
      contextSize: 512,
      gpuLayers: 0,
      sequences: 1,
    });
    try {
      const controller = new AbortController();
      const outcome = await backend
        .complete(
          { model: 'tiny', maxTokens: 400, messages: [{ role: 'user', content: 'Go on and on.' }] },
          { connected: () => {}, text: () => controller.abort(), reasoning: () => {} },
          controller.signal,
        )
        .then(
          () => 'resolved',
          (err: { code?: string }) => err.code,
        );
      expect(outcome).to.equal('aborted');
    } finally {
      await backend.close();
    }
  });

  describe('as the assistant’s backend, against Prosody', () => {
    let prosody: TestProsody;
    let bot: BotHandle | undefined;

    before(async function () {
      const missing = prosodyMissing();
      if (missing !== undefined) {
        process.stderr.write(`      skipped: ${missing}\n`);
        this.skip();
      }
      prosody = await startProsody();
      prosody.addUser('alice', 'alice-pw');
    });

    after(async () => {
      await bot?.stop();
      await prosody?.stop();
    });

    it('answers a chat message with streamed tokens from the model file', async () => {
      const toml = [
        '[bot]',
        `server_port = ${prosody.componentPort}`,
        'correction_interval = 200',
        '[bot.backend]',
        'kind = "gguf"',
        `gguf_file = "${modelPath}"`,
        'model = "tiny"',
        'threads = 1',
        'context_size = 512',
        'max_answer_tokens = 16',
        '[bot.memory]',
        'persist = false',
      ].join('\n');
      const config = loadConfig({ text: toml }).bot;
      bot = await runBot({ config, serverDomain: 'localhost', dataDir: dir, secret: prosody.secret });
      const alice = await connect({
        port: prosody.c2sPort,
        domain: 'localhost',
        username: 'alice',
        password: 'alice-pw',
        mechanism: 'PLAIN',
      });
      try {
        const end = upcoming(alice)(
          (el) =>
            el.name === 'message' &&
            el.attrs.from === bot!.jid &&
            el.getChild('active', NS.CHATSTATES) !== undefined,
        );
        await alice.send(
          xml('message', { to: bot.jid, type: 'chat', id: 'g1' }, xml('body', {}, 'Sing, bird.')),
        );
        const final = await end;
        const body = final.getChildText('body') ?? '';
        expect(body).to.match(/\n\n\(The answer reached the length limit of 16 tokens\.\)$/);
        expect(body.length).to.be.greaterThan(
          '\n\n(The answer reached the length limit of 16 tokens.)'.length,
        );
      } finally {
        await alice.stop().catch(() => {});
      }
    });
  });
});
