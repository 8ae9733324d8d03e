/**
 * The reading verbs every door shares: an entry's run history and the audit trail, as `beat history`
 * and `beat audit` read them. Reads write nothing, so they take no operator.
 */
import type { AuditEvent } from '../control/audit-events.js';
import { runView } from '../control/run-view.js';
import type { RunView } from '../control/run-view.js';
import type { AuditLog } from '../redis/audit-log.js';
import type { RedisRunHistory } from '../redis/run-history-store.js';

/** An entry's last runs, newest first, at most `limit`, their times in `zone` (none when the deployment keeps no outcomes). */
export async function entryHistory(runs: Pick<RedisRunHistory, 'list'>, entry: string, limit: number, zone: string): Promise<RunView[]> {
  return (await runs.list(entry, limit)).map((r) => runView(r, zone));
}

/** Up to `limit` audit events older than `before`, newest first, of one entry or all. */
export function auditTrail(log: Pick<AuditLog, 'read'>, query: { entry?: string; limit: number; before?: string }): Promise<AuditEvent[]> {
  return log.read(query);
}
