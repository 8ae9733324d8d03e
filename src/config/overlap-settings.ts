/**
 * Overlap settings that are valid alone but not in this config: a policy other than "allow" must
 * know when an entry's previous run finished, which needs run outcomes (a resultBackend or taskEvents) and a
 * task that stores its result. Paths as the schema's.
 */
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

export function overlapSettingProblems(
  entries: Readonly<Record<string, Pick<ParsedEntry, 'overlap' | 'overlapTimeout' | 'options'>>>,
  outcomesKnown: boolean,
): { path: (string | number)[]; message: string }[] {
  const problems: { path: (string | number)[]; message: string }[] = [];
  for (const [name, entry] of Object.entries(entries)) {
    const path = ['beatSchedule', name];
    if (entry.overlap === 'allow') {
      if (entry.overlapTimeout !== undefined)
        problems.push({
          path: [...path, 'overlapTimeout'],
          message: 'overlapTimeout only applies with overlap "skip" or "bufferOne"; set overlap, or remove overlapTimeout',
        });
      continue;
    }
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
