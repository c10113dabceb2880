// Retention: messages older than the configured age leave the archive, oldest first
// (XEP-0313 §3.2: a server may expire old messages, only ever the oldest, never leaving a
// hole). A sweep runs soon after start and then periodically; it deletes in short bounded
// transactions and yields to the event loop between them, so that sessions never wait long.

import type { Logger } from '../../src/log.js';
import type { MamStore } from './store.js';

const DAY_MS = 86_400_000;
/** Messages deleted per transaction. */
const ROWS_PER_STEP = 2000;
/** Between sweeps; expired messages wait at most this long past their age. */
export const SWEEP_INTERVAL_MS = 3_600_000;
/** After start, so that a restart does not compete with every client logging back in. */
const FIRST_SWEEP_DELAY_MS = 60_000;

export class RetentionSweeper {
  private running: Promise<number> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly store: MamStore,
    private readonly days: number,
    private readonly log: Logger,
  ) {}

  start(): void {
    if (this.days === 0) return;
    this.schedule(FIRST_SWEEP_DELAY_MS);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Runs a sweep now (or joins the one running); resolves with how many messages it deleted. */
  sweep(): Promise<number> {
    if (this.days === 0) return Promise.resolve(0);
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.sweep().finally(() => this.schedule(SWEEP_INTERVAL_MS));
    }, delay);
    this.timer.unref();
  }

  private async run(): Promise<number> {
    const before = Date.now() - this.days * DAY_MS;
    let deleted = 0;
    let cursor: number | undefined = 0;
    try {
      while (cursor !== undefined && !this.stopped) {
        const step = await this.store.expire(before, ROWS_PER_STEP, cursor);
        deleted += step.deleted;
        cursor = step.cursor;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } catch (error) {
      this.log.error('archive retention sweep failed', { error });
    }
    if (deleted > 0) this.log.info('expired archived messages deleted', { deleted, days: this.days });
    return deleted;
  }
}
