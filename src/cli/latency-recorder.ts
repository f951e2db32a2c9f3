// Round-trip times of `sockjet bench`, kept in bounded memory however long the run.

/** Samples kept for the percentiles: the rest replace them at random, keeping a uniform sample. */
const RESERVOIR_SIZE = 100_000;

/** Latency samples: every maximum exactly, percentiles from a uniform reservoir (Vitter's algorithm R). */
export class LatencyRecorder {
  private readonly samples = new Float64Array(RESERVOIR_SIZE);
  private seen = 0;
  max = 0;
  sum = 0;

  record(ms: number): void {
    if (ms > this.max) this.max = ms;
    this.sum += ms;
    if (this.seen < RESERVOIR_SIZE) this.samples[this.seen] = ms;
    else {
      const slot = Math.floor(Math.random() * (this.seen + 1));
      if (slot < RESERVOIR_SIZE) this.samples[slot] = ms;
    }
    this.seen++;
  }

  percentiles(...ps: number[]): number[] {
    const n = Math.min(this.seen, RESERVOIR_SIZE);
    if (n === 0) return ps.map(() => 0);
    const sorted = this.samples.slice(0, n).sort();
    return ps.map((p) => sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))]);
  }

  get mean(): number {
    return this.seen === 0 ? 0 : this.sum / this.seen;
  }
}
