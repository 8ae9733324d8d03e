/**
 * The ChordSizeWriter port on a Celery Redis result backend: what `RedisBackend.set_chord_size`
 * writes before a chord's header is sent (`<global_keyprefix>celery-taskset-meta-<group>.s`, the
 * header's task count, under `result_expires`), so that the header's last task to return fires
 * the body (`on_chord_part_return` compares its count with it). A SET of the same value: writing it
 * again for a replayed run changes nothing.
 */
import type { Redis } from 'ioredis';
import { DEFAULTS } from '../base/defaults.js';
import { groupKeyPrefix } from '../celery/result-meta.js';
import type { ChordSize } from '../celery/message.js';
import type { ChordSizeWriter } from '../ports/dispatcher.js';

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
    for (const { groupId, size } of sizes) pipeline.set(`${this.prefix}${groupId}.s`, String(size), 'EX', DEFAULTS.chordSizeTtlS);
    const replies = await pipeline.exec();
    const failed = replies?.find(([error]) => error !== null)?.[0];
    if (replies === null || failed) throw failed ?? new Error('the result backend discarded the transaction');
  }

  close(): Promise<void> {
    return this.client.status === 'wait'
      ? Promise.resolve()
      : this.client.quit().then(
          () => undefined,
          () => this.client.disconnect(),
        );
  }
}
