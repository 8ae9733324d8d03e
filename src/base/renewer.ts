/**
 * The one renewer of what tsbeat keeps alive in Redis by writing it again within its TTL: the
 * leader's lock (redis/leadership.ts), RedBeat's lock while leading (redbeat/lock.ts) and this
 * replica's record in the registry (service/replica-heartbeat.ts). The cadence is set here once:
 * RENEWALS_PER_TTL renewals within a TTL, so that one slow or failed renewal still leaves
 * another before the key expires.
 */
/**
 * Renewals within a TTL of what tsbeat keeps alive by renewing it: the leader's lock unless
 * lock.renewEvery is set, RedBeat's lock, the replica's heartbeat when the TTL is short. Three: one
 * renewal can be slow or fail and the next still comes before the expiry.
 */
const RENEWALS_PER_TTL = 3;

/** How often something that lives `ttlMs` is renewed unless the config says otherwise (lock.renewEvery). */
export function renewalPeriodMs(ttlMs: number): number {
  return Math.floor(ttlMs / RENEWALS_PER_TTL);
}

export interface RenewerOptions {
  /** The time between two renewals' starts. */
  readonly everyMs: number;
  /** One renewal; its failures are its own business (it must not reject). */
  readonly renew: () => Promise<void>;
  /** Renew at once on start (true), or first after one period. */
  readonly atStart: boolean;
}

/**
 * Calls `renew` every `everyMs` from start() until stop(), never two at a time: a renewal due while
 * the last one is still in flight is skipped (a second call would renew the same thing with the same
 * token), and the next tick starts one. Its timer does not keep the process alive.
 */
export class Renewer {
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;

  constructor(private readonly options: RenewerOptions) {}

  get running(): boolean {
    return this.timer !== undefined;
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.tick(), this.options.everyMs);
    this.timer.unref();
    if (this.options.atStart) this.tick();
  }

  /** No more renewals; settles once the one in flight (if any) has. */
  stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    return this.inFlight ?? Promise.resolve();
  }

  private tick(): void {
    if (this.inFlight !== undefined) return;
    this.inFlight = this.options.renew().finally(() => {
      this.inFlight = undefined;
    });
  }
}
