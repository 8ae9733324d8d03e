/**
 * What a reload (SIGHUP, --watch) may change while running: the schedule and how messages are
 * built. Where the service connects (broker, state, lock, Sentry, the run outcomes' sources), who
 * it is (deployment name) are fixed for the life of the process; a change to them is logged and
 * waits for a restart.
 */
import { maskUrl } from '../config/redis-url.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';

export function reloadableConfig(current: ResolvedConfig, next: ResolvedConfig, logger: Logger): ResolvedConfig {
  const fixed: string[] = [];
  if (next.name !== current.name) fixed.push(`name (${current.name} → ${next.name})`);
  if (next.broker.url !== current.broker.url) fixed.push(`broker.url (${maskUrl(current.broker.url)} → ${maskUrl(next.broker.url)})`);
  if (JSON.stringify(next.broker.transportOptions) !== JSON.stringify(current.broker.transportOptions))
    fixed.push('broker.transportOptions');
  if (JSON.stringify(next.state) !== JSON.stringify(current.state)) fixed.push('state');
  if (JSON.stringify(next.lock) !== JSON.stringify(current.lock)) fixed.push('lock');
  // The check-in sender is built at start with these (service/sentry.ts).
  if (JSON.stringify(next.sentry) !== JSON.stringify(current.sentry)) fixed.push('sentry');
  // The outcome tracker is built at start with these (service/outcomes-part.ts); an overlap policy that a
  // reload adds without them running here is published as "allow", with a warning (runtime/overlap.ts).
  if (JSON.stringify(next.resultBackend) !== JSON.stringify(current.resultBackend)) fixed.push('resultBackend');
  if (next.taskEvents !== current.taskEvents) fixed.push('taskEvents');
  if (next.outcomeTimeoutMs !== current.outcomeTimeoutMs) fixed.push('outcomeTimeout');
  if (fixed.length > 0) {
    logger.warn({ event: EVENTS.reload, needsRestart: fixed }, `these settings change only on restart and were kept: ${fixed.join(', ')}`);
  }
  return {
    ...next,
    name: current.name,
    broker: current.broker,
    state: current.state,
    lock: current.lock,
    sentry: current.sentry,
    resultBackend: current.resultBackend,
    taskEvents: current.taskEvents,
    outcomeTimeoutMs: current.outcomeTimeoutMs,
  };
}
