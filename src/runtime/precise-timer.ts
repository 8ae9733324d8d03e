/**
 * Waking at an instant of the wall clock, to a fraction of a millisecond. A Node timer fires up to
 * about a millisecond late, or a little early by its loop's cached clock, and a second timer after
 * an early one costs one or two milliseconds more. So the timer is armed DEFAULTS.timerLeadMs early
 * and the rest is waited for here, blocking, on the wall clock.
 *
 * Two clocks, each for one thing: the injected Clock (wall time) says when the instant has come,
 * since slots are wall-clock instants; performance.now() (monotonic, immune to clock steps) bounds
 * how long a wait may block, so that a wall clock stepped back during the wait cannot hold the
 * event loop (no lock renewal, no signal) until it has made up the step.
 */
import { DEFAULTS } from '../base/defaults.js';
import { SPEEDUPS } from '../base/speedups.js';
import type { Clock } from '../ports/clock.js';

/** The short sleeps at that edge (the kernel makes each about 0.1 ms). */
const TIMER_EDGE_SLEEP_MS = 0.02;
/**
 * Waits of the precise timer that may follow one another through the event loop when a wait ends
 * short of its instant (a timer fired earlier than the lead), before it falls back to a timer.
 */
const TIMER_SHORT_RETRIES = 2;

/** Atomics.wait needs a shared cell to sleep on; nothing ever wakes it early. */
const SLEEP_CELL = new Int32Array(new SharedArrayBuffer(4));

export interface PreciseTimerOptions {
  readonly clock: Clock;
}

export class PreciseTimer {
  private timeout: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;

  constructor(private readonly options: PreciseTimerOptions) {}

  /** Calls `fire` after about `delayMs` (a plain Node timer), replacing whatever was armed. */
  after(delayMs: number, fire: () => void): void {
    this.cancel();
    this.timeout = setTimeout(
      () => {
        this.timeout = undefined;
        fire();
      },
      Math.max(0, delayMs),
    );
  }

  /**
   * Calls `fire` when the clock reads `dueMs`, replacing whatever was armed. If the clock does not
   * get there in the time it should (stepped back), calls `behind` with how far it still is, and
   * `fire` is not called: the caller decides when to look again.
   */
  at(dueMs: number, fire: () => void, behind: (leftMs: number) => void): void {
    this.cancel();
    const delayMs = dueMs - this.options.clock.now();
    if (!SPEEDUPS.timer) {
      this.plainAt(dueMs, fire, behind);
      return;
    }
    // Never attempt() synchronously from here: a caller whose work ends at once (not leading, say)
    // would arm again from its own continuation, a microtask loop that starves every timer.
    if (delayMs <= DEFAULTS.timerLeadMs) this.soon(dueMs, fire, behind);
    else this.timeout = setTimeout(() => this.attempt(dueMs, fire, behind), delayMs - DEFAULTS.timerLeadMs);
  }

  cancel(): void {
    if (this.timeout) clearTimeout(this.timeout);
    this.timeout = undefined;
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = undefined;
  }

  /**
   * Without the speed-up (the ablation's baseline): a Node timer to the instant, again while the
   * clock has not got there.
   */
  private plainAt(dueMs: number, fire: () => void, behind: (leftMs: number) => void): void {
    const leftMs = dueMs - this.options.clock.now();
    if (leftMs <= 0) {
      this.timeout = setTimeout(() => {
        this.timeout = undefined;
        fire();
      }, 0);
      return;
    }
    this.timeout = setTimeout(() => {
      this.timeout = undefined;
      const now = this.options.clock.now();
      if (now >= dueMs) fire();
      else if (dueMs - now > leftMs + DEFAULTS.timerLeadMs) behind(dueMs - now);
      else this.plainAt(dueMs, fire, behind);
    }, leftMs);
  }

  private soon(dueMs: number, fire: () => void, behind: (leftMs: number) => void, retries = 0): void {
    this.immediate = setImmediate(() => this.attempt(dueMs, fire, behind, retries));
  }

  private attempt(dueMs: number, fire: () => void, behind: (leftMs: number) => void, retries = 0): void {
    this.timeout = undefined;
    this.immediate = undefined;
    if (this.waitFor(dueMs)) {
      fire();
      return;
    }
    const leftMs = dueMs - this.options.clock.now();
    // Further than the lead: the clock stepped back, and the instant is as far again as the step.
    if (leftMs > DEFAULTS.timerLeadMs) behind(leftMs);
    // Within it: a timer that fired earlier than the lead (by its loop's cached clock) left the wait
    // short; one more wait after a turn of the event loop reaches the instant, where a timer would
    // fire a millisecond or more late.
    else if (retries < TIMER_SHORT_RETRIES) this.soon(dueMs, fire, behind, retries + 1);
    // Still short: a clock slower than the wait (a small step, a slew, a test's clock that does not
    // move), looked at again by a timer when it should be there, so that the loop does not spin.
    else this.timeout = setTimeout(() => this.attempt(dueMs, fire, behind), leftMs);
  }

  /**
   * Blocks until the clock reads `dueMs`, for at most the timer lead and a millisecond (for an early
   * timer) of monotonic time. True if it got there. It sleeps in Atomics.wait rather than spinning
   * on the clock or going round the event loop, both of which allocate on every look (and so bring
   * young-generation collections into the publish of an entry due every second). Each sleep ends
   * within ~0.1 ms of its timeout, which is then how late after its instant a slot may be published.
   */
  private waitFor(dueMs: number): boolean {
    const { clock } = this.options;
    const lead = DEFAULTS.timerLeadMs;
    const giveUpAt = performance.now() + lead + 1;
    for (let now = clock.now(); now < dueMs; now = clock.now()) {
      if (performance.now() > giveUpAt) return false;
      // Whole milliseconds to go are slept in one piece, up to the edge; the edge in short sleeps, watching for the instant.
      if (dueMs - now > DEFAULTS.timerEdgeMs) Atomics.wait(SLEEP_CELL, 0, 0, Math.min(dueMs - now - DEFAULTS.timerEdgeMs, lead));
      else Atomics.wait(SLEEP_CELL, 0, 0, TIMER_EDGE_SLEEP_MS);
    }
    return true;
  }
}
