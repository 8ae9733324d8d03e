/**
 * A task run every `intervalMs` and at once when poked, never two at a time: a poke during a run
 * makes one more run right after it. After its first run it runs on the interval's grid of the
 * monotonic clock (see `schedule`). The control loop, the catalog of runtime entries and the alert
 * sender all look at Redis this way (on a schedule, and sooner when told something changed).
 */
export interface PokedLoopOptions {
  readonly intervalMs: number;
  /** One look; failures are its own business (it must not reject). */
  readonly run: () => Promise<void>;
  /** Run at once on start (true) or first after one interval. */
  readonly runAtStart: boolean;
  /** Let the process exit while only this loop's timer is pending. */
  readonly unref?: boolean;
}

export class PokedLoop {
  private timer: NodeJS.Timeout | undefined;
  private busy: Promise<void> | undefined;
  private again = false;
  private running = false;
  /** Set by the run in progress (`rest`): the next run waits at least this long, unless poked. */
  private restMs = 0;

  constructor(private readonly options: PokedLoopOptions) {}

  start(): void {
    this.running = true;
    if (this.options.runAtStart) this.poke();
    else this.arm(this.options.intervalMs);
  }

  /** Runs now, or as soon as the run in progress ends. */
  poke(): void {
    if (!this.running) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.restMs = 0;
    this.busy = this.options.run().finally(() => {
      this.busy = undefined;
      if (!this.running) return;
      if (this.again) {
        this.again = false;
        this.poke();
      } else {
        this.schedule();
      }
    });
  }

  /** Asks for one more run after the one in progress (a run that found more to do than it took). */
  runAgain(): void {
    this.again = true;
  }

  /**
   * Asks the run in progress's next run to wait at least `delayMs` (to the first mark of the grid
   * after it), unless poked meanwhile: a run that knows nothing is due before then (the alert
   * sender with no delivery pending) spares the process and Redis the looks in between.
   */
  rest(delayMs: number): void {
    this.restMs = Math.max(0, delayMs);
  }

  /** Stops, after the run in progress. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.busy;
  }

  /**
   * The next mark of the interval's grid on the monotonic clock, rather than an interval after this
   * run ended: loops of one interval (the control loop, the catalog's look and the alert sender,
   * each a second) wake the idle process together, once, instead of each on its own. A mark nearer
   * than a tenth of the interval is skipped for the one after: a timer may fire a little before its
   * mark, and a run that ends before it must not run again at once.
   */
  private schedule(): void {
    const { intervalMs } = this.options;
    const toMarkMs = intervalMs > 0 ? intervalMs - (performance.now() % intervalMs) : 0;
    const nextMarkMs = toMarkMs < intervalMs / 10 ? toMarkMs + intervalMs : toMarkMs;
    // A rest asked for skips the marks before it ends, keeping to the grid.
    const restedMs =
      intervalMs > 0 && this.restMs > nextMarkMs
        ? nextMarkMs + Math.ceil((this.restMs - nextMarkMs) / intervalMs) * intervalMs
        : nextMarkMs;
    this.restMs = 0;
    this.arm(restedMs);
  }

  private arm(delayMs: number): void {
    this.timer = setTimeout(() => this.poke(), delayMs);
    if (this.options.unref === true) this.timer.unref();
  }
}
