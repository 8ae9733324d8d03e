/**
 * The ResultReader port on a Celery Redis result backend (`result_backend` redis://, rediss://,
 * sentinel://): MGET of `celery-task-meta-<id>` keys, under `global_keyprefix` when the workers'
 * `result_backend_transport_options` set one (result-meta.ts has the layout and the decoding).
 */
import type { Redis } from 'ioredis';
import { decodeResultMeta, taskKeyPrefix } from '../celery/result-meta.js';
import type { ResultMeta, ResultReader } from '../ports/outcomes.js';

export class RedisResultReader implements ResultReader {
  private readonly prefix: string;

  constructor(
    private readonly client: Redis,
    globalKeyprefix: string | undefined,
  ) {
    this.prefix = taskKeyPrefix(globalKeyprefix);
  }

  async read(taskIds: readonly string[]): Promise<(ResultMeta | undefined)[]> {
    if (taskIds.length === 0) return [];
    const values = await this.client.mget(taskIds.map((id) => this.prefix + id));
    return values.map((v) => (v === null ? undefined : decodeResultMeta(v)));
  }
}
