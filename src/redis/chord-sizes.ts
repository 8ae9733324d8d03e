/**
 * The ChordSizeWriter port on a Celery Redis result backend: what `RedisBackend.set_chord_size`
 * writes before a chord's header is sent (`<global_keyprefix>celery-taskset-meta-<group>.s`, the
 * header's task count, under `result_expires`), so that the header's last task to return fires
 * the body (`on_chord_part_return` compares its count with it). A SET of the same value: writing it
 * again for a replayed run changes nothing.
 */
import type { Redis } from 'ioredis';
import { groupKeyPrefix } from '../celery/result-meta.js';
import type { ChordSize } from '../celery/message.js';
import type { ChordSizeWriter } from '../ports/dispatcher.js';
import { closeRedisClient } from './connect.js';

/**
 * A chord run's size in the result backend (`celery-taskset-meta-<group>.s`, docs/canvas.md)
 * expires after this long, as Celery's `set_chord_size` writes it under the default `result_expires`
 * (one day); the worker renews it on every header task's return.
 */
const CHORD_SIZE_TTL_S = 86_400;

export class RedisChordSizes implements ChordSizeWriter {
  private readonly prefix: string;

  constructor(
    private readonly client: Redis,
    globalKeyprefix: string | undefined,
  ) {
    this.prefix = groupKeyPrefix(globalKeyprefix);
  }

  async write(sizes: readonly ChordSize[]): Promise<void> {
    // Connected on first use: most deployments never run a chord.
    if (this.client.status === 'wait') await this.client.connect();
    const pipeline = this.client.multi();
    for (const { groupId, size } of sizes) pipeline.set(`${this.prefix}${groupId}.s`, String(size), 'EX', CHORD_SIZE_TTL_S);
    const replies = await pipeline.exec();
    const failed = replies?.find(([error]) => error !== null)?.[0];
    if (replies === null || failed) throw failed ?? new Error('the result backend discarded the transaction');
  }

  close(): Promise<void> {
    // Closed for good through connect.ts, so that an outage of the result backend waits for it no longer.
    return this.client.status === 'wait' ? Promise.resolve() : closeRedisClient(this.client);
  }
}
