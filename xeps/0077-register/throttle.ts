// How often one IP address may register an account (XEP-0077 §3.1.1 leaves the provisioning
// to the server): at most once per interval. Only successful registrations count.

export class RegistrationThrottle {
  /** Address → when it last registered (or is registering), oldest first. */
  private readonly last = new Map<string, number>();

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Claims the address's turn. Returns the claim, or undefined while its previous one is more
   * recent than the interval. Give the claim back with release() when the registration fails.
   */
  claim(address: string): number | undefined {
    if (this.intervalMs === 0) return 0;
    const now = this.now();
    // Entries are in time order: the expired ones are at the front.
    for (const [key, at] of this.last) {
      if (now - at < this.intervalMs) break;
      this.last.delete(key);
    }
    if (this.last.has(address)) return undefined;
    this.last.set(address, now);
    return now;
  }

  release(address: string, claim: number): void {
    if (this.last.get(address) === claim) this.last.delete(address);
  }

  /** How many addresses are being remembered. */
  get size(): number {
    return this.last.size;
  }
}
