/**
 * Overlap settings that are valid alone but not in this config: a policy other than "allow" must
 * know when an entry's previous run finished, which needs run outcomes (a resultBackend or taskEvents) and a
 * task that stores its result. Paths as the schema's.
 */
import { BROKER_KINDS } from './broker-kinds.js';
import type { BrokerKind } from './broker-kinds.js';
import type { ParsedEntry } from './schema.js';

/** pauseOnFailure counts failed runs: it needs run outcomes, and a task whose result is stored. */
export function pauseOnFailureProblems(
  entries: Readonly<Record<string, Pick<ParsedEntry, 'pauseOnFailure' | 'options'>>>,
  outcomesKnown: boolean,
): { path: (string | number)[]; message: string }[] {
  const problems: { path: (string | number)[]; message: string }[] = [];
  for (const [name, entry] of Object.entries(entries)) {
    if (entry.pauseOnFailure === undefined) continue;
    const path = ['beatSchedule', name, 'pauseOnFailure'];
    if (!outcomesKnown) {
      problems.push({
        path,
        message:
          "pauseOnFailure needs to know which runs failed: set resultBackend (the workers' Celery result_backend) or taskEvents (workers with -E), or remove pauseOnFailure",
      });
    } else if (entry.options.ignoreResult === true) {
      problems.push({
        path,
        message: "pauseOnFailure needs the task's result to know that a run failed, but options.ignoreResult is true; remove one of them",
      });
    }
  }
  return problems;
}

/** The kinds that carry Celery's remote control, for messages: "Redis or AMQP". */
function remoteControlLabels(): string {
  return BROKER_KINDS.filter((kind) => kind.remoteControl)
    .map((kind) => kind.label)
    .join(' or ');
}

/** The policies that revoke the previous run through Celery's remote control. */
export const REVOKING_POLICIES: ReadonlySet<string> = new Set(['cancelOther', 'terminateOther']);

/**
 * `broker` is the broker's kind (undefined when its URL does not parse, which is said elsewhere):
 * without a fanout exchange (SQS) Celery's remote control, and with it a revoke, does not reach
 * the workers.
 */
export function overlapSettingProblems(
  entries: Readonly<Record<string, Pick<ParsedEntry, 'overlap' | 'overlapTimeout' | 'overlapBuffer' | 'overlapSignal' | 'options'>>>,
  outcomesKnown: boolean,
  broker?: Pick<BrokerKind, 'label' | 'remoteControl'>,
): { path: (string | number)[]; message: string }[] {
  const problems: { path: (string | number)[]; message: string }[] = [];
  for (const [name, entry] of Object.entries(entries)) {
    const path = ['beatSchedule', name];
    if (entry.overlapBuffer !== undefined && entry.overlap !== 'bufferAll')
      problems.push({
        path: [...path, 'overlapBuffer'],
        message: `overlapBuffer only applies with overlap "bufferAll" (this entry's is "${entry.overlap}"); set overlap: bufferAll, or remove overlapBuffer`,
      });
    if (entry.overlapSignal !== undefined && entry.overlap !== 'terminateOther')
      problems.push({
        path: [...path, 'overlapSignal'],
        message: `overlapSignal only applies with overlap "terminateOther" (this entry's is "${entry.overlap}"); set overlap: terminateOther, or remove overlapSignal`,
      });
    if (entry.overlap === 'allow') {
      if (entry.overlapTimeout !== undefined)
        problems.push({
          path: [...path, 'overlapTimeout'],
          message:
            'overlapTimeout only applies with overlap "skip", "bufferOne", "bufferAll", "cancelOther" or "terminateOther"; set overlap, or remove overlapTimeout',
        });
      continue;
    }
    if (REVOKING_POLICIES.has(entry.overlap) && broker?.remoteControl === false)
      problems.push({
        path: [...path, 'overlap'],
        message: `overlap "${entry.overlap}" revokes the previous run through Celery's remote control, which an ${broker.label} broker does not carry (it has no fanout exchange, so workers on ${broker.label} never receive a revoke); use overlap "skip", "bufferOne" or "bufferAll", or a ${remoteControlLabels()} broker`,
      });
    if (!outcomesKnown) {
      problems.push({
        path: [...path, 'overlap'],
        message: `overlap "${entry.overlap}" needs to know when the previous run finished: set resultBackend (the workers' Celery result_backend) or taskEvents (workers with -E), or remove overlap`,
      });
    } else if (entry.options.ignoreResult === true) {
      problems.push({
        path: [...path, 'overlap'],
        message: `overlap "${entry.overlap}" needs the task's result to know when a run finished, but options.ignoreResult is true; remove one of them`,
      });
    }
  }
  return problems;
}
