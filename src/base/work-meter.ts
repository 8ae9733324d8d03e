/**
 * CPU work done on the scheduler's process on behalf of one caller (the checks of a request's
 * entries), measured on the monotonic clock: the work's own time, without the turns of the event
 * loop taken between its slices. Its caller turns the loop over whenever a slice is used up (so the
 * timers, the lock's renewals and /healthz wait one slice at most) and stops the work once the
 * whole is spent (so one request cannot hold a core for as long as it likes). What is measured is
 * the process's own work, never a schedule's time: that stays an argument (src/core).
 */
import { yieldToLoop } from './chunks.js';

export class WorkMeter {
  private spent = 0;
  private inSlice = 0;
  private startedMs = 0;

  constructor(
    /** The work's whole allowance, ms. */
    readonly limitMs: number,
    /** Work between two turns of the event loop, ms. */
    private readonly sliceMs: number,
  ) {}

  /** A piece of the work begins (no closure per piece: a write checks each of its entries as one). */
  begin(): void {
    this.startedMs = performance.now();
  }

  /** The piece begun last ends: its time counts against the slice and the whole. */
  end(): void {
    const ms = performance.now() - this.startedMs;
    this.spent += ms;
    this.inSlice += ms;
  }

  /** The work's time so far, ms. */
  get spentMs(): number {
    return this.spent;
  }

  /** Whether the whole allowance is spent. */
  get exhausted(): boolean {
    return this.spent > this.limitMs;
  }

  /** A turn of the event loop when the slice is used up; at once otherwise. */
  async pause(): Promise<void> {
    if (this.inSlice < this.sliceMs) return;
    await yieldToLoop();
    this.inSlice = 0;
  }
}
