/**
 * Notices that the process was held up (SIGSTOP, a VM frozen or migrated, a long collection, a
 * starved CPU) by the monotonic clock: a timer beats every `everyMs`, and a beat that comes more
 * than `pauseMs` after the one before ends a pause. A timer armed for later says nothing of a
 * pause that ended before it fires, and one that fires just after the pause ends says only how
 * late it is, not how long the pause was; a beat this frequent sees every pause longer than
 * `pauseMs`, whenever it falls.
 */

/** A pause noticed: when it ended, and the time between the beats around it (the pause and up to one beat's period), in monotonic ms. */
export interface Pause {
  readonly endMs: number;
  readonly lengthMs: number;
}

export interface PauseWatchOptions {
  /** How often it beats (DEFAULTS.pauseSampleMs). */
  readonly everyMs: number;
  /** A gap between two beats longer than this is a pause (DEFAULTS.pauseNoticedMs). */
  readonly pauseMs: number;
  /** The monotonic clock (default performance.now). */
  readonly now?: () => number;
}

export class PauseWatch {
  private timer: NodeJS.Timeout | undefined;
  private lastBeatMs = 0;
  private lastPause: Pause | undefined;

  constructor(private readonly options: PauseWatchOptions) {}

  start(): void {
    this.lastBeatMs = this.now();
    this.timer = setInterval(() => this.beat(), this.options.everyMs);
    // It only watches: it never keeps the process alive.
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The last pause noticed, one that is ending now included (its timer may not have run yet); undefined before any. */
  last(): Pause | undefined {
    if (this.timer !== undefined) this.beat();
    return this.lastPause;
  }

  private beat(): void {
    const now = this.now();
    const gapMs = now - this.lastBeatMs;
    if (gapMs > this.options.pauseMs) this.lastPause = { endMs: now, lengthMs: gapMs };
    this.lastBeatMs = now;
  }

  private now(): number {
    return (this.options.now ?? performance.now.bind(performance))();
  }
}
