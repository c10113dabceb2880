// Group chat fan-out: delivered groupchat stanzas per second for one room of 100 and of 1,000
// occupants, Warbler beside Prosody and ejabberd (each with its MUC component), on this
// machine, in one run. One JSON line per figure on stdout; progress on stderr. Not part of
// `npm test`.
//
//   npm run build && node dist/test/bench/muc-bench.js [--servers warbler,prosody,ejabberd]
//       [--occupants 100,1000] [--senders 4] [--window 8] [--duration 10] [--warmup 3] [--keep]
//
// How it runs (as test/bench/run.ts does for the other figures): each server gets a fresh
// directory, the same ECDSA certificate and the accounts u0…u(N-1) (servers.ts prepares them),
// plus its MUC service at conference.localhost. For each room size the server starts pinned to
// CPU 0 and this script's load role runs pinned to CPU 1: N real TLS client connections (our
// own minimal client, xmpp-session.ts), u0 creates an instant room and posts a marker, the
// others enter one by one (an entry is complete when the marker arrives as history), then
// `senders` occupants post groupchat messages, each keeping `window` of its own messages in
// flight (a message is "landed" when its sender gets the reflection), and never more than
// `outstanding` deliveries owed in all. Every message delivered to every occupant is counted.
// After a warm-up the deliveries of a `duration`-second window give the figure; then sending
// stops and the last deliveries are awaited, so that `lost` accounts for every message.
//
// Each line carries server_cpu, loadgen_cpu and other_cpu (CPUs used during the window) and
// per_server_cpu_s (the figure per CPU-second of the server) as run.ts reports them.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchAccount } from './accounts.js';
import { cpuSeconds, freePort, LOAD_CPU, machineBusySeconds, sleep, waitForQuiet } from './proc.js';
import {
  type BenchContext,
  benchCertificate,
  type RunningServer,
  SERVERS,
  type ServerUnderTest,
} from './servers.js';
import { round, Samples } from './stats.js';
import { BenchSession, type Target } from './xmpp-session.js';

const { values: opts } = parseArgs({
  options: {
    role: { type: 'string', default: 'runner' },
    servers: { type: 'string', default: 'warbler,prosody,ejabberd' },
    occupants: { type: 'string', default: '100,1000' },
    senders: { type: 'string', default: '4' },
    /** Messages each sender keeps in flight. */
    window: { type: 'string', default: '8' },
    /** Deliveries owed (sent × occupants − delivered) beyond which nobody sends. */
    outstanding: { type: 'string', default: '40000' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    drain: { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '50' },
    'quiet-wait': { type: 'string', default: '30' },
    keep: { type: 'boolean', default: false },
    /**
     * Warbler's rooms archive by default (XEP-0313 on rooms); Prosody's and ejabberd's here do
     * not, so the comparison turns Warbler's off unless this asks for it.
     */
    'warbler-room-archive': { type: 'boolean', default: false },
    /** Extra options for Warbler's node, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof". */
    'warbler-node-args': { type: 'string', default: '' },
    // The load role's own options, set by the runner.
    port: { type: 'string' },
    domain: { type: 'string', default: 'localhost' },
    service: { type: 'string', default: 'conference.localhost' },
  },
});

const num = (name: keyof typeof opts): number => {
  const n = Number(opts[name]);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a number`);
  return n;
};

type Line = Record<string, unknown>;

function say(text: string): void {
  process.stderr.write(`${text}\n`);
}

// ---------------------------------------------------------------------------------------------
// The load role: N occupants of one room.

const NS_MUC = 'http://jabber.org/protocol/muc';
const PADDING = 'x'.repeat(100);
const MARKER = 'marker';

function emitLoad(line: Line): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

async function pool(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

/** Resolves when `session` receives the body `text`, or rejects after `ms`. */
function bodyArrives(session: BenchSession, text: string, ms: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no "${text}" within ${ms / 1000} s`)), ms);
    session.onBody = (body) => {
      if (body !== text) return;
      clearTimeout(timer);
      session.onBody = undefined;
      resolve();
    };
  });
}

async function load(): Promise<void> {
  const target: Target = { host: '127.0.0.1', port: num('port'), domain: opts.domain! };
  const occupants = num('occupants');
  const senders = Math.min(num('senders'), occupants);
  const window = num('window');
  const outstanding = num('outstanding');
  const room = `bench${occupants}@${opts.service}`;
  const occupantJid = (i: number) => `${room}/u${i}`;

  const sessions: BenchSession[] = new Array(occupants);
  await pool(occupants, num('concurrency'), async (i) => {
    sessions[i] = await BenchSession.login(target, benchAccount(i), 'bench');
  });
  say(`  [load] ${occupants} sessions bound`);

  // u0 creates an instant room (XEP-0045 §10.1.2) and posts the marker every entrant gets as history.
  const owner = sessions[0]!;
  const created = bodyArrives(owner, MARKER, 30_000, 'creating the room');
  owner.send(`<presence to='${occupantJid(0)}'><x xmlns='${NS_MUC}'/></presence>`);
  owner.send(
    `<iq type='set' to='${room}' id='create'><query xmlns='${NS_MUC}#owner'>` +
      `<x xmlns='jabber:x:data' type='submit'/></query></iq>`,
  );
  owner.send(`<message to='${room}' type='groupchat' id='marker'><body>${MARKER}</body></message>`);
  await created;
  const joinStart = performance.now();
  let joined = 1;
  await pool(occupants - 1, 1, async (k) => {
    const i = k + 1;
    const entered = bodyArrives(sessions[i]!, MARKER, 60_000, `u${i} entering`);
    sessions[i]!.send(`<presence to='${occupantJid(i)}'><x xmlns='${NS_MUC}'/></presence>`);
    await entered;
    if (++joined % 200 === 0) say(`  [load] ${joined}/${occupants} in the room`);
  });
  const joinSeconds = (performance.now() - joinStart) / 1000;
  say(`  [load] ${occupants} occupants in ${room} after ${joinSeconds.toFixed(1)} s; sending`);
  await sleep(1000);

  let sent = 0;
  let delivered = 0;
  let sending = true;
  let blocked = false;
  const inFlight = new Int32Array(senders);
  const seq = new Int32Array(senders);
  const samples = new Samples();
  const pump = (s: number): void => {
    const session = sessions[s]!;
    session.cork();
    while (sending && inFlight[s]! < window) {
      if (sent * occupants - delivered >= outstanding) {
        blocked = true;
        break;
      }
      inFlight[s]!++;
      sent++;
      const body = `m${s}|${seq[s]!++}|${performance.now().toFixed(2)}|${PADDING}`;
      session.send(`<message to='${room}' type='groupchat'><body>${body}</body></message>`);
    }
    session.uncork();
  };
  for (let i = 0; i < occupants; i++) {
    sessions[i]!.onBody = (body) => {
      if (body.charCodeAt(0) !== 109 /* m */) return;
      delivered++;
      const bar = body.indexOf('|');
      // One delivery in 16 is timed: the clock is this process's, the send time in the body.
      if ((delivered & 15) === 0) {
        const sentAt = Number(body.slice(body.indexOf('|', bar + 1) + 1, body.lastIndexOf('|')));
        samples.add(performance.now() - sentAt);
      }
      if (i < senders && Number(body.slice(1, bar)) === i) {
        inFlight[i]!--;
        pump(i);
      }
      if (blocked && sent * occupants - delivered < outstanding / 2) {
        blocked = false;
        for (let s = 0; s < senders; s++) pump(s);
      }
    };
  }
  for (let s = 0; s < senders; s++) pump(s);

  await sleep(num('warmup') * 1000);
  const atStart = delivered;
  const cpuStart = process.cpuUsage();
  const wallStart = performance.now();
  emitLoad({ event: 'window-start' });
  await sleep(num('duration') * 1000);
  const inWindow = delivered - atStart;
  const seconds = (performance.now() - wallStart) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  emitLoad({ event: 'window-end' });
  sending = false;
  const drainUntil = performance.now() + num('drain') * 1000;
  while (delivered < sent * occupants && performance.now() < drainUntil) await sleep(100);
  const [p50, p99] = samples.percentiles(50, 99);
  const lostSessions = sessions.filter((s) => s.lost !== undefined);
  emitLoad({
    event: 'result',
    value: round(inWindow / seconds, 0),
    unit: 'deliveries/s',
    occupants,
    senders,
    window,
    messages_per_s: round(inWindow / occupants / seconds, 1),
    p50_ms: p50,
    p99_ms: p99,
    sent,
    delivered,
    lost: sent * occupants - delivered,
    sessions_lost: lostSessions.length,
    first_lost: lostSessions[0]?.lost,
    join_s: round(joinSeconds, 1),
    loadgen_cpu_self: round((cpu.user + cpu.system) / 1e6 / seconds, 3),
  });
  for (const session of sessions) session.close();
  await sleep(500);
}

// ---------------------------------------------------------------------------------------------
// The runner.

const SELF = fileURLToPath(import.meta.url);
const DOMAIN = 'localhost';
const SERVICE = `conference.${DOMAIN}`;

/** Each server's MUC service at conference.localhost, from its own documentation's options. */
function addMucService(server: ServerUnderTest['name'], ctx: BenchContext, maxOccupants: number): void {
  switch (server) {
    case 'warbler':
      // The muc module is among those run.ts compares; its defaults put it at conference.<host>.
      appendFileSync(
        join(ctx.dir, 'warbler.toml'),
        `\n[muc]\nmax_occupants = ${Math.max(maxOccupants, 10_000)}\n` +
          `default_archiving = ${opts['warbler-room-archive'] ? 'true' : 'false'}\n`,
      );
      return;
    case 'prosody':
      appendFileSync(join(ctx.dir, 'prosody.cfg.lua'), `\nComponent "${SERVICE}" "muc"\n`);
      return;
    case 'ejabberd':
      // The file ends with the modules list. mod_muc limits a room to 200 occupants twice: the
      // service's max_users and each new room's own (default_room_options).
      appendFileSync(
        join(ctx.dir, 'ejabberd.yml'),
        [
          '  mod_muc:',
          `    host: "${SERVICE}"`,
          '    access_create: all',
          `    max_users: ${maxOccupants + 100}`,
          `    max_users_presence: ${maxOccupants + 100}`,
          '    history_size: 20',
          '    default_room_options:',
          `      max_users: ${maxOccupants + 100}`,
          '',
        ].join('\n'),
      );
      return;
  }
}

/** Runs the load role against a running server; CPU shares sampled around its window. */
function measure(ctx: BenchContext, running: RunningServer, occupants: number): Promise<Line> {
  const args = [
    SELF,
    '--role',
    'load',
    '--port',
    String(ctx.port),
    '--occupants',
    String(occupants),
    '--senders',
    opts.senders!,
    '--window',
    opts.window!,
    '--outstanding',
    opts.outstanding!,
    '--duration',
    opts.duration!,
    '--warmup',
    opts.warmup!,
    '--drain',
    opts.drain!,
    '--concurrency',
    opts.concurrency!,
  ];
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn('taskset', ['-c', LOAD_CPU, process.execPath, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let start: { server: number; load: number; machine: number; wall: number } | undefined;
    const shares: Line = {};
    let result: Line | undefined;
    createInterface({ input: child.stdout! }).on('line', (text) => {
      let event: Line;
      try {
        event = JSON.parse(text) as Line;
      } catch {
        say(`  [load] ${text}`);
        return;
      }
      const now = {
        server: cpuSeconds(running.pid),
        load: cpuSeconds(child.pid!),
        machine: machineBusySeconds(),
      };
      if (event.event === 'window-start') start = { ...now, wall: performance.now() };
      else if (event.event === 'window-end' && start !== undefined) {
        const seconds = (performance.now() - start.wall) / 1000;
        const server = (now.server - start.server) / seconds;
        const loadCpu = (now.load - start.load) / seconds;
        shares.server_cpu = round(server, 3);
        shares.loadgen_cpu = round(loadCpu, 3);
        shares.other_cpu = round(Math.max(0, (now.machine - start.machine) / seconds - server - loadCpu), 3);
      } else if (event.event === 'result') result = event;
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (result === undefined) {
        reject(new Error(`the load generator exited with ${code} and no result`));
        return;
      }
      const { event: _, ...rest } = result;
      const line: Line = { ...rest, ...shares };
      if (typeof rest.value === 'number' && typeof shares.server_cpu === 'number' && shares.server_cpu > 0)
        line.per_server_cpu_s = round(rest.value / shares.server_cpu, 0);
      if (typeof shares.loadgen_cpu === 'number' && shares.loadgen_cpu > 0.9)
        say('  !!! the load generator used more than 0.9 CPU: it, not the server, may be the limit');
      resolve(line);
    });
  });
}

async function runner(): Promise<void> {
  const date = new Date().toISOString();
  const cpuModel =
    /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model;
  const machine = `${execFileSync('nproc', { encoding: 'utf8' }).trim()} x ${cpuModel}`;
  const sizes = opts.occupants!.split(',').map(Number);
  const names = opts.servers!.split(',').map((s) => s.trim());
  const results: Line[] = [];
  const emit = (line: Line) => {
    results.push(line);
    process.stdout.write(`${JSON.stringify(line)}\n`);
  };
  const shared = mkdtempSync(join(tmpdir(), 'muc-bench-tls-'));
  const tls = benchCertificate(shared, DOMAIN);
  say(`muc-bench: ${machine}; ${date}; occupants ${sizes.join(',')}; servers ${names.join(',')}`);

  for (const name of names) {
    const server = SERVERS.find((s) => s.name === name);
    if (server === undefined) throw new Error(`unknown server ${name}`);
    const base = {
      bench: 'muc',
      figure: 'muc_deliveries_per_s',
      server: name,
      date,
      machine,
      ...(name === 'warbler' ? { room_archive: opts['warbler-room-archive'] } : {}),
    };
    const reason = server.unavailable();
    if (reason !== undefined) {
      for (const occupants of sizes) emit({ ...base, occupants, skipped: reason });
      continue;
    }
    const dir = mkdtempSync(join(tmpdir(), `muc-bench-${name}-`));
    copyFileSync(tls.certificate, join(dir, 'cert.pem'));
    copyFileSync(tls.key, join(dir, 'key.pem'));
    const ctx: BenchContext = {
      dir,
      certificate: join(dir, 'cert.pem'),
      key: join(dir, 'key.pem'),
      domain: DOMAIN,
      port: await freePort(),
      auxPort: await freePort(),
      accounts: Math.max(...sizes),
      nodeArgs: opts['warbler-node-args']!.split(/\s+/).filter(Boolean),
      warblerModules: 'comparable',
      progress: (text) => say(`  ${text}`),
    };
    const version = server.version();
    say(`\n== ${name} ${version} (${dir})`);
    try {
      await server.prepare(ctx);
      addMucService(server.name, ctx, Math.max(...sizes));
    } catch (err) {
      for (const occupants of sizes)
        emit({ ...base, occupants, skipped: `could not be prepared: ${(err as Error).message}` });
      continue;
    }
    for (const occupants of sizes) {
      let running: RunningServer | undefined;
      try {
        const busy = await waitForQuiet(0.15, num('quiet-wait') * 1000);
        if (busy >= 0.15) say(`  !!! the machine is busy (${round(busy, 2)} CPU) before the figure starts`);
        say(`-- ${name}: a room of ${occupants}`);
        running = await server.start(ctx);
        emit({ ...base, version, ...(await measure(ctx, running, occupants)) });
      } catch (err) {
        say(`${name} ${occupants}: skipped: ${(err as Error).message}`);
        emit({ ...base, version, occupants, skipped: (err as Error).message });
      } finally {
        await running?.stop();
      }
    }
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
    else say(`  kept ${dir}`);
  }
  rmSync(shared, { recursive: true, force: true });

  say(`\n== summary (${date}, ${machine}; servers on CPU 0, load generator on CPU 1)`);
  for (const occupants of sizes) {
    const cells = results
      .filter((r) => r.occupants === occupants)
      .map((r) =>
        r.skipped !== undefined
          ? `${r.server}: skipped`
          : `${r.server} ${r.value}/s (server ${r.server_cpu} CPU, ${r.per_server_cpu_s} per CPU-s; lost ${r.lost})`,
      );
    say(`  ${occupants} occupants: ${cells.join('; ')}`);
    const ours = results.find(
      (r) => r.server === 'warbler' && r.occupants === occupants && typeof r.value === 'number',
    );
    for (const other of ['ejabberd', 'prosody']) {
      const theirs = results.find(
        (r) => r.server === other && r.occupants === occupants && typeof r.value === 'number',
      );
      if (ours === undefined || theirs === undefined) continue;
      emit({
        bench: 'muc',
        figure: 'muc_deliveries_per_s',
        occupants,
        ratio: `warbler/${other}`,
        value: round((ours.value as number) / (theirs.value as number), 3),
        date,
        machine,
      });
    }
  }
}

const main = opts.role === 'load' ? load : runner;
main().then(
  () => process.exit(0),
  (err: unknown) => {
    say(`muc-bench: ${(err as Error).stack ?? err}`);
    process.exit(1);
  },
);
