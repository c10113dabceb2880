// Fairness: a serial queue per conversation (one answer at a time, in order), a global limit on
// answers generated at once (first come, first served across conversations), per-person and
// per-room rates, and daily token quotas. Everything here is pure bookkeeping with an injectable
// clock, so the rules are unit-tested without waiting.

import type { BotStore } from './store.js';

/** Token buckets by key: `perMinute` requests, refilled continuously. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly perMs: number;

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {
    this.perMs = perMinute / 60_000;
  }

  /** Takes one request for `key`: 0 when allowed, else the milliseconds until one would be. */
  take(key: string): number {
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: this.perMinute, at: now };
      this.buckets.set(key, bucket);
    } else {
      bucket.tokens = Math.min(this.perMinute, bucket.tokens + (now - bucket.at) * this.perMs);
      bucket.at = now;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - bucket.tokens) / this.perMs);
  }

  /** Forgets buckets that have refilled (they behave exactly like new ones). */
  sweep(): void {
    const now = this.now();
    for (const [key, bucket] of this.buckets)
      if (bucket.tokens + (now - bucket.at) * this.perMs >= this.perMinute) this.buckets.delete(key);
  }
}

/** Daily token counts (UTC days) kept in the store, so that a restart does not reset them. */
export class DailyQuota {
  constructor(
    private readonly store: BotStore,
    /** 0: unlimited. */
    private readonly limit: number,
    private readonly now: () => number = Date.now,
  ) {}

  get unlimited(): boolean {
    return this.limit === 0;
  }

  get daily(): number {
    return this.limit;
  }

  used(subject: string): number {
    return this.store.usage(subject, this.today());
  }

  /** Whether the subject may start another answer today. */
  allows(subject: string): boolean {
    return this.limit === 0 || this.used(subject) < this.limit;
  }

  add(subject: string, tokens: number): number {
    return this.store.addUsage(subject, this.today(), tokens);
  }

  today(): string {
    return utcDay(this.now());
  }
}

export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** At most `limit` holders at once; waiters are served in arrival order. */
export class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  get inUse(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Resolves with a release function once a slot is free; rejects if `signal` aborts first. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(new Error('aborted'));
    if (this.active < this.limit) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve, reject) => {
      const grant = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(this.releaser());
      };
      const onAbort = (): void => {
        const i = this.waiting.indexOf(grant);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new Error('aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(grant);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter.
      if (next) next();
      else this.active--;
    };
  }
}

export interface QueuedJob {
  /** Runs the job; the queue waits for it before starting the next. */
  run(): Promise<void>;
  /** The job is dropped without running (the conversation was stopped or reset). */
  dropped(): void;
}

/** One conversation's jobs, one at a time, in order. */
export class SerialQueue {
  private readonly jobs: QueuedJob[] = [];
  private running = false;

  /** Jobs waiting, not counting the one running. */
  get waiting(): number {
    return this.jobs.length;
  }

  get busy(): boolean {
    return this.running;
  }

  push(job: QueuedJob): void {
    this.jobs.push(job);
    if (!this.running) void this.drain();
  }

  /** Drops every waiting job; returns how many there were. */
  clear(): number {
    const dropped = this.jobs.splice(0);
    for (const job of dropped) job.dropped();
    return dropped.length;
  }

  private async drain(): Promise<void> {
    this.running = true;
    for (let job = this.jobs.shift(); job; job = this.jobs.shift()) {
      try {
        await job.run();
      } catch {
        // A job reports its own failures; the queue only keeps going.
      }
    }
    this.running = false;
  }
}
