// Latency samples and the figures printed from them.

/** Collects latency samples (milliseconds) in a growable typed array: no per-sample objects. */
export class Samples {
  private values = new Float64Array(1 << 16);
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(ms: number): void {
    if (this.count === this.values.length) {
      const bigger = new Float64Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.values[this.count++] = ms;
  }

  /** Nearest-rank percentiles (p in 0..100), rounded to 0.01 ms; NaN without samples. */
  percentiles(...ps: number[]): number[] {
    if (this.count === 0) return ps.map(() => Number.NaN);
    const sorted = this.values.slice(0, this.count).sort();
    return ps.map((p) => {
      const rank = Math.min(this.count - 1, Math.max(0, Math.ceil((p / 100) * this.count) - 1));
      return round(sorted[rank]!, 2);
    });
  }
}

export function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
