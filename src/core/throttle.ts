// Per-IP limits that keep one address from exhausting the server: concurrent connections,
// and failed authentications within a sliding window (after which that address gets
// temporary-auth-failure until the window has passed).

export class ConnectionCounter {
  private readonly counts = new Map<string, number>();

  constructor(private readonly maxPerIp: number) {}

  /** Counts a new connection; false when the address is already at its limit (not counted). */
  acquire(ip: string): boolean {
    const n = this.counts.get(ip) ?? 0;
    if (n >= this.maxPerIp) return false;
    this.counts.set(ip, n + 1);
    return true;
  }

  release(ip: string): void {
    const n = (this.counts.get(ip) ?? 0) - 1;
    if (n <= 0) this.counts.delete(ip);
    else this.counts.set(ip, n);
  }

  count(ip: string): number {
    return this.counts.get(ip) ?? 0;
  }
}

export class AuthFailureThrottle {
  /** Failure timestamps per address, oldest first, never longer than the limit. */
  private readonly failures = new Map<string, number[]>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.sweeper = setInterval(() => this.sweep(), Math.max(windowMs, 1000));
    this.sweeper.unref();
  }

  record(ip: string): void {
    const list = this.failures.get(ip) ?? [];
    list.push(this.now());
    if (list.length > this.limit) list.shift();
    this.failures.set(ip, list);
  }

  /** Whether the address has used up its failures within the window. */
  isBlocked(ip: string): boolean {
    const list = this.failures.get(ip);
    if (!list || list.length < this.limit) return false;
    return this.now() - list[0]! < this.windowMs;
  }

  stop(): void {
    clearInterval(this.sweeper);
  }

  private sweep(): void {
    const cutoff = this.now() - this.windowMs;
    for (const [ip, list] of this.failures) {
      if (list[list.length - 1]! < cutoff) this.failures.delete(ip);
    }
  }
}
