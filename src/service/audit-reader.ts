/**
 * The audit trail's reader for GET /api/audit (src/http/api-app.ts), on the Redis stream. A failure
 * to reach Redis is REDIS_UNAVAILABLE (503, try again); anything else stays tsbeat's own (500).
 */
import type { RedisClient } from '../redis/connect.js';
import { errorMessage } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import type { AuditReader } from '../http/api-ports.js';
import { whileConnected } from './entries-handlers.js';
import { AuditLog, auditEvent, logAudit } from '../redis/audit-log.js';
import { auditTrail } from '../operations/read-verbs.js';
import type { SchedulerKeys } from '../redis/keys.js';
import type { ScopedEntry } from '../core/grants.js';
import type { SourceChange } from '../runtime/source-audit.js';

/** The API's audit reader: only the events of entries the caller may read (`scopeOf`: an entry's owner and labels now). */
export function auditReader(
  client: RedisClient,
  keys: Pick<SchedulerKeys, 'audit'>,
  scopeOf: (name: string) => ScopedEntry | undefined = () => undefined,
): AuditReader {
  const log = new AuditLog(client, keys);
  return (query, by) => whileConnected(client, async () => auditTrail(log, query, by, scopeOf));
}

/**
 * The catalog's RedBeat and django changes into the audit trail (who: the source), recorded by the
 * replica that leads when it sees them (each replica's catalog that holds an entry sees its
 * changes: one records them), and
 * logged as `beat.audit`. A failed write is logged and not retried: the trail is a record, not a
 * queue, and the change itself has taken effect.
 */
export function sourceChangeRecorder(
  client: RedisClient,
  keys: Pick<SchedulerKeys, 'audit'>,
  options: {
    /** Whether this replica records the changes now (it leads). */
    readonly records: () => boolean;
    readonly maxEvents: () => number | undefined;
    readonly logger: Logger;
    readonly now: () => number;
  },
): (changes: readonly SourceChange[]) => void {
  return (changes) => {
    if (changes.length === 0 || !options.records()) return;
    const recorded = changes;
    const atMs = options.now();
    const events = recorded.map((c) => auditEvent({ who: c.who }, atMs, c.entry, c.action, c.changes));
    new AuditLog(client, keys, options.maxEvents()).record(events).then(
      () => logAudit(options.logger, events),
      (error: unknown) =>
        options.logger.warn(
          { event: EVENTS.auditFailed, err: errorMessage(error), count: events.length },
          `could not record ${events.length} RedBeat/django changes in the audit trail: ${errorMessage(error)}`,
        ),
    );
  };
}
