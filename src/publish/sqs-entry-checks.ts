/**
 * What kombu's SQS transport would not deliver, found in the config's entries before anything runs
 * (`beat check`, `beat run`): a route through a named exchange (kombu keeps exchange bindings in
 * each process's memory on SQS, so it reaches no queue) and, with predefined queues, a queue not
 * among them. Runtime entries meet the same rules when sent: their runs fail with the same reason.
 * Registered for SQS in send-checks.ts.
 */
import { resolveDestination } from '../celery/routing.js';
import type { ResolvedConfig } from '../config/resolve.js';
import type { ConfigProblem } from '../base/errors.js';
import { sqsPlanSettings, sqsTarget } from '../sqs/message.js';

export function sqsEntryProblems(config: ResolvedConfig): ConfigProblem[] {
  const settings = sqsPlanSettings(config.broker.transportOptions);
  const problems: ConfigProblem[] = [];
  for (const entry of config.entries) {
    const target = sqsTarget(resolveDestination(entry.task, entry.options, config), settings);
    if ('problem' in target)
      problems.push({ path: `beatSchedule.${entry.name}`, message: `with an SQS broker its runs would fail: ${target.problem}` });
  }
  return problems;
}
