/**
 * celery beat's schedule file as last runs (src/importers/celery-schedule-file.ts): a sent entry's
 * last_run_at is a run, an unsent one's (total_run_count 0) the anchor of its grid, an entry the file
 * lacks starts afresh with a note, and a file celery beat would reset carries nothing over; and
 * `--schedule-file` without a deployment to write into is refused before any Python runs.
 */
import { describe, expect, it } from 'vitest';
import { lastRunsOf } from '../../src/importers/celery-schedule-file.js';
import { runCli } from '../support/cli.js';

describe('celery beat schedule file', () => {
  it('takes each imported entry’s last run, an unsent one as an anchor, and notes those it lacks', () => {
    const { runs, notes } = lastRunsOf(
      {
        reset: null,
        entries: {
          sent: { last_run_at: 1_795_600_000.25, total_run_count: 3 },
          unsent: { last_run_at: 1_795_600_100, total_run_count: 0 },
          gone: { last_run_at: 1_795_600_000, total_run_count: 1 },
          garbage: { last_run_at: 'yesterday', total_run_count: -1 },
        },
      },
      ['sent', 'unsent', 'new', 'garbage', 'constructor'],
      'celerybeat-schedule',
    );
    expect(runs).toEqual([
      { name: 'sent', lastRunMs: 1_795_600_000_250, runCount: 3, anchor: false },
      { name: 'unsent', lastRunMs: 1_795_600_100_000, runCount: 0, anchor: true },
    ]);
    expect(notes.map((n) => n.where)).toEqual([
      'schedule file "celerybeat-schedule": "new"',
      'schedule file "celerybeat-schedule": "garbage"',
      'schedule file "celerybeat-schedule": "constructor"',
    ]);
  });

  it('carries nothing over from a file celery beat would reset, and says why', () => {
    const why = "its time zone 'UTC' is not the app timezone 'Europe/Berlin', so celery beat would reset it";
    const { runs, notes } = lastRunsOf({ reset: why, entries: { a: { last_run_at: 1, total_run_count: 1 } } }, ['a'], 'f');
    expect(runs).toEqual([]);
    expect(notes[0]?.message).toBe(`${why}; no last run is carried over, every entry starts afresh`);
  });

  it('refuses --schedule-file without a deployment to write into, or with --into-store, before running Python (exit 2)', async () => {
    const alone = await runCli(['import', 'celery', '--app', 'proj', '--schedule-file', 'celerybeat-schedule']);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toContain('--schedule-file carries celery beat');
    const store = await runCli(['import', 'celery', '--app', 'proj', '--schedule-file', 's', '--into-store', '--config', 'x.yaml']);
    expect(store.code).toBe(2);
    expect(store.stderr).toContain('not --into-store');
  });
});
