/**
 * Where a config's run outcomes come from: what it asks for (`followsOutcomes`, resolve.ts) and
 * what its broker lets the leader read without being asked (task events by default). Apart from
 * resolve.ts because it asks the broker registry, which reads the resolved config's types.
 */
import { brokerKindIfKnown } from './broker-kinds.js';
import { followsOutcomes } from './resolve.js';
import type { ResolvedConfig } from './resolve.js';

/**
 * Task events read by default: `taskEvents` unset, no result backend, and a broker that carries
 * them (kombu's SQS transport has no fanout). The leader then follows runs by the events the
 * workers send, without counting on them: a run no event tells of is given up as `unknown`, saying
 * that the workers may send none (docs/outcomes.md, "Task events by default").
 */
export function taskEventsByDefault(config: Pick<ResolvedConfig, 'resultBackend' | 'taskEvents' | 'broker'>): boolean {
  return (
    config.taskEvents === undefined && config.resultBackend === undefined && brokerKindIfKnown(config.broker.url)?.remoteControl === true
  );
}

/** Whether the leader keeps run histories: it follows outcomes, or reads task events by default. */
export function keepsRunHistory(config: Pick<ResolvedConfig, 'resultBackend' | 'taskEvents' | 'broker'>): boolean {
  return followsOutcomes(config) || taskEventsByDefault(config);
}
