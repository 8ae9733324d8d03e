/**
 * While tsbeat leads, it holds RedBeat's beat lock too (`<prefix>:lock`), so that a RedBeat beat
 * started by mistake blocks in its start-up (RedBeat's beat_init handler waits in redis-py's
 * Lock.acquire, retrying every max_interval) instead of publishing the same entries. The value
 * semantics are redis-py's Lock that RedBeat uses: a token SET NX with an expiry, extended while it
 * is still the holder's token (redbeat-lock.lua). tsbeat's token is its instance id; the expiry is
 * tsbeat's lock.ttl, renewed every lock.renewEvery, released when tsbeat steps down or stops: a
 * RedBeat beat waiting for it then gets it within its max_interval.
 *
 * This lock only keeps a RedBeat beat out: tsbeat's exactly-once rests on its own fenced lock. A
 * lock already held by someone else (a RedBeat beat running) is logged as a warning and tried again
 * at each renewal; tsbeat goes on leading.
 */
import type { Redis } from 'ioredis';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { errorMessage } from '../base/errors.js';
import { withRedBeatScripts } from './scripts.js';
import { Renewer } from '../base/renewer.js';

export interface RedBeatLockOptions {
  readonly client: Redis;
  readonly key: string;
  readonly token: string;
  readonly ttlMs: number;
  readonly renewEveryMs: number;
  readonly logger: Logger;
}

export class RedBeatLock {
  /** Holds the lock again every lock.renewEvery while leading (the one renewer, base/renewer.ts). */
  private readonly renewer: Renewer;
  /** What the last try found: "held" (by us), "tsbeat" (an earlier leader's token), "taken" (by another), or an error text. */
  private last: string | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: RedBeatLockOptions) {
    this.renewer = new Renewer({ everyMs: options.renewEveryMs, renew: () => this.enqueue(() => this.hold()), atStart: true });
  }

  /** tsbeat leads: take the lock now and keep it. */
  lead(): void {
    this.renewer.start();
  }

  /** tsbeat no longer leads: give the lock back (if it is still ours). */
  standBy(): Promise<void> {
    if (!this.renewer.running) return this.chain.then(() => undefined);
    void this.renewer.stop();
    this.last = undefined;
    return this.enqueue(() => this.call('release').then(() => undefined));
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const next = this.chain.then(step, step);
    this.chain = next.catch(() => undefined);
    return this.chain as Promise<void>;
  }

  private async hold(): Promise<void> {
    const { key, logger } = this.options;
    let found: string;
    try {
      const reply = await this.call('hold');
      found = reply === 1 ? 'held' : String(reply).startsWith(TOKEN_PREFIX) ? 'tsbeat' : 'taken';
    } catch (error) {
      found = errorMessage(error);
    }
    if (!this.renewer.running || found === this.last) {
      this.last = found;
      return;
    }
    if (found === 'held') logger.info({ event: EVENTS.redbeatLockHeld, key }, `holding RedBeat's lock ${key} while leading`);
    else if (found === 'tsbeat')
      logger.info(
        { event: EVENTS.redbeatLockTaken, key },
        `RedBeat's lock ${key} is still held by an earlier tsbeat leader; taken once it expires (within lock.ttl)`,
      );
    else if (found === 'taken')
      logger.warn(
        { event: EVENTS.redbeatLockTaken, key },
        `RedBeat's lock ${key} is held by another process, probably a RedBeat beat: it may publish RedBeat's entries too. Stop it; tsbeat takes the lock once it is free`,
      );
    else logger.warn({ event: EVENTS.redbeatLockTaken, key, err: found }, `could not take RedBeat's lock ${key}: ${found}; retrying`);
    this.last = found;
  }

  private call(op: 'hold' | 'release'): Promise<number | string> {
    const { client, key, token, ttlMs } = this.options;
    return withRedBeatScripts(client).redbeatLock(1, key, token, String(ttlMs), op);
  }
}

/** The start of tsbeat's token in RedBeat's lock (then the instance id), to tell an earlier tsbeat leader from a RedBeat beat. */
export const TOKEN_PREFIX = 'tsbeat ';
