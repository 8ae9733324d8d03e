/**
 * The runs waiting for a place in their concurrency group (ports/waiting-runs.ts), in the waiting
 * zset (keys.ts `waiting`): made to wait by lua/group-wait.lua, published by lua/retry-fenced.lua
 * (RedisFencedDispatcher.publishRetry with this zset), discarded here.
 */
import type { RedisClient } from './connect.js';
import type { SchedulerKeys } from './keys.js';
import { nameWrongType } from './server-errors.js';
import { withScripts } from './scripts.js';
import { decodeWaitingMember, encodeWaitingMember } from './waiting-codec.js';
import type { WaitCode, WaitingRun, WaitingRunsStore } from '../ports/waiting-runs.js';

const CODES: Readonly<Record<number, WaitCode>> = { 0: 'stale', 1: 'waits', 2: 'superseded' };

export class WaitingStore implements WaitingRunsStore {
  constructor(
    private readonly client: RedisClient,
    private readonly keys: SchedulerKeys,
    /** lock.maxClockSkew: the script refuses slots further ahead of Redis's clock. */
    private readonly maxAheadMs: number,
  ) {}

  async wait(runs: readonly WaitingRun[], token: string, nowMs: number): ReturnType<WaitingRunsStore['wait']> {
    const { fence, state, entries, stop, waiting } = this.keys;
    const args = [fence, state, entries, stop, waiting, token, String(nowMs), String(this.maxAheadMs), String(runs.length)];
    for (const run of runs) args.push(run.entry, String(run.slotMs), run.revision ?? '', run.taskId, encodeWaitingMember(run));
    const reply = await withScripts(this.client)
      .groupWait(5, args)
      .catch(async (error: unknown) => {
        throw await nameWrongType(this.client, error, [
          [state, 'hash'],
          [entries, 'hash'],
          [waiting, 'zset'],
        ]);
      });
    if (reply[0] === -1) return 'fenced';
    if (reply[0] === -3) return 'stopped';
    if (reply[0] === -2) return { ahead: { redisMs: Number(reply[1]), slotMs: Number(reply[2]) } };
    return reply.slice(1).map((code) => CODES[code] ?? 'superseded');
  }

  async waiting(max: number): Promise<{ member: string; run: WaitingRun | undefined }[]> {
    const members = await this.client
      .zrange(this.keys.waiting, '0', String(Math.min(max, Number.MAX_SAFE_INTEGER) - 1))
      .catch(async (error: unknown) => {
        throw await nameWrongType(this.client, error, [[this.keys.waiting, 'zset']]);
      });
    return members.map((member) => ({ member, run: decodeWaitingMember(member) }));
  }

  async waitsAt(entry: string, slotMs: number): Promise<boolean> {
    const members = await this.client.zrangebyscore(this.keys.waiting, slotMs, slotMs, 'LIMIT', 0, 1000);
    return members.some((member) => decodeWaitingMember(member)?.entry === entry);
  }

  async discard(member: string): Promise<void> {
    await this.client.zrem(this.keys.waiting, member);
  }
}
