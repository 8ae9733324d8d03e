/**
 * Notices that the process was held up (SIGSTOP, a VM frozen or migrated, a long collection, a
 * starved CPU) by the monotonic clock: a timer beats every `everyMs`, and a beat that comes more
 * than `pauseMs` after the one before ends a pause. A timer armed for later says nothing of a
 * pause that ended before it fires, and one that fires just after the pause ends says only how
 * late it is, not how long the pause was; a beat this frequent sees every pause longer than
 * `pauseMs`, whenever it falls.
 *
 * A pause matters only to a publish that follows it closely (Runner: read before you publish),
 * so the watch beats only from the instant its user names on (`watchFrom`, a little before the
 * next publish it plans) and rests before it: an idle leader whose next run is a minute away is
 * not woken ten times a second. The timer that ends a rest is a beat due at that instant, so a
 * pause that spans the window's start is seen by its lateness (its length counted from the
 * window's start); one that ended before the window opened is not, and needs not be: its user
 * opens the window early enough for what the pause held up to have been read by then. A publish
 * not planned that early (a window opened at once, by watchFrom, after a rest) gets no such
 * look back at the rest: what guards it is what guards every publish (Runner).
 */

/**
 * A pause noticed: when it ended, and the time between the beats around it (the pause and up to
 * one beat's period; of one that spans the window's start, the part after it), in monotonic ms.
 */
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

/**
 * Node's longest timer, 2^31 - 1 ms (~24.8 days): it fires a longer one after 1 ms instead, with a
 * TimeoutOverflowWarning, which for a window opening further off (the next publish a month or a
 * year away) was a beat and a warning on stderr every millisecond. A longer wait is made in steps.
 */
const LONGEST_TIMER_MS = 2 ** 31 - 1;

export class PauseWatch {
  private started = false;
  /** The pending beat's timer, and when it is due (monotonic ms): a beat is late by the time past it. */
  private timer: NodeJS.Timeout | undefined;
  private dueMs = 0;
  /** From when it beats (monotonic ms); undefined: not until told. */
  private fromMs: number | undefined = Number.NEGATIVE_INFINITY;
  private lastPause: Pause | undefined;

  constructor(private readonly options: PauseWatchOptions) {}

  start(): void {
    this.started = true;
    this.armFrom(this.now());
  }

  stop(): void {
    this.started = false;
    this.disarm();
  }

  /** Beats from `fromMs` (monotonic ms) on, resting until then; undefined rests until told again. */
  watchFrom(fromMs: number | undefined): void {
    this.fromMs = fromMs;
    if (!this.started) return;
    const now = this.now();
    // A beat due and not run yet (held up by the pause it would tell of) has its turn first.
    if (this.timer !== undefined && this.dueMs <= now) this.beat(now);
    else if (fromMs === undefined) this.disarm();
    // Sooner than the pending beat, by more than a period: a later one is left to re-arm itself.
    else if (this.timer === undefined || Math.max(fromMs, now) < this.dueMs - this.options.everyMs) this.arm(Math.max(fromMs, now));
  }

  /** The last pause noticed, one that is ending now included (its timer may not have run yet); undefined before any. */
  last(): Pause | undefined {
    const now = this.now();
    if (this.timer !== undefined && this.dueMs <= now) this.beat(now);
    return this.lastPause;
  }

  /** The pending beat, at `now`: late by more than `pauseMs` less its period, it ends a pause. */
  private beat(now: number): void {
    const gapMs = now - this.dueMs + this.options.everyMs;
    if (gapMs > this.options.pauseMs) this.lastPause = { endMs: now, lengthMs: gapMs };
    this.armFrom(now);
  }

  /** The next beat a period after `now`, or where the watch begins if that is later. */
  private armFrom(now: number): void {
    if (this.fromMs === undefined) this.disarm();
    else this.arm(Math.max(now + this.options.everyMs, this.fromMs));
  }

  private arm(dueMs: number): void {
    clearTimeout(this.timer);
    this.dueMs = dueMs;
    const delayMs = Math.max(0, dueMs - this.now());
    // A step short of the beat arms the rest; the beat itself is one due now or past.
    this.timer = setTimeout(
      () => (delayMs > LONGEST_TIMER_MS ? this.arm(dueMs) : this.beat(this.now())),
      Math.min(delayMs, LONGEST_TIMER_MS),
    );
    // It only watches: it never keeps the process alive.
    this.timer.unref();
  }

  private disarm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private now(): number {
    return (this.options.now ?? performance.now.bind(performance))();
  }
}
