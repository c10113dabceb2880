// Fairness bookkeeping: rates, daily quotas, the global semaphore and per-conversation queues.

import { expect } from 'chai';
import { DailyQuota, RateLimiter, Semaphore, SerialQueue, utcDay } from '../../src/bot/limits.js';
import { MemoryBotStore } from '../../src/bot/store.js';

describe('rate limiter', () => {
  it('allows `perMinute` at once, then one more each 60/perMinute seconds', () => {
    let now = 0;
    const rate = new RateLimiter(3, () => now);
    expect([rate.take('a'), rate.take('a'), rate.take('a')]).to.deep.equal([0, 0, 0]);
    expect(rate.take('a')).to.equal(20_000);
    expect(rate.take('b')).to.equal(0);
    now = 10_000;
    expect(rate.take('a')).to.equal(10_000);
    now = 20_000;
    expect(rate.take('a')).to.equal(0);
    expect(rate.take('a')).to.equal(20_000);
  });

  it('forgets refilled buckets', () => {
    let now = 0;
    const rate = new RateLimiter(2, () => now);
    rate.take('a');
    rate.take('a');
    now = 60_000;
    rate.sweep();
    expect(rate.take('a')).to.equal(0);
    expect(rate.take('a')).to.equal(0);
  });
});

describe('daily quota', () => {
  it('counts per subject and UTC day, and allows until the limit is reached', () => {
    let now = Date.UTC(2025, 0, 31, 23, 0);
    const quota = new DailyQuota(new MemoryBotStore(), 100, () => now);
    expect(quota.allows('user:a')).to.equal(true);
    expect(quota.add('user:a', 60)).to.equal(60);
    expect(quota.allows('user:a')).to.equal(true);
    expect(quota.add('user:a', 60)).to.equal(120);
    expect(quota.allows('user:a')).to.equal(false);
    expect(quota.allows('user:b')).to.equal(true);
    now = Date.UTC(2025, 1, 1, 0, 1);
    expect(quota.used('user:a')).to.equal(0);
    expect(quota.allows('user:a')).to.equal(true);
  });

  it('0 means unlimited', () => {
    const quota = new DailyQuota(new MemoryBotStore(), 0);
    quota.add('x', 1e9);
    expect(quota.allows('x')).to.equal(true);
    expect(quota.unlimited).to.equal(true);
  });

  it('UTC days', () => {
    expect(utcDay(Date.UTC(2025, 11, 31, 23, 59, 59))).to.equal('2025-12-31');
  });
});

describe('semaphore', () => {
  it('serves waiters in arrival order, handing each freed slot on', async () => {
    const slots = new Semaphore(1);
    const order: string[] = [];
    const first = await slots.acquire();
    const waiting = ['b', 'c'].map((name) => slots.acquire().then((release) => (order.push(name), release)));
    expect(slots.queued).to.equal(2);
    first();
    const releaseB = await waiting[0]!;
    expect(order).to.deep.equal(['b']);
    releaseB();
    releaseB();
    (await waiting[1]!)();
    expect(order).to.deep.equal(['b', 'c']);
    expect(slots.inUse).to.equal(0);
  });

  it('a waiter whose signal aborts leaves the line', async () => {
    const slots = new Semaphore(1);
    const held = await slots.acquire();
    const controller = new AbortController();
    const gave = slots.acquire(controller.signal).then(
      () => 'granted',
      () => 'aborted',
    );
    controller.abort();
    expect(await gave).to.equal('aborted');
    expect(slots.queued).to.equal(0);
    held();
    expect(slots.inUse).to.equal(0);
  });
});

describe('serial queue', () => {
  it('runs jobs one at a time in order, and drops the waiting ones on clear', async () => {
    const queue = new SerialQueue();
    const log: string[] = [];
    let finishFirst!: () => void;
    queue.push({
      run: () =>
        new Promise<void>((resolve) => {
          log.push('run 1');
          finishFirst = resolve;
        }),
      dropped: () => {},
    });
    queue.push({ run: async () => void log.push('run 2'), dropped: () => log.push('dropped 2') });
    queue.push({ run: async () => void log.push('run 3'), dropped: () => log.push('dropped 3') });
    expect(queue.busy).to.equal(true);
    expect(queue.waiting).to.equal(2);
    expect(queue.clear()).to.equal(2);
    finishFirst();
    await new Promise((resolve) => setImmediate(resolve));
    expect(log).to.deep.equal(['run 1', 'dropped 2', 'dropped 3']);
    expect(queue.busy).to.equal(false);
  });

  it('keeps going after a job that throws', async () => {
    const queue = new SerialQueue();
    const log: string[] = [];
    queue.push({ run: async () => Promise.reject(new Error('boom')), dropped: () => {} });
    const done = new Promise<void>((resolve) =>
      queue.push({ run: async () => (log.push('next'), resolve()), dropped: () => {} }),
    );
    await done;
    expect(log).to.deep.equal(['next']);
  });
});
