/** retry and deadLetter in the config and on runtime entries: bounds, defaults, and an outcome source to know how runs ended. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { parseEntryDefinition } from '../../src/config/entry-definition.js';
import { deadLettersOf, retryPolicyOf } from '../../src/config/retry-schema.js';
import { problemsOf } from '../support/config-problems.js';

const BACKEND = 'redis://127.0.0.1:6379/1';
const entry = (extra: Record<string, unknown>) => ({ task: 't', schedule: 60, ...extra });

describe('retry settings', () => {
  it("resolves an entry's own policy over the config's, with the backoff's defaults, and false turns the config's off", () => {
    const config = parseConfig(
      {
        resultBackend: BACKEND,
        retry: { attempts: 2 },
        dead_letter: true,
        beatSchedule: {
          own: entry({ retry: { attempts: 3, backoff: { initial: '10s', factor: 3, max: '5m' }, on: ['failure', 'failure'] } }),
          inherits: entry({}),
          off: entry({ retry: false, deadLetter: false }),
        },
      },
      'test',
    );
    const [own, inherits, off] = config.entries;
    expect(retryPolicyOf(own ?? {}, config)).toEqual({ attempts: 3, initialMs: 10_000, factor: 3, maxMs: 300_000, on: ['failure'] });
    expect(retryPolicyOf(inherits ?? {}, config)).toEqual({
      attempts: 2,
      initialMs: 30_000,
      factor: 2,
      maxMs: 600_000,
      on: ['failure', 'lost'],
    });
    expect(retryPolicyOf(off ?? {}, config)).toBeUndefined();
    expect([own, inherits, off].map((e) => deadLettersOf(e ?? {}, config))).toEqual([true, true, false]);
    const plain = parseConfig({ resultBackend: BACKEND, beatSchedule: { a: entry({}) } }, 'test');
    expect(retryPolicyOf(plain.entries[0] ?? {}, plain)).toBeUndefined();
    expect(deadLettersOf(plain.entries[0] ?? {}, plain)).toBe(false);
  });

  it('refuses attempts, factors and waits out of bounds, naming the field and the bound', () => {
    expect(problemsOf({ resultBackend: BACKEND, beatSchedule: { a: entry({ retry: { attempts: 0 } }) } })).toEqual([
      'beatSchedule.a.retry.attempts: retry.attempts must be a whole number from 1 to 100 (runs of one slot, the first included)',
    ]);
    expect(problemsOf({ resultBackend: BACKEND, retry: { attempts: 2.5 } })).toEqual([
      'retry.attempts: retry.attempts must be a whole number from 1 to 100 (runs of one slot, the first included)',
    ]);
    expect(
      problemsOf({ resultBackend: BACKEND, beatSchedule: { a: entry({ retry: { attempts: 3, backoff: { factor: 0.5 } } }) } }),
    ).toEqual([
      'beatSchedule.a.retry.backoff.factor: retry.backoff.factor must be a number from 1 to 10 (each wait is the one before times this)',
    ]);
    expect(
      problemsOf({ resultBackend: BACKEND, beatSchedule: { a: entry({ retry: { attempts: 3, backoff: { initial: '100ms' } } }) } }),
    ).toEqual(['beatSchedule.a.retry.backoff.initial: retry.backoff.initial must be between 1 s and 1 day (86,400 s), got "100ms"']);
    expect(
      problemsOf({ resultBackend: BACKEND, beatSchedule: { a: entry({ retry: { attempts: 3, backoff: { initial: '5m', max: '1m' } } }) } }),
    ).toEqual([
      'beatSchedule.a.retry.backoff.max: retry.backoff.max (60 s) must be at least retry.backoff.initial (300 s): no wait could be that short',
    ]);
    expect(problemsOf({ resultBackend: BACKEND, beatSchedule: { a: entry({ retry: { attempts: 3, on: [] } }) } })).toEqual([
      'beatSchedule.a.retry.on: retry.on must be a list of failure, lost (what ends an attempt in another), with at least one',
    ]);
    expect(problemsOf({ resultBackend: BACKEND, beatSchedule: { a: entry({ retry: { attempts: 3, on: ['timeout'] } }) } })).toEqual([
      'beatSchedule.a.retry.on[0]: retry.on must be a list of failure, lost (what ends an attempt in another), with at least one',
    ]);
    expect(problemsOf({ resultBackend: BACKEND, beatSchedule: { a: entry({ retry: true }) } })).toEqual([
      'beatSchedule.a.retry: retry must be an object such as { attempts: 3, backoff: { initial: 30s, factor: 2, max: 10m } }, or false',
    ]);
    expect(problemsOf({ resultBackend: BACKEND, beatSchedule: { a: entry({ deadLetter: 'yes' }) } })).toEqual([
      'beatSchedule.a.deadLetter: deadLetter must be true or false',
    ]);
  });

  it('refuses retry and deadLetter where no outcome is known, naming the setting and the fix', () => {
    const none = { taskEvents: false };
    expect(problemsOf({ ...none, retry: { attempts: 3 }, beatSchedule: { a: entry({}) } })).toEqual([
      "retry: retry needs to know how runs ended, and this config reads no outcomes: set resultBackend (the workers' Celery result_backend) or taskEvents: true (workers with -E), or remove retry",
    ]);
    expect(problemsOf({ ...none, beatSchedule: { a: entry({ retry: { attempts: 3 } }), b: entry({ deadLetter: true }) } })).toEqual([
      "beatSchedule.a.retry: retry needs to know how runs ended, and this config reads no outcomes: set resultBackend (the workers' Celery result_backend) or taskEvents: true (workers with -E), or remove retry",
      "beatSchedule.b.deadLetter: deadLetter needs to know which runs failed, and this config reads no outcomes: set resultBackend (the workers' Celery result_backend) or taskEvents: true (workers with -E), or remove deadLetter",
    ]);
    // Task events read by default hear failures, but give up a silent run without counting on the workers: not as lost.
    expect(problemsOf({ beatSchedule: { a: entry({ retry: { attempts: 3 } }) } })).toEqual([
      'beatSchedule.a.retry.on: retry on "lost" needs runs followed to their end, which task events read by default are not (a worker started without -E sends none): set resultBackend (the workers\' Celery result_backend) or taskEvents: true (workers with -E), or set retry.on: [failure]',
    ]);
    expect(parseConfig({ beatSchedule: { a: entry({ retry: { attempts: 3, on: ['failure'] } }) } }, 'test').entries).toHaveLength(1);
    expect(
      problemsOf({ resultBackend: BACKEND, retry: { attempts: 2 }, beatSchedule: { a: entry({ options: { ignoreResult: true } }) } }),
    ).toEqual([
      "beatSchedule.a.options.ignoreResult: retry needs the task's result to know how a run ended, but options.ignoreResult is true; remove one of them, or set retry: false on this entry",
    ]);
  });

  it('takes retry with every broker: Redis, AMQP and SQS publish attempts', () => {
    const amqp = { broker: { url: 'amqp://guest:guest@127.0.0.1:5672//' }, resultBackend: BACKEND };
    expect(parseConfig({ ...amqp, retry: { attempts: 3 }, beatSchedule: { a: entry({}) } }, 'test').entries).toHaveLength(1);
    expect(parseConfig({ ...amqp, beatSchedule: { a: entry({ retry: { attempts: 3 } }) } }, 'test').entries).toHaveLength(1);
    const sqs = { broker: { url: 'sqs://' }, state: { url: BACKEND }, resultBackend: BACKEND };
    expect(parseConfig({ ...sqs, beatSchedule: { a: entry({ retry: { attempts: 2, on: ['failure'] } }) } }, 'test').entries).toHaveLength(
      1,
    );
    expect(parseConfig({ resultBackend: BACKEND, retry: { attempts: 3 }, beatSchedule: { a: entry({}) } }, 'test').entries).toHaveLength(1);
  });

  it('a runtime entry is checked by the same schema (the API answers 400 with these problems)', () => {
    const parsed = parseEntryDefinition(entry({ retry: { attempts: 500 } }));
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? [] : parsed.problems).toEqual([
      { path: 'retry.attempts', message: 'retry.attempts must be a whole number from 1 to 100 (runs of one slot, the first included)' },
    ]);
    expect(parseEntryDefinition(entry({ retry: { attempts: 3, backoff: { initial: 30 } } })).ok).toBe(true);
  });
});
