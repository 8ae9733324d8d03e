/** pauseOnFailure in the config: refused where no failure could be known, with the place and the fix. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { problemsOf } from '../support/config-problems.js';

describe('pauseOnFailure settings', () => {
  it('needs run outcomes and a stored result, and is a whole number of at least 1', () => {
    expect(problemsOf({ beatSchedule: { a: { task: 't', schedule: 1, pauseOnFailure: 2 } } })).toEqual([
      "beatSchedule.a.pauseOnFailure: pauseOnFailure needs to know which runs failed: set resultBackend (the workers' Celery result_backend) or taskEvents (workers with -E), or remove pauseOnFailure",
    ]);
    expect(
      problemsOf({ taskEvents: true, beatSchedule: { a: { task: 't', schedule: 1, pauseOnFailure: 2, options: { ignoreResult: true } } } }),
    ).toEqual([
      "beatSchedule.a.pauseOnFailure: pauseOnFailure needs the task's result to know that a run failed, but options.ignoreResult is true; remove one of them",
    ]);
    expect(problemsOf({ taskEvents: true, beatSchedule: { a: { task: 't', schedule: 1, pauseOnFailure: 0 } } })).toEqual([
      'beatSchedule.a.pauseOnFailure: pauseOnFailure must be a whole number of at least 1 (failed runs in a row that pause the entry)',
    ]);
    const config = parseConfig(
      { resultBackend: 'redis://127.0.0.1:6379/1', beatSchedule: { a: { task: 't', schedule: 1, pause_on_failure: 3 } } },
      'test',
    );
    expect(config.entries[0]?.pauseOnFailure).toBe(3);
  });
});
