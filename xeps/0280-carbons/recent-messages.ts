// XEP-0280 §6.1: "a message of type error is eligible if it was sent in response to a message
// that was eligible". An error names the message it answers only by its id (RFC 6120 §8.3.1:
// same id, from the address the message went to), so the server remembers, for a while, which
// copied messages an error could answer. Bounded in count and in age: an error that comes
// later than that is delivered as always, just not copied.

/** A clock in milliseconds; monotonic in production (performance.now). */
export type Clock = () => number;

export class RecentMessages {
  /** `${account} ${peer} ${id}` → when the entry expires. Insertion order is age order. */
  private readonly entries = new Map<string, number>();

  constructor(
    private readonly capacity: number,
    private readonly ttlMs: number,
    private readonly now: Clock = () => performance.now(),
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Remembers that `account` and `peer` (bare JIDs) exchanged a copied message with this id. */
  remember(account: string, peer: string, id: string): void {
    const key = keyOf(account, peer, id);
    const now = this.now();
    // Re-inserted, so that the map stays in age order.
    this.entries.delete(key);
    this.entries.set(key, now + this.ttlMs);
    this.prune(now);
  }

  /**
   * Whether an error from `peer` to `account` with this id answers a remembered message. The
   * entry is used up: one message gets one error.
   */
  answers(account: string, peer: string, id: string | undefined): boolean {
    if (id === undefined || this.entries.size === 0) return false;
    const key = keyOf(account, peer, id);
    const expires = this.entries.get(key);
    if (expires === undefined) return false;
    this.entries.delete(key);
    return expires > this.now();
  }

  /** Drops expired entries from the old end, and the oldest beyond the capacity. */
  private prune(now: number): void {
    for (const [key, expires] of this.entries) {
      if (expires > now && this.entries.size <= this.capacity) break;
      this.entries.delete(key);
    }
  }
}

// Bare JIDs hold no spaces (RFC 7622 forbids them in localparts and domainparts), so the id,
// last, may hold anything.
function keyOf(account: string, peer: string, id: string): string {
  return `${account} ${peer} ${id}`;
}
