// The load generator: one process, run by the runner on its own CPU, that drives one figure
// against one server and prints JSON lines on stdout:
//   {"event":"window-start"} / {"event":"window-end"}  around the measured interval, so the
//                                                      runner can sample the server's CPU time
//   {"event":"ready",…}                                 (memory) the sessions are up; the runner
//                                                      reads the server's RSS, then writes
//                                                      "close" on our stdin
//   {"event":"result",…}                                the figure
// Progress and errors go to stderr.
//
//   node dist/test/bench/load.js --figure logins|messages|memory --port N [options]

import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { benchAccount } from './accounts.js';
import { derivedKeyCount } from './scram-client.js';
import { round, Samples } from './stats.js';
import { BenchSession, type Target } from './xmpp-session.js';

const { values } = parseArgs({
  options: {
    figure: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    domain: { type: 'string', default: 'localhost' },
    /** logins: how many accounts the logins cycle through. */
    accounts: { type: 'string', default: '500' },
    concurrency: { type: 'string', default: '50' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    pairs: { type: 'string', default: '500' },
    /** messages: how many messages each sender keeps in flight. */
    window: { type: 'string', default: '10' },
    /** messages: how long to wait for the last messages after sending stops. */
    drain: { type: 'string', default: '15' },
    sessions: { type: 'string', default: '10000' },
  },
});

function int(name: keyof typeof values): number {
  const n = Number(values[name]);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a number`);
  return n;
}

const target: Target = { host: values.host!, port: int('port'), domain: values.domain! };

// The runner may be gone (interrupted); nothing is left to tell then.
process.stdout.on('error', () => process.exit(1));

function emit(line: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(line) + '\n');
}

function progress(text: string): void {
  process.stderr.write(`  [load] ${text}\n`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Fraction of one CPU this process used since `since`. */
function cpuShare(since: { cpu: NodeJS.CpuUsage; wall: number }): number {
  const used = process.cpuUsage(since.cpu);
  return round((used.user + used.system) / 1000 / (performance.now() - since.wall), 3);
}

function cpuMark() {
  return { cpu: process.cpuUsage(), wall: performance.now() };
}

/** Runs `task(i)` for i in [0, count) with at most `concurrency` running at once. */
async function pool(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

/** Logs in `count` sessions (accounts offset…offset+count-1), each sending initial presence. */
async function openSessions(
  count: number,
  offset: number,
  resource: string,
  concurrency: number,
): Promise<{ sessions: (BenchSession | undefined)[]; errors: string[] }> {
  const sessions: (BenchSession | undefined)[] = new Array(count);
  const errors: string[] = [];
  let done = 0;
  await pool(count, concurrency, async (i) => {
    try {
      const session = await BenchSession.login(target, benchAccount(offset + i), resource);
      session.send('<presence/>');
      sessions[i] = session;
    } catch (err) {
      errors.push((err as Error).message);
    }
    if (++done % 2000 === 0) progress(`${done}/${count} sessions`);
  });
  return { sessions, errors };
}

// ---- figure 1: logins per second ----

async function logins(): Promise<void> {
  const accounts = int('accounts');
  const concurrency = int('concurrency');
  const warmupMs = int('warmup') * 1000;
  const durationMs = int('duration') * 1000;
  const samples = new Samples();
  const errors: string[] = [];
  let counter = 0;
  let inWindow = 0;
  let tls = '';
  const start = performance.now();
  const windowStart = start + warmupMs;
  const windowEnd = windowStart + durationMs;
  let mark = cpuMark();
  let windowOpen = false;
  const opener = setTimeout(() => {
    windowOpen = true;
    mark = cpuMark();
    emit({ event: 'window-start' });
  }, warmupMs);

  const worker = async () => {
    while (performance.now() < windowEnd) {
      const n = counter++;
      const t0 = performance.now();
      try {
        const session = await BenchSession.login(target, benchAccount(n % accounts), `l${n}`);
        const t1 = performance.now();
        tls ||= `${session.tlsProtocol} ${session.tlsCipher}`;
        session.close();
        if (t0 >= windowStart && t1 <= windowEnd) {
          samples.add(t1 - t0);
          inWindow++;
        }
      } catch (err) {
        if (errors.length < 1000) errors.push((err as Error).message);
        // A refusing server would otherwise spin this loop.
        await sleep(10);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  clearTimeout(opener);
  const loadCpu = windowOpen ? cpuShare(mark) : Number.NaN;
  emit({ event: 'window-end' });
  const [p50, p99] = samples.percentiles(50, 99);
  emit({
    event: 'result',
    figure: 'logins_per_s',
    value: round(inWindow / (durationMs / 1000), 1),
    p50_ms: p50,
    p99_ms: p99,
    logins: inWindow,
    concurrency,
    accounts,
    errors: errors.length,
    first_error: errors[0],
    tls,
    pbkdf2_runs: derivedKeyCount(),
    loadgen_cpu: loadCpu,
  });
}

// ---- figure 2: one-to-one messages ----

const PADDING = 'x'.repeat(100);

async function messages(): Promise<void> {
  const pairs = int('pairs');
  const window = int('window');
  const warmupMs = int('warmup') * 1000;
  const durationMs = int('duration') * 1000;
  const drainMs = int('drain') * 1000;

  // Account 2p sends to account 2p+1.
  const opened = await openSessions(pairs * 2, 0, 'bench', int('concurrency'));
  if (opened.errors.length > 0) {
    emit({
      event: 'result',
      figure: 'messages_per_s',
      error: `${opened.errors.length} of ${pairs * 2} logins failed: ${opened.errors[0]}`,
    });
    return;
  }
  const sessions = opened.sessions as BenchSession[];
  const senders = sessions.filter((_, i) => i % 2 === 0);
  const receivers = sessions.filter((_, i) => i % 2 === 1);
  progress(`${sessions.length} sessions bound; presence sent`);
  await sleep(1000);

  const sent = new Float64Array(pairs);
  const received = new Float64Array(pairs);
  const expected = new Float64Array(pairs);
  let outOfOrder = 0;
  let malformed = 0;
  let totalReceived = 0;
  let sending = true;
  let windowOpen = false;
  let windowReceived = 0;
  const samples = new Samples();

  const dirty: number[] = [];
  let flushScheduled = false;
  const topUp = (p: number) => {
    const missing = window - (sent[p]! - received[p]!);
    if (missing <= 0) return;
    const to = receivers[p]!.jid;
    let xml = '';
    for (let k = 0; k < missing; k++) {
      const seq = sent[p]! + k;
      const stamp = `${p}:${seq}:${performance.now().toFixed(3)}:`;
      xml += `<message to='${to}' type='chat' id='m${seq}'><body>${stamp}${PADDING.slice(stamp.length)}</body></message>`;
    }
    sent[p]! += missing;
    senders[p]!.send(xml);
  };
  const flush = () => {
    flushScheduled = false;
    if (!sending) {
      dirty.length = 0;
      return;
    }
    for (const p of dirty) topUp(p);
    dirty.length = 0;
  };

  receivers.forEach((receiver, p) => {
    receiver.onBody = (body) => {
      const a = body.indexOf(':');
      const b = body.indexOf(':', a + 1);
      const c = body.indexOf(':', b + 1);
      if (a < 0 || b < 0 || c < 0 || Number(body.slice(0, a)) !== p) {
        malformed++;
        return;
      }
      const seq = Number(body.slice(a + 1, b));
      if (seq !== expected[p]) outOfOrder++;
      expected[p] = seq + 1;
      received[p]!++;
      totalReceived++;
      if (windowOpen) {
        samples.add(performance.now() - Number(body.slice(b + 1, c)));
        windowReceived++;
      }
      if (sending && received[p] === sent[p]! - window + 1) {
        // Refill once per batch rather than once per message: one write per sender per tick.
        dirty.push(p);
        if (!flushScheduled) {
          flushScheduled = true;
          setImmediate(flush);
        }
      }
    };
  });

  progress(`sending: ${pairs} pairs, ${window} in flight each, warm-up ${warmupMs / 1000} s`);
  for (let p = 0; p < pairs; p++) topUp(p);
  await sleep(warmupMs);
  windowOpen = true;
  const mark = cpuMark();
  const windowStarted = performance.now();
  emit({ event: 'window-start' });
  await sleep(durationMs);
  windowOpen = false;
  const windowSeconds = (performance.now() - windowStarted) / 1000;
  const loadCpu = cpuShare(mark);
  emit({ event: 'window-end' });
  sending = false;

  const totalSent = () => sent.reduce((s, n) => s + n, 0);
  const drainUntil = performance.now() + drainMs;
  while (totalReceived < totalSent() && performance.now() < drainUntil) await sleep(50);
  const lostSessions = sessions.filter((s) => s.lost !== undefined);
  const [p50, p99] = samples.percentiles(50, 99);
  const allSent = totalSent();
  const lost = allSent - totalReceived;
  if (lost !== 0 || outOfOrder > 0 || malformed > 0 || lostSessions.length > 0) {
    process.stderr.write(
      `\n  !!! MESSAGES NOT ACCOUNTED FOR: sent ${allSent}, received ${totalReceived}, ` +
        `lost ${lost}, out of order ${outOfOrder}, malformed ${malformed}, ` +
        `sessions lost ${lostSessions.length}${lostSessions[0] ? ` (${lostSessions[0].lost})` : ''}\n\n`,
    );
  }
  emit({
    event: 'result',
    figure: 'messages_per_s',
    value: round(windowReceived / windowSeconds, 1),
    p50_ms: p50,
    p99_ms: p99,
    pairs,
    in_flight_per_pair: window,
    body_bytes: PADDING.length,
    sent: allSent,
    received: totalReceived,
    lost,
    out_of_order: outOfOrder,
    malformed,
    sessions_lost: lostSessions.length,
    loadgen_cpu: loadCpu,
  });
  for (const s of sessions) s.close();
}

// ---- figure 3: memory per idle session ----

async function memory(): Promise<void> {
  const count = int('sessions');
  const started = performance.now();
  const opened = await openSessions(count, 0, 'idle', int('concurrency'));
  const ready = opened.sessions.filter((s): s is BenchSession => s !== undefined);
  progress(`${ready.length} idle sessions in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  emit({
    event: 'ready',
    sessions: ready.length,
    failed: opened.errors.length,
    first_error: opened.errors[0],
  });
  // Wait for the runner to have read the server's memory.
  const input = createInterface({ input: process.stdin });
  await new Promise<void>((resolve) => {
    input.on('line', (line) => {
      if (line.trim() === 'close') resolve();
    });
    input.on('close', () => resolve());
  });
  input.close();
  const lost = ready.filter((s) => s.lost !== undefined);
  emit({
    event: 'result',
    figure: 'memory',
    sessions: ready.length,
    failed: opened.errors.length,
    sessions_lost: lost.length,
    first_lost: lost[0]?.lost,
  });
  for (const s of ready) s.close();
}

const figures: Record<string, () => Promise<void>> = { logins, messages, memory };
const run = figures[values.figure ?? ''];
if (run === undefined) {
  process.stderr.write(`load: --figure must be one of ${Object.keys(figures).join(', ')}\n`);
  process.exit(2);
}
run().then(
  // Sockets still closing must not hold the runner up.
  () => setTimeout(() => process.exit(0), 200),
  (err: unknown) => {
    process.stderr.write(`load: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
