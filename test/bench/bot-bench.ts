// The AI assistant's overhead, measured without any XMPP server in the way: this script plays the
// server's side of XEP-0114 itself (a minimal accepting component port) and runs the fake model
// server (test/helpers/fake-llm.ts), while the assistant runs in a child process of its own, as
// `warbler bot` would. One JSON line per figure on stdout; progress on stderr. Not part of
// `npm test`.
//
//   npm run build && node dist/test/bench/bot-bench.js [--samples 200] [--conversations 100]
//   BOT_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" node dist/test/bench/bot-bench.js
//
// Figures:
//   ttft_added_ms   time to first token through the assistant (a chat message in → the first
//                   message with text out) minus the time to first token calling the fake model
//                   directly with the same streaming client; medians (and p90) of `samples`
//                   sequential questions, each from its own user, after a warm-up. Goal: ≤ 10 ms.
//   concurrent      `conversations` users asking at the same moment, each answer streamed in
//                   `chunks` pieces `chunk-gap` ms apart: how many were answered, the wall time,
//                   the assistant's CPU time per answer and its resident memory before and after.

import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { OpenAiBackend } from '../../src/bot/backends/openai.js';
import { handshakeDigest } from '../../src/bot/component.js';
import { runBot } from '../../src/bot/index.js';
import { loadConfig } from '../../src/config/load.js';
import type { Element } from '../../src/xml/element.js';
import { StreamParser } from '../../src/xml/parser.js';
import { type FakeAnswer, type Step, startFakeLlm } from '../helpers/fake-llm.js';
import { round, Samples } from './stats.js';

const DOMAIN = 'localhost';
const COMPONENT = 'ai.localhost';
const BOT = `assistant@${COMPONENT}`;

// ---- The child: the assistant itself ----

interface ChildStart {
  readonly toml: string;
  readonly dataDir: string;
  readonly secret: string;
}

type ChildReport =
  | { type: 'ready' }
  | { type: 'usage'; cpuMs: number; rssBytes: number }
  | { type: 'failed'; error: string };

async function child(): Promise<void> {
  const send = (report: ChildReport): void => {
    process.send!(report);
  };
  let stop: (() => Promise<void>) | undefined;
  process.on('message', async (message: { type: string } & Partial<ChildStart>) => {
    if (message.type === 'start') {
      try {
        const config = loadConfig({ text: message.toml! }).bot;
        const handle = await runBot({
          config,
          serverDomain: DOMAIN,
          dataDir: message.dataDir!,
          secret: message.secret!,
        });
        stop = () => handle.stop();
        send({ type: 'ready' });
      } catch (err) {
        send({ type: 'failed', error: (err as Error).message });
      }
    } else if (message.type === 'usage') {
      const cpu = process.cpuUsage();
      send({ type: 'usage', cpuMs: (cpu.user + cpu.system) / 1000, rssBytes: process.memoryUsage().rss });
    } else if (message.type === 'stop') {
      await stop?.();
      process.exit(0);
    }
  });
}

// ---- The parent: server side, users, model, measurements ----

interface Harness {
  readonly port: number;
  /** Resolves once the assistant has shaken hands. */
  readonly online: Promise<void>;
  send(xml: string): void;
  /** Calls `listener` for every stanza the assistant sends. */
  onStanza(listener: (el: Element) => void): void;
  close(): Promise<void>;
}

/** The accepting side of XEP-0114, just enough for one component. */
async function startHarness(secret: string): Promise<Harness> {
  const listeners: Array<(el: Element) => void> = [];
  let socket: net.Socket | undefined;
  let markOnline!: () => void;
  const online = new Promise<void>((resolve) => (markOnline = resolve));
  const streamId = randomBytes(8).toString('hex');
  const server = net.createServer((s) => {
    socket = s;
    s.setNoDelay(true);
    let ready = false;
    const parser = new StreamParser(
      {
        streamStart: () => {
          s.write(
            `<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' from='${COMPONENT}' id='${streamId}'>`,
          );
        },
        stanza: (el) => {
          if (!ready) {
            if (el.localName === 'handshake' && el.text === handshakeDigest(streamId, secret)) {
              ready = true;
              s.write('<handshake/>');
              markOnline();
            } else s.destroy();
            return;
          }
          for (const listener of listeners) listener(el);
        },
        streamEnd: () => s.end('</stream:stream>'),
        error: () => s.destroy(),
      },
      { maxStanzaBytes: 1 << 22, maxDepth: 64 },
    );
    s.on('data', (chunk: Buffer) => parser.write(chunk));
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    online,
    send: (xml) => socket?.write(xml),
    onStanza: (listener) => listeners.push(listener),
    close: async () => {
      socket?.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function request(child: ChildProcess, type: string, extra: object = {}): Promise<ChildReport> {
  return new Promise((resolve) => {
    child.once('message', (report: ChildReport) => resolve(report));
    child.send({ type, ...extra });
  });
}

function answerSteps(chunks: number, gapMs: number): FakeAnswer {
  const steps: Step[] = [];
  for (let i = 0; i < chunks; i++) {
    if (i > 0 && gapMs > 0) steps.push({ wait: gapMs });
    steps.push({ text: i === 0 ? 'Warblers' : ' sing' });
  }
  steps.push({ finish: 'stop' }, { usage: { prompt: 20, completion: chunks } });
  return { steps };
}

async function parent(): Promise<void> {
  const { values: opts } = parseArgs({
    options: {
      samples: { type: 'string', default: '200' },
      warmup: { type: 'string', default: '20' },
      conversations: { type: 'string', default: '100' },
      chunks: { type: 'string', default: '20' },
      'chunk-gap': { type: 'string', default: '5' },
    },
  });
  const samples = Number(opts.samples);
  const warmup = Number(opts.warmup);
  const conversations = Number(opts.conversations);
  const chunks = Number(opts.chunks);
  const gap = Number(opts['chunk-gap']);
  const progress = (line: string) => process.stderr.write(`bot-bench: ${line}\n`);

  const dir = mkdtempSync(join(tmpdir(), 'warbler-bot-bench-'));
  const secret = randomBytes(16).toString('hex');
  const llm = await startFakeLlm([answerSteps(2, 0)]);
  const harness = await startHarness(secret);
  const toml = [
    '[bot]',
    `server_port = ${harness.port}`,
    '[bot.backend]',
    `base_url = "${llm.url}"`,
    'model = "bench"',
    '[bot.limits]',
    `concurrency = ${Math.max(conversations, 1)}`,
    'user_per_minute = 100000',
    'user_daily_tokens = 0',
    '[bot.memory]',
    `database = "${join(dir, 'bot.sqlite')}"`,
  ].join('\n');
  // BOT_BENCH_NODE_ARGS: options for the assistant's process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const execArgv = process.env.BOT_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const bot = fork(fileURLToPath(import.meta.url), ['--child'], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv,
  });
  const started = await request(bot, 'start', { toml, dataDir: dir, secret } satisfies ChildStart);
  if (started.type !== 'ready') throw new Error(`the assistant did not start: ${JSON.stringify(started)}`);
  await harness.online;

  // Who is waiting for what: the first text and the end (<active/>) of each user's answer.
  const firstText = new Map<string, () => void>();
  const finished = new Map<string, () => void>();
  harness.onStanza((el) => {
    if (el.name !== 'message') return;
    const to = el.attrs.to ?? '';
    const user = to.slice(0, to.indexOf('/'));
    if (el.getChild('body') !== undefined) {
      const resolve = firstText.get(user);
      if (resolve) {
        firstText.delete(user);
        resolve();
      }
    }
    if (el.getChild('active') !== undefined) {
      const resolve = finished.get(user);
      if (resolve) {
        finished.delete(user);
        resolve();
      }
    }
  });
  let messageId = 0;
  const ask = (user: string): { first: Promise<void>; done: Promise<void> } => {
    const first = new Promise<void>((resolve) => firstText.set(user, resolve));
    const done = new Promise<void>((resolve) => finished.set(user, resolve));
    harness.send(
      `<message from='${user}/bench' to='${BOT}' type='chat' id='b${++messageId}'><body>How do warblers sing?</body></message>`,
    );
    return { first, done };
  };

  // ---- Time to first token ----
  progress(
    `time to first token: ${warmup} warm-up + ${samples} questions, directly and through the assistant`,
  );
  const direct = new Samples();
  const client = new OpenAiBackend({ baseUrl: llm.url });
  for (let i = 0; i < warmup + samples; i++) {
    const start = performance.now();
    let first = 0;
    await client.complete(
      { model: 'bench', messages: [{ role: 'user', content: 'How do warblers sing?' }], maxTokens: 64 },
      {
        connected: () => {},
        text: () => {
          if (first === 0) first = performance.now();
        },
        reasoning: () => {},
      },
      new AbortController().signal,
    );
    if (i >= warmup) direct.add(first - start);
  }
  await client.close();
  const viaBot = new Samples();
  for (let i = 0; i < warmup + samples; i++) {
    const start = performance.now();
    const { first, done } = ask(`ttft${i}@${DOMAIN}`);
    await first;
    const elapsed = performance.now() - start;
    await done;
    if (i >= warmup) viaBot.add(elapsed);
  }
  const [directP50, directP90] = direct.percentiles(50, 90);
  const [botP50, botP90] = viaBot.percentiles(50, 90);
  const added = round(botP50! - directP50!, 2);
  console.log(
    JSON.stringify({
      bench: 'bot',
      figure: 'ttft_added_ms',
      value: added,
      goal_ms: 10,
      met: added <= 10,
      via_bot_p50_ms: botP50,
      via_bot_p90_ms: botP90,
      direct_p50_ms: directP50,
      direct_p90_ms: directP90,
      samples,
    }),
  );

  // ---- Simultaneous conversations ----
  progress(`${conversations} simultaneous conversations, ${chunks} chunks ${gap} ms apart`);
  llm.script([answerSteps(chunks, gap)]);
  const before = await request(bot, 'usage');
  const start = performance.now();
  const answers = Array.from({ length: conversations }, (_, i) => ask(`many${i}@${DOMAIN}`).done);
  let answered = 0;
  for (const done of answers) done.then(() => answered++);
  await Promise.all(answers);
  const wallMs = performance.now() - start;
  const after = await request(bot, 'usage');
  if (before.type !== 'usage' || after.type !== 'usage')
    throw new Error('no usage report from the assistant');
  console.log(
    JSON.stringify({
      bench: 'bot',
      figure: 'concurrent',
      conversations,
      answered,
      all_answered: answered === conversations,
      wall_ms: round(wallMs, 1),
      bot_cpu_ms_per_answer: round((after.cpuMs - before.cpuMs) / conversations, 3),
      bot_rss_mib_before: round(before.rssBytes / 2 ** 20, 1),
      bot_rss_mib_after: round(after.rssBytes / 2 ** 20, 1),
      chunks,
      chunk_gap_ms: gap,
    }),
  );
  console.log(
    JSON.stringify({
      bench: 'bot',
      figure: 'machine',
      cpus: cpus().length,
      cpu_model: cpus()[0]?.model,
      node: process.version,
      date: new Date().toISOString(),
    }),
  );

  const exited = new Promise((resolve) => bot.once('exit', resolve));
  bot.send({ type: 'stop' });
  await exited;
  await harness.close();
  await llm.stop();
  rmSync(dir, { recursive: true, force: true });
}

if (process.argv.includes('--child')) void child();
else
  parent().catch((err) => {
    process.stderr.write(`bot-bench failed: ${(err as Error).stack}\n`);
    process.exit(1);
  });
