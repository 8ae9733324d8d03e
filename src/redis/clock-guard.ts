/**
 * Whether this replica's clock can be trusted to lead. Schedules fire by the local clock; the state
 * Redis's clock (TIME) is the one every replica shares, and the fenced scripts check slots against
 * it. A replica further from it than lock.maxClockSkew does not take the lock, and a leader steps
 * down, until a measurement is back within: runs early or late by more than that, or slots recorded
 * ahead of the other replicas' clocks (which stops them publishing until their clocks get there),
 * are worse than a failover to a replica with a right clock.
 *
 * Measured at start, before every attempt to take the lock, and while leading once per lock
 * renewal period (its own timer: no round trip on the publish path). Between two measurements the
 * fenced scripts refuse any slot further ahead of Redis's clock than the bound (reportAhead).
 */
import type { RedisClient } from './connect.js';
import { boundText } from '../config/duration.js';
import { errorMessage } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import type { SlotAhead } from '../ports/dispatcher.js';

/** How far the local clock is ahead of Redis's (negative: behind), ms; undefined when the reading is not conclusive. */
export async function measureSkew(client: RedisClient, clock: { now(): number }, maxErrorMs: number): Promise<number | undefined> {
  const mono = performance.now();
  const before = clock.now();
  const [seconds, micros] = (await client.time()) as [string | number, string | number];
  const after = clock.now();
  // The midpoint is off by at most half the round trip: a slow one (a busy Redis) says too little.
  if ((performance.now() - mono) / 2 > maxErrorMs) return undefined;
  return (before + after) / 2 - (Number(seconds) * 1000 + Number(micros) / 1000);
}

export interface ClockGuardOptions {
  /** The state Redis: its TIME is the reference. */
  readonly client: RedisClient;
  readonly clock: { now(): number };
  /** lock.maxClockSkew. */
  readonly maxSkewMs: number;
  readonly logger: Logger;
}

export class ClockGuard {
  /** Why this replica must not lead now (for /readyz and the log), or undefined. */
  refusal: string | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: ClockGuardOptions) {}

  /**
   * Measures the skew now and returns the reason not to lead, or undefined. A reading that fails or
   * is not conclusive keeps the last verdict: the fenced scripts still check every slot.
   */
  async check(): Promise<string | undefined> {
    const { client, clock, maxSkewMs, logger } = this.options;
    let skew: number | undefined;
    try {
      skew = await measureSkew(client, clock, maxSkewMs / 2);
    } catch (error) {
      logger.debug({ event: EVENTS.clockSkew, err: errorMessage(error) }, 'could not read the Redis server time');
      return this.refusal;
    }
    if (skew === undefined) return this.refusal;
    const skewMs = Math.round(skew);
    if (Math.abs(skew) > maxSkewMs) {
      const reason = `the local clock is ${Math.abs(skewMs)} ms ${skew > 0 ? 'ahead of' : 'behind'} the Redis server's, more than lock.maxClockSkew (${boundText(maxSkewMs)})`;
      if (this.refusal === undefined) {
        logger.warn(
          { event: EVENTS.clockSkew, skewMs, maxClockSkewMs: maxSkewMs },
          `${reason}: not leading until it is back within (schedules fire by the local clock). Synchronise the clock (NTP).`,
        );
      }
      this.refusal = reason;
    } else if (this.refusal !== undefined) {
      logger.info(
        { event: EVENTS.clockSynced, skewMs, maxClockSkewMs: maxSkewMs },
        "the local clock agrees with the Redis server's again; this replica may lead",
      );
      this.refusal = undefined;
    }
    return this.refusal;
  }

  /** While leading: measures every `periodMs` and calls `onSkewed` with the reason when beyond the bound. */
  watch(periodMs: number, onSkewed: (reason: string) => void): void {
    this.unwatch();
    const timer = setInterval(() => {
      void this.check().then((reason) => {
        if (reason !== undefined && this.timer === timer) onSkewed(reason);
      });
    }, periodMs);
    this.timer = timer;
  }

  unwatch(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** A fenced script refused a slot ahead of Redis's clock: refuse to lead until a measurement says the clock is back. */
  reportAhead(ahead: SlotAhead): string {
    this.refusal = `the local clock is ahead of the Redis server's: a slot ${ahead.slotMs - ahead.redisMs} ms ahead of its clock was refused (lock.maxClockSkew ${boundText(this.options.maxSkewMs)})`;
    return this.refusal;
  }
}
