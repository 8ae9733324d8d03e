/**
 * Retry settings that are valid alone but not in this config (as overlap-settings.ts for overlap):
 * without an outcome source tsbeat cannot know how a run ended. Paths as the schema's.
 */
import { DEFAULTS } from '../base/defaults.js';
import type { ParsedRetry } from './retry-schema.js';

/** How this config learns runs' outcomes (alerts-schema.ts OutcomeReading). */
interface OutcomeReading {
  /** Followed: a resultBackend or `taskEvents: true` (followsOutcomes). */
  readonly followed: boolean;
  /** Heard, task events read by default included (keepsRunHistory). */
  readonly heard: boolean;
}

/**
 * Retry settings valid alone but not in this config, at the schema's paths: a failure must be
 * heard (task events read by default do), a lost run needs runs followed (task events read by
 * default give a silent run up as unknown without counting on the workers to send any: retrying
 * those would publish every run `attempts` times against workers started without -E), and either
 * needs the task's result (options.ignoreResult: true stores none).
 */
export function retrySettingProblems(
  config: { readonly retry?: ParsedRetry | undefined; readonly deadLetter?: boolean | undefined },
  entries: Readonly<
    Record<
      string,
      {
        readonly retry?: ParsedRetry | false | undefined;
        readonly deadLetter?: boolean | undefined;
        readonly options: { readonly ignoreResult?: boolean | undefined };
      }
    >
  >,
  outcomes: OutcomeReading,
): { path: (string | number)[]; message: string }[] {
  const problems: { path: (string | number)[]; message: string }[] = [];
  const howToKnow = "set resultBackend (the workers' Celery result_backend) or taskEvents: true (workers with -E)";
  const check = (retry: ParsedRetry | undefined, deadLetter: boolean | undefined, path: (string | number)[]): boolean => {
    if (retry !== undefined) {
      const on = retry.on ?? DEFAULTS.retryOn;
      if (!outcomes.heard) {
        problems.push({
          path: [...path, 'retry'],
          message: `retry needs to know how runs ended, and this config reads no outcomes: ${howToKnow}, or remove retry`,
        });
        return false;
      }
      if (on.includes('lost') && !outcomes.followed) {
        problems.push({
          path: [...path, 'retry', 'on'],
          message: `retry on "lost" needs runs followed to their end, which task events read by default are not (a worker started without -E sends none): ${howToKnow}, or set retry.on: [failure]`,
        });
        return false;
      }
    } else if (deadLetter === true && !outcomes.heard) {
      problems.push({
        path: [...path, 'deadLetter'],
        message: `deadLetter needs to know which runs failed, and this config reads no outcomes: ${howToKnow}, or remove deadLetter`,
      });
      return false;
    }
    return true;
  };
  // The config's default is judged once, where it is written; an entry that inherits it is not named again.
  const configFine = check(config.retry, config.deadLetter, []);
  for (const [name, entry] of Object.entries(entries)) {
    const path = ['beatSchedule', name];
    if (!check(entry.retry === false ? undefined : entry.retry, entry.deadLetter, path)) continue;
    const inForce = entry.retry === false ? undefined : (entry.retry ?? (configFine ? config.retry : undefined));
    const deadLetter = entry.deadLetter ?? config.deadLetter;
    if ((inForce !== undefined || deadLetter === true) && entry.options.ignoreResult === true)
      problems.push({
        path: [...path, 'options', 'ignoreResult'],
        message: `${inForce === undefined ? 'deadLetter' : 'retry'} needs the task's result to know how a run ended, but options.ignoreResult is true; remove one of them, or set retry: false on this entry`,
      });
  }
  return problems;
}
