// `npm run bench`: Warbler, Prosody and ejabberd measured side by side on this machine. Each
// server runs pinned to CPU 0 from its own configuration in a temporary directory, restarted
// for every figure; the load generator (load.ts) runs pinned to CPU 1. One JSON line per
// figure on stdout, then the ratios Warbler/ejabberd and Warbler/Prosody; a short summary on
// stderr. See test/bench/README.md.
//
//   npm run bench -- --servers warbler,prosody,ejabberd --figures logins,messages,memory,muc,bot --duration 10

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuSeconds, freePort, LOAD_CPU, machineBusySeconds, rssKiB, sleep, waitForQuiet } from './proc.js';
import {
  type BenchContext,
  benchCertificate,
  type RunningServer,
  SERVERS,
  type ServerUnderTest,
} from './servers.js';
import { round } from './stats.js';

const FIGURES = ['logins', 'messages', 'memory'] as const;
type Figure = (typeof FIGURES)[number];
/**
 * Figures measured by scripts of their own, run after the ones above so that `npm run bench`
 * gives every figure: group chat fan-out (muc-bench.ts, for the same servers) and the AI
 * assistant's overhead (bot-bench.ts, Warbler's alone).
 */
const SUITES = { muc: 'muc-bench.js', bot: 'bot-bench.js' } as const;
type Suite = keyof typeof SUITES;
const FIGURE_NAMES: Record<Figure, string> = {
  logins: 'logins_per_s',
  messages: 'messages_per_s',
  memory: 'rss_kib_per_idle_session',
};

const { values: opts } = parseArgs({
  options: {
    servers: { type: 'string', default: 'warbler,prosody,ejabberd' },
    figures: { type: 'string', default: [...FIGURES, ...Object.keys(SUITES)].join(',') },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '50' },
    'login-accounts': { type: 'string', default: '500' },
    pairs: { type: 'string', default: '500' },
    window: { type: 'string', default: '10' },
    sessions: { type: 'string', default: '10000' },
    /** Seconds the idle sessions sit before the server's RSS is read. */
    settle: { type: 'string', default: '5' },
    /** comparable: Warbler with the modules the other servers' configs have; all: every built-in one. */
    'warbler-modules': { type: 'string', default: 'comparable' },
    /** Extra options for Warbler's node, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof". */
    'warbler-node-args': { type: 'string', default: '' },
    /** Seconds to wait, before each figure, for other processes on the machine to go quiet. */
    'quiet-wait': { type: 'string', default: '60' },
    /** Keep the temporary directories (configs, data, logs) for inspection. */
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
});

if (opts.help) {
  process.stdout.write(
    readFileSync(fileURLToPath(new URL('../../../test/bench/README.md', import.meta.url)), 'utf8'),
  );
  process.exit(0);
}

const LOAD_JS = fileURLToPath(new URL('./load.js', import.meta.url));
const DOMAIN = 'localhost';
const num = (name: keyof typeof opts) => Number(opts[name]);

const date = new Date().toISOString();
const cpuModel =
  /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model;
const nproc = execFileSync('nproc', { encoding: 'utf8' }).trim();
const machine = `${nproc} x ${cpuModel}`;

type Line = Record<string, unknown>;
const results: Line[] = [];

function emit(line: Line): void {
  results.push(line);
  process.stdout.write(JSON.stringify(line) + '\n');
}

function say(text: string): void {
  process.stderr.write(text + '\n');
}

/** Runs the load generator for one figure; `onEvent` sees its JSON lines as they come. */
function runLoad(
  args: string[],
  onEvent: (event: Line, child: ChildProcess) => void | Promise<void>,
): Promise<Line> {
  return new Promise((resolve, reject) => {
    const child = spawn('taskset', ['-c', LOAD_CPU, process.execPath, LOAD_JS, ...args], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let result: Line | undefined;
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (text) => {
      let event: Line;
      try {
        event = JSON.parse(text) as Line;
      } catch {
        say(`  [load] ${text}`);
        return;
      }
      if (event.event === 'result') result = event;
      else void Promise.resolve(onEvent(event, child)).catch(fail);
    });
    const fail = (err: unknown) => {
      child.kill('SIGKILL');
      reject(err);
    };
    child.once('error', reject);
    child.once('exit', (code) => {
      if (result) resolve(result);
      else reject(new Error(`the load generator exited with ${code} and no result`));
    });
  });
}

function loadArgs(ctx: BenchContext, figure: Figure): string[] {
  const common = ['--port', String(ctx.port), '--domain', DOMAIN, '--concurrency', opts.concurrency!];
  const timing = ['--duration', opts.duration!, '--warmup', opts.warmup!];
  switch (figure) {
    case 'logins':
      return ['--figure', 'logins', ...common, ...timing, '--accounts', opts['login-accounts']!];
    case 'messages':
      return ['--figure', 'messages', ...common, ...timing, '--pairs', opts.pairs!, '--window', opts.window!];
    case 'memory':
      return ['--figure', 'memory', ...common, '--sessions', opts.sessions!];
  }
}

/**
 * Logins and messages: the load generator's figure, plus how many CPUs the server, the load
 * generator and everything else on the machine used during the measured window. A server
 * near 1.0 was the bottleneck; "other_cpu" above ~0.05 means something else competed.
 */
async function throughput(ctx: BenchContext, running: RunningServer, figure: Figure): Promise<Line> {
  let start: { server: number; load: number; machine: number; wall: number } | undefined;
  const shares: Line = {};
  const result = await runLoad(loadArgs(ctx, figure), (event, child) => {
    const now = {
      server: cpuSeconds(running.pid),
      load: cpuSeconds(child.pid!),
      machine: machineBusySeconds(),
    };
    if (event.event === 'window-start') {
      start = { ...now, wall: performance.now() };
    } else if (event.event === 'window-end' && start !== undefined) {
      const seconds = (performance.now() - start.wall) / 1000;
      const server = (now.server - start.server) / seconds;
      const load = (now.load - start.load) / seconds;
      const machine = (now.machine - start.machine) / seconds;
      shares.server_cpu = round(server, 3);
      shares.loadgen_cpu = round(load, 3);
      shares.other_cpu = round(Math.max(0, machine - server - load), 3);
    }
  });
  const { event: _, figure: __, ...rest } = result;
  // The figure per CPU-second the server used: its capacity per core, even when it was
  // preempted by other processes or not driven to saturation.
  if (typeof rest.value === 'number' && typeof shares.server_cpu === 'number' && shares.server_cpu > 0) {
    shares.per_server_cpu_s = round(rest.value / shares.server_cpu, 1);
  }
  if (typeof shares.loadgen_cpu === 'number' && shares.loadgen_cpu > 0.9) {
    say(`  !!! the load generator used ${shares.loadgen_cpu} CPU: it, not the server, may be the limit`);
  }
  if (typeof shares.other_cpu === 'number' && shares.other_cpu > 0.1) {
    say(`  !!! other processes used ${shares.other_cpu} CPU during the window: this figure is disturbed`);
  }
  return { ...rest, ...shares };
}

/** Memory: RSS before, then with the idle sessions settled, per session. */
async function memory(ctx: BenchContext, running: RunningServer): Promise<Line> {
  await sleep(2000);
  const before = rssKiB(running.pid);
  let after = 0;
  let ready: Line = {};
  const samples: number[] = [];
  const result = await runLoad(loadArgs(ctx, 'memory'), async (event, child) => {
    if (event.event !== 'ready') return;
    ready = event;
    say(`  ${event.sessions} sessions up; idle ${opts.settle} s before reading VmRSS`);
    await sleep(num('settle') * 1000);
    for (let i = 0; i < 3; i++) {
      samples.push(rssKiB(running.pid));
      if (i < 2) await sleep(1000);
    }
    after = samples.at(-1)!;
    child.stdin!.write('close\n');
  });
  const sessions = Number(ready.sessions ?? 0);
  if (sessions === 0) return { error: `no sessions: ${String(ready.first_error ?? result.first_error)}` };
  return {
    value: round((after - before) / sessions, 2),
    unit: 'KiB',
    sessions,
    failed: ready.failed,
    first_error: ready.first_error,
    rss_before_kib: before,
    rss_after_kib: after,
    rss_samples_kib: samples,
    sessions_lost_while_idle: result.sessions_lost,
  };
}

async function benchServer(server: ServerUnderTest, figures: Figure[], certificate: string, key: string) {
  const base = { server: server.name, date, machine };
  const skipAll = (reason: string) => {
    for (const f of figures) emit({ ...base, figure: FIGURE_NAMES[f], skipped: reason });
  };
  const reason = server.unavailable();
  if (reason) {
    say(`${server.name}: skipped: ${reason}`);
    skipAll(reason);
    return;
  }
  const version = server.version();
  const dir = mkdtempSync(join(tmpdir(), `bench-${server.name}-`));
  // Each server reads its own copy (ejabberd runs as another user).
  copyFileSync(certificate, join(dir, 'cert.pem'));
  copyFileSync(key, join(dir, 'key.pem'));
  const accounts = Math.max(num('sessions'), num('pairs') * 2, num('login-accounts'));
  const ctx: BenchContext = {
    dir,
    certificate: join(dir, 'cert.pem'),
    key: join(dir, 'key.pem'),
    domain: DOMAIN,
    port: await freePort(),
    auxPort: await freePort(),
    accounts: figures.length > 0 ? accounts : 0,
    nodeArgs: opts['warbler-node-args']!.split(/\s+/).filter(Boolean),
    warblerModules: opts['warbler-modules'] === 'all' ? 'all' : 'comparable',
    progress: (text) => say(`  ${text}`),
  };
  say(`\n== ${server.name} ${version} (${dir})`);
  try {
    say(`  provisioning ${accounts} accounts`);
    await server.prepare(ctx);
  } catch (err) {
    say(`${server.name}: skipped: ${(err as Error).message}`);
    skipAll(`could not be prepared: ${(err as Error).message}`);
    return;
  }
  for (const figure of figures) {
    const line: Line = { ...base, version, figure: FIGURE_NAMES[figure] };
    if (server.name === 'warbler') line.modules = ctx.warblerModules;
    let running: RunningServer | undefined;
    try {
      say(`-- ${server.name}: ${figure}`);
      const busy = await waitForQuiet(0.15, num('quiet-wait') * 1000);
      if (busy >= 0.15) say(`  !!! the machine is busy (${round(busy, 2)} CPU) before the figure starts`);
      running = await server.start(ctx);
      stopOnExit.add(running);
      const figures =
        figure === 'memory' ? await memory(ctx, running) : await throughput(ctx, running, figure);
      emit({ ...line, ...figures });
    } catch (err) {
      say(`${server.name} ${figure}: skipped: ${(err as Error).message}`);
      emit({ ...line, skipped: (err as Error).message });
    } finally {
      if (running) {
        await running.stop();
        stopOnExit.delete(running);
      }
    }
  }
  if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  else say(`  kept ${dir}`);
}

const stopOnExit = new Set<RunningServer>();
process.once('SIGINT', () => {
  say('interrupted; stopping the server');
  void Promise.all([...stopOnExit].map((r) => r.stop())).finally(() => process.exit(130));
});

function ratios(figures: Figure[]): void {
  const value = (server: string, figure: string) => {
    const line = results.find(
      (r) => r.server === server && r.figure === figure && typeof r.value === 'number',
    );
    return line?.value as number | undefined;
  };
  for (const figure of figures) {
    const name = FIGURE_NAMES[figure];
    const ours = value('warbler', name);
    for (const other of ['ejabberd', 'prosody']) {
      const theirs = value(other, name);
      emit({
        figure: name,
        ratio: `warbler/${other}`,
        value: ours !== undefined && theirs !== undefined && theirs !== 0 ? round(ours / theirs, 3) : null,
        better: figure === 'memory' ? 'lower' : 'higher',
        date,
        machine,
      });
    }
  }
}

function summary(figures: Figure[]): void {
  say(`\n== summary (${date}, ${machine}; servers on CPU 0, load generator on CPU 1)`);
  for (const figure of figures) {
    const name = FIGURE_NAMES[figure];
    const cells = results
      .filter((r) => r.figure === name && r.server !== undefined)
      .map((r) => {
        if (r.skipped !== undefined || r.value === undefined) return `${r.server}: skipped`;
        const latency = r.p50_ms !== undefined ? ` (p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms)` : '';
        const lost = typeof r.lost === 'number' && r.lost !== 0 ? ` LOST ${r.lost}` : '';
        const perCpu = r.per_server_cpu_s !== undefined ? ` [${r.per_server_cpu_s} per server CPU-s]` : '';
        return `${r.server} ${r.value}${latency}${perCpu}${lost}`;
      });
    say(`  ${name}: ${cells.join('; ')}`);
  }
  const ratioLines = results.filter((r) => r.ratio !== undefined && r.value !== null);
  if (ratioLines.length > 0)
    say(`  ratios: ${ratioLines.map((r) => `${r.figure} ${r.ratio} ${r.value}`).join('; ')}`);
}

async function main(): Promise<void> {
  const asked = opts.figures!.split(',').map((f) => f.trim());
  const known = [...FIGURES, ...Object.keys(SUITES)];
  for (const f of asked)
    if (!known.includes(f)) throw new Error(`unknown figure ${f}; use ${known.join(',')}`);
  const figures = asked.filter((f): f is Figure => (FIGURES as readonly string[]).includes(f));
  const suites = asked.filter((f): f is Suite => f in SUITES);
  const names = opts.servers!.split(',').map((s) => s.trim());
  const servers = names.map((n) => {
    const s = SERVERS.find((candidate) => candidate.name === n);
    if (!s) throw new Error(`unknown server ${n}; use ${SERVERS.map((c) => c.name).join(',')}`);
    return s;
  });
  const shared = mkdtempSync(join(tmpdir(), 'bench-tls-'));
  mkdirSync(shared, { recursive: true });
  const tls = benchCertificate(shared, DOMAIN);
  say(`benchmark: ${machine}; ${date}; figures ${figures.join(',')}; servers ${names.join(',')}`);
  if (figures.length > 0) {
    for (const server of servers) await benchServer(server, figures, tls.certificate, tls.key);
    ratios(figures);
    summary(figures);
  }
  rmSync(shared, { recursive: true, force: true });
  for (const suite of suites) await runSuite(suite, names);
}

/** Runs a figure's own script with this one's stdout and stderr; a failure fails the run. */
async function runSuite(suite: Suite, servers: string[]): Promise<void> {
  const script = join(dirname(fileURLToPath(import.meta.url)), SUITES[suite]);
  const args = suite === 'muc' ? [script, '--servers', servers.join(',')] : [script];
  say(`bench: ${suite} figures (${SUITES[suite]})`);
  const child = spawn(process.execPath, args, { stdio: 'inherit' });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`${SUITES[suite]} exited with ${code}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    say(`bench: ${(err as Error).message}`);
    process.exit(1);
  },
);
