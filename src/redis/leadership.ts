/**
 * One active scheduler per deployment. Every replica campaigns for a Redis lock (redlock); the
 * holder is the leader until it steps down or fails to renew. Two promises, kept on their own
 * timers so that a busy publisher cannot starve them:
 * - a leader stops leading *before* its lock can have expired for the others (the watchdog fires at
 *   the lock's validity minus a safety margin unless a renewal moved it), and goes back to standby;
 * - a standby takes over as soon as the lock is free: it is told by pub/sub when a leader steps down,
 *   and after a crash it retries right when the lock's TTL runs out.
 * On taking the lock, the leader writes its token to the fence key; the publish script refuses any
 * caller whose token is not the fence's, so a deposed leader that wakes up cannot publish.
 */
import { randomUUID } from 'node:crypto';
import type { RedisClient } from './connect.js';
import Redlock, { ExecutionError, Lock, ResourceLockedError } from 'redlock';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { errorMessage } from '../base/errors.js';
import { within } from '../base/within.js';
import { Renewer } from '../base/renewer.js';
import type { SchedulerEvents } from '../ports/events.js';
import { CONTROL_MESSAGE } from './control-store.js';
import { ENTRIES_MESSAGE, SCHEDULER_KEY_TYPES } from './keys.js';
import { asRedisError, lockRefusal, placeOf } from './server-errors.js';
import { leaseMarginMs } from '../config/lease-margin.js';

/** How often a leader that stepped down retries giving its lock back while Redis does not answer. */
const LOCK_RELEASE_RETRY_MS = 100;

export interface LeadershipKeys {
  /** The redlock resource (a key on every lock server). */
  readonly lock: string;
  /** Holds the current leader's token, on the state Redis. */
  readonly fence: string;
  /** Pub/sub channel on which a leader announces that it stepped down. */
  readonly events: string;
  /** Hash describing the current leader (instance id, since), for status. */
  readonly leader: string;
}

export interface LeadershipOptions {
  readonly instanceId: string;
  readonly keys: LeadershipKeys;
  readonly ttlMs: number;
  readonly renewEveryMs: number;
  readonly retryEveryMs: number;
  /** Redis servers of the lock (one, or an odd number for a quorum). */
  readonly lockClients: readonly RedisClient[];
  /** The state Redis: fence key, leader info, announcements. */
  readonly state: RedisClient;
  /** A dedicated connection for SUBSCRIBE (a subscribed connection can do nothing else). */
  readonly subscriber: RedisClient;
  readonly logger: Logger;
  readonly now?: () => number;
  /** Asked before each attempt to take the lock: a reason not to lead now (a skewed clock), or undefined. */
  readonly mayLead?: () => Promise<string | undefined>;
  /** Where failed renewals of the lock are reported. */
  readonly events?: Pick<SchedulerEvents, 'lockRenewFailed'>;
}

export interface Lease {
  /** The fence token to present when publishing. */
  readonly token: string;
  /** Stop publishing at this instant (performance.now(), which clock steps do not move) unless the lease is renewed. */
  readonly publishUntil: number;
}

/** What the leadership tells whoever started it, and asks it. */
export interface LeadershipOwner {
  /** Called when this instance becomes leader (the fence is already set). */
  onLead(lease: Lease): void;
  /** Called when this instance stops leading for any reason other than `stop()`. */
  onLose(reason: string): void;
  /** Called when a CLI announces a pause, resume or manual run on the events channel. */
  onControl?(): void;
  /** Called when a writer announces a change of the runtime entries on the events channel. */
  onEntries?(): void;
  /**
   * More fields for the leader hash, asked each time the lock is taken and written with the fence
   * (the config fingerprint, which a reload changes).
   */
  leaderFields?(): Record<string, string>;
}

export const STEP_DOWN_MESSAGE = 'released';

/** redlock's allowance for clock drift between the lock servers, as a share of the TTL. */
const LOCK_DRIFT_FACTOR = 0.01;

export class Leadership {
  private readonly redlock: Redlock;
  private readonly now: () => number;
  private lock: Lock | undefined;
  private lease: Lease | undefined;
  private campaignTimer: NodeJS.Timeout | undefined;
  /** Renews the lock while leading (the one renewer, base/renewer.ts). */
  private readonly renewer: Renewer;
  private watchdog: NodeJS.Timeout | undefined;
  private stopped = false;
  private lastAttemptError: string | undefined;
  private attempting = false;
  /**
   * The last attempt (settled once it ended): stop() waits for it, so that a lock it wins meanwhile
   * is given back before the connections close, not left held until it expires.
   */
  private lastAttempt: Promise<void> = Promise.resolve();
  /** A handover was announced while an attempt was in flight: try again as soon as it ends. */
  private retrySoon = false;
  private owner: LeadershipOwner | undefined;

  constructor(private readonly options: LeadershipOptions) {
    this.now = options.now ?? Date.now;
    // No retries inside redlock: the campaign loop owns the rhythm (and is woken by pub/sub).
    this.redlock = new Redlock([...options.lockClients], { retryCount: 0, driftFactor: LOCK_DRIFT_FACTOR });
    // redlock reports failed extensions of auto-extended locks this way; we do not use those, but an
    // EventEmitter without a listener would throw on 'error'.
    this.redlock.on('error', () => undefined);
    this.renewer = new Renewer({ everyMs: options.renewEveryMs, renew: () => this.renew(), atStart: false });
  }

  /** The current lease, if this instance leads and the lease has not run out. */
  currentLease(): Lease | undefined {
    const lease = this.lease;
    return lease !== undefined && performance.now() < lease.publishUntil ? lease : undefined;
  }

  /**
   * The current lease's token (currentLease), or undefined: what the runner checks before each
   * batch it publishes, handed to it as this function itself.
   */
  readonly leaseToken = (): string | undefined => this.currentLease()?.token;

  get isLeader(): boolean {
    return this.lease !== undefined;
  }

  /**
   * When a lock won or extended by a call begun at `started` (performance.now()) expires, on the
   * monotonic clock, which steps of the wall clock do not move: the TTL less redlock's allowance for
   * drift between the servers' clocks and Redis's 1 ms expiry precision.
   */
  private validUntil(started: number): number {
    return started + this.options.ttlMs - (Math.round(LOCK_DRIFT_FACTOR * this.options.ttlMs) + 2);
  }

  /** The safety margin: publishing stops this long before the lock could expire for the others. */
  private get marginMs(): number {
    return leaseMarginMs(this.options.ttlMs);
  }

  async start(owner: LeadershipOwner): Promise<void> {
    this.owner = owner;
    this.options.subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.options.keys.events && message === CONTROL_MESSAGE) {
        this.owner?.onControl?.();
        return;
      }
      if (channel === this.options.keys.events && message.startsWith(`${ENTRIES_MESSAGE} `)) {
        this.owner?.onEntries?.();
        return;
      }
      // Not its own announcement: an instance that just stepped down leaves the lock to the others.
      const own = message === `${STEP_DOWN_MESSAGE} ${this.options.instanceId}`;
      if (channel === this.options.keys.events && message.startsWith(STEP_DOWN_MESSAGE) && !own && !this.isLeader) {
        this.options.logger.info({ event: EVENTS.lockHandover }, 'the leader stepped down; taking over');
        // An attempt in flight (begun while the old leader still held the lock) ignores the timer
        // set here and would then wait a whole retryEvery: it must retry at once instead.
        this.campaignNow();
      }
    });
    await this.options.subscriber.subscribe(this.options.keys.events);
    this.scheduleAttempt(0);
  }

  private scheduleAttempt(delayMs: number): void {
    if (this.stopped || this.isLeader) return;
    if (this.campaignTimer) clearTimeout(this.campaignTimer);
    this.campaignTimer = setTimeout(() => void this.attempt(), delayMs);
  }

  private async attempt(): Promise<void> {
    if (this.stopped || this.isLeader || this.attempting) return;
    this.attempting = true;
    this.lastAttempt = this.tryToLead();
    await this.lastAttempt;
  }

  /** One attempt (`attempting` is set); schedules the next unless it leads or was stopped. */
  private async tryToLead(): Promise<void> {
    this.retrySoon = false;
    let next = this.options.retryEveryMs;
    if (this.options.mayLead !== undefined && (await this.options.mayLead()) !== undefined) {
      this.attempting = false;
      this.scheduleAttempt(this.retrySoon ? 0 : next);
      return;
    }
    try {
      const started = performance.now();
      const lock = await this.redlock.acquire([this.options.keys.lock], this.options.ttlMs);
      try {
        if (!this.stopped) {
          const replies = await this.options.state
            .multi()
            .set(this.options.keys.fence, lock.value)
            .del(this.options.keys.leader)
            .hset(this.options.keys.leader, {
              ...this.owner?.leaderFields?.(),
              instance: this.options.instanceId,
              since: String(this.now()),
              token: lock.value,
            })
            .exec();
          const failed = (replies ?? [[new Error('transaction discarded'), null]]).find(([error]) => error)?.[0];
          if (failed) throw failed;
        }
      } catch (error) {
        // Without the fence this instance cannot publish: holding the lock would only keep every
        // replica (this one included) out of it until it expires.
        await lock.release().catch(() => undefined);
        // The fence's SET overwrites any value; the leader hash's HSET is what a stray key refuses.
        throw asRedisError(error, placeOf(this.options.state, { key: this.options.keys.leader, keyHolds: SCHEDULER_KEY_TYPES.leader }));
      }
      // stop() may have run while the fence was being written: a leader now would never be stopped
      // (its lock would be renewed on after shutdown).
      if (this.stopped) {
        await lock.release().catch(() => undefined);
        return;
      }
      // redlock counts the lock's validity from when the attempt began. After a slow round trip
      // (a Redis that hung for longer than the TTL answers the queued attempt when it wakes) the
      // lock is already too old to publish under: leading would end at once in the watchdog, and
      // the lock would then keep every replica out for a whole TTL. Give it back and try again now.
      const publishUntil = this.validUntil(started) - this.marginMs;
      if (publishUntil <= performance.now()) {
        await lock.release().catch(() => undefined);
        this.options.logger.warn(
          { event: EVENTS.lockError },
          'took the lock too late to use it (Redis answered slowly); released it, retrying',
        );
        next = 0;
      } else {
        this.becomeLeader(lock, publishUntil);
        return;
      }
    } catch (error) {
      if (!(await isHeldElsewhere(error))) {
        // redlock says only "unable to achieve a quorum": the servers' refusal (NOPERM, OOM,
        // READONLY, a stray key) is in its votes, and it is what the operator must fix.
        const refusal = await lockRefusal(error);
        const message = errorMessage(refusal ?? error);
        // Once per outage, not once per retry.
        if (message !== this.lastAttemptError) {
          if (refusal)
            this.options.logger.error(
              { event: EVENTS.redisRefused, role: 'lock', code: refusal.code, err: refusal },
              `cannot take the lock: ${message}; retrying`,
            );
          else this.options.logger.warn({ event: EVENTS.lockError, err: error }, 'could not try the lock; retrying');
        }
        this.lastAttemptError = message;
      } else {
        // Held by another instance: try again right when it would expire, if that is sooner.
        const pttl = await this.options.state.pttl(this.options.keys.lock).catch(() => -2);
        if (pttl >= 0) next = Math.min(next, pttl + 5);
      }
    } finally {
      this.attempting = false;
    }
    this.scheduleAttempt(this.retrySoon ? 0 : next);
  }

  private becomeLeader(lock: Lock, publishUntil: number): void {
    this.lastAttemptError = undefined;
    this.lock = lock;
    this.lease = { token: lock.value, publishUntil };
    this.armWatchdog();
    this.renewer.start();
    this.options.logger.info({ event: EVENTS.lockAcquired, ttlMs: this.options.ttlMs }, 'leading');
    this.owner?.onLead(this.lease);
  }

  private armWatchdog(): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    const lease = this.lease;
    if (!lease) return;
    this.watchdog = setTimeout(
      () => this.lose('the lock could not be renewed in time'),
      Math.max(0, lease.publishUntil - performance.now()),
    );
  }

  private async renew(): Promise<void> {
    const lock = this.lock;
    const lease = this.lease;
    if (!lock || !lease || this.stopped) return;
    try {
      // redlock dates a lock on the wall clock (Lock.expiration) and refuses to extend one whose date
      // has passed: after a step forward of the clock, one that is still valid. What says how long
      // the lock is valid is the lease, on the monotonic clock (the watchdog ends it in time): the
      // lock to extend is described to redlock through its public constructor, dated by the lease
      // as the wall clock reads now, so that redlock refuses exactly what the lease says has expired
      // (test/integration/redlock-contract.test.ts pins what this relies on).
      const started = performance.now();
      const validMs = lease.publishUntil + this.marginMs - started;
      // Past it (the event loop was held up): the watchdog, due as well, ends the lease.
      if (validMs <= 0) return;
      const current = new Lock(this.redlock, lock.resources, lock.value, lock.attempts, Date.now() + validMs);
      const extended = await this.redlock.extend(current, this.options.ttlMs);
      if (this.lock !== lock) {
        // Lost meanwhile (the watchdog fired while the renewal was slow): this instance no longer
        // publishes, so give the renewed lock back instead of keeping the others out for a TTL.
        // The release only deletes the key while it still holds this lock's value.
        if (this.lock === undefined) await extended.release().catch(() => undefined);
        return;
      }
      this.lock = extended;
      this.lease = { token: extended.value, publishUntil: this.validUntil(started) - this.marginMs };
      this.armWatchdog();
    } catch (error) {
      // redlock says "unable to achieve a quorum" for both; only the votes tell a lost key from an unreachable Redis.
      const lost = await isHeldElsewhere(error);
      this.options.logger.warn(
        {
          event: EVENTS.lockRenewFailed,
          err: lost
            ? `the lock key ${this.options.keys.lock} no longer holds this leader's token (it expired, or something else wrote it)`
            : error,
        },
        'lock renewal failed',
      );
      this.options.events?.lockRenewFailed();
    }
  }

  /**
   * Stops leading (the lease is dropped at once) and goes back to standby, giving the lock back and
   * telling the standbys.
   */
  relinquish(reason: string): void {
    this.lose(reason);
  }

  /** A standby tries the lock now instead of at its next retry (the leader stepped down). */
  private campaignNow(): void {
    // Not before start(): an attempt then would lead with no owner to tell.
    if (this.owner === undefined) return;
    // An attempt in flight ignores the timer set here: it retries at once when it ends.
    this.retrySoon = true;
    this.scheduleAttempt(0);
  }

  private lose(reason: string): void {
    if (!this.lease) return;
    const lock = this.lock;
    const expiresAt = this.lease.publishUntil + this.marginMs;
    this.clearLeaderTimers();
    this.lock = undefined;
    this.lease = undefined;
    this.options.logger.warn({ event: EVENTS.lockLost, reason }, 'stopped leading; back to standby');
    this.owner?.onLose(reason);
    // Campaigning again only once the lock is given back leaves it to the standbys, told at once.
    if (lock) void this.handOver(lock, expiresAt).finally(() => this.scheduleAttempt(this.options.retryEveryMs));
    else this.scheduleAttempt(this.options.retryEveryMs);
  }

  /**
   * A leader that stepped down by itself gives its lock back and tells the standbys, as `stop()`
   * does, instead of keeping them out until the lock expires: one leads within milliseconds. Its
   * lease is already gone, so it starts no publish; one in flight is refused by the fence as soon
   * as the new leader writes it. The connection may be what failed (a reconnecting state
   * connection): the release is retried until it succeeds or the lock has expired anyway. It only
   * deletes the key while it still holds this lock's value. `expiresAt`: the lock's expiry, on the
   * monotonic clock.
   */
  private async handOver(lock: Lock, expiresAt: number): Promise<void> {
    while (!this.stopped && performance.now() < expiresAt) {
      try {
        await lock.release();
        this.options.logger.info({ event: EVENTS.lockReleased }, 'released the lock after stepping down; telling the standbys');
        await this.options.state
          .publish(this.options.keys.events, `${STEP_DOWN_MESSAGE} ${this.options.instanceId}`)
          .catch(() => undefined);
        return;
      } catch (error) {
        // Gone already (expired, or another instance's value): nothing to give back.
        if (await isHeldElsewhere(error)) return;
        await new Promise((resolve) => setTimeout(resolve, LOCK_RELEASE_RETRY_MS));
      }
    }
  }

  private clearLeaderTimers(): void {
    // A renewal in flight finds the lock gone when it settles and gives back what it renewed.
    void this.renewer.stop();
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = undefined;
  }

  /**
   * Stops campaigning. A leader releases its lock and tells the standbys, so one of them leads
   * within milliseconds. The caller has finished any publish in flight before calling this.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.campaignTimer) clearTimeout(this.campaignTimer);
    // An attempt in flight gives back what it wins once it sees `stopped`; one that won before
    // leaves the lock to the release below. Not waited for longer than a lock lives: whatever it
    // won has expired by then.
    await within(
      this.lastAttempt.catch(() => undefined),
      this.options.ttlMs,
      () => undefined,
    );
    this.clearLeaderTimers();
    const lock = this.lock;
    this.lock = undefined;
    this.lease = undefined;
    await this.options.subscriber.unsubscribe().catch(() => undefined);
    if (lock) {
      try {
        await lock.release();
        await this.options.state.publish(this.options.keys.events, `${STEP_DOWN_MESSAGE} ${this.options.instanceId}`);
        this.options.logger.info({ event: EVENTS.lockReleased }, 'released the lock and told the standbys');
      } catch (error) {
        this.options.logger.warn({ event: EVENTS.lockError, err: error }, 'could not release the lock; it expires by itself');
      }
    }
  }
}

/**
 * redlock reports both "held by another instance" and "Redis unreachable" as an ExecutionError; the
 * votes against tell them apart (ResourceLockedError for the former).
 */
async function isHeldElsewhere(error: unknown): Promise<boolean> {
  if (!(error instanceof ExecutionError)) return false;
  const stats = await Promise.all(error.attempts).catch(() => []);
  const votes = stats.flatMap((s) => [...s.votesAgainst.values()]);
  return votes.length > 0 && votes.every((vote) => vote instanceof ResourceLockedError);
}

export function newInstanceId(hostname: string, pid: number): string {
  return `${hostname}:${pid}:${randomUUID().slice(0, 8)}`;
}
