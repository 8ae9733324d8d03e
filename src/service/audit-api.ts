/**
 * The audit trail's reader for GET /api/audit (src/http/audit-api.ts), on the Redis stream. A failure
 * to reach Redis is REDIS_UNAVAILABLE (503, try again); anything else stays tsbeat's own (500).
 */
import type { Redis } from 'ioredis';
import { BeatError, ErrorCode, errorMessage } from '../base/errors.js';
import type { ApiAuditEvent, AuditReader } from '../http/audit-api.js';
import { isConnectionFailure } from '../http/failures.js';
import type { AuditEvent } from '../control/audit.js';
import type { AuditEventWire } from '../dashboard/wire.js';
import { AuditLog } from '../redis/audit-log.js';
import type { SchedulerKeys } from '../redis/keys.js';

/** The API's event; also the dashboard's AuditEventWire (its audit tab reads GET /api/audit), which the type holds it to. */
export function apiAuditEvent(event: AuditEvent): ApiAuditEvent & AuditEventWire {
  return {
    id: event.id ?? '',
    at: new Date(event.atMs).toISOString(),
    who: event.who,
    entry: event.entry,
    action: event.action,
    changes: event.changes,
    ...(event.note === undefined ? {} : { note: event.note }),
    ...(event.taskId === undefined ? {} : { taskId: event.taskId }),
  };
}

export function auditReader(client: Redis, keys: Pick<SchedulerKeys, 'audit'>): AuditReader {
  const log = new AuditLog(client, keys);
  return async (query) => {
    if (client.status !== 'ready') {
      throw new BeatError(ErrorCode.RedisUnavailable, `Redis is unreachable (connection ${client.status}); try again`);
    }
    try {
      return (await log.read(query)).map(apiAuditEvent);
    } catch (error) {
      if (error instanceof BeatError || !isConnectionFailure(error)) throw error;
      throw new BeatError(ErrorCode.RedisUnavailable, `Redis did not answer: ${errorMessage(error)}; try again`, { cause: error });
    }
  };
}
