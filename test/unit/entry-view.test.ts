/**
 * One entry, one view (issue 65): `beat status --json`, the dashboard's row and the views the read
 * verb gives the API and the page carry every field of control/entry-view-schema.ts's schema and no other,
 * so that a new field is two files (the schema's line, buildStatus's) and shows up everywhere.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { parseConfig } from '../../src/config/load.js';
import { entryViewSchema } from '../../src/control/entry-view-schema.js';
import type { EntryView } from '../../src/control/entry-view-schema.js';
import { buildIndex, pageRow } from '../../src/dashboard/entry-rows.js';
import { entryViews } from '../../src/operations/read-verbs.js';
import type { RunRecord } from '../../src/ports/outcomes.js';
import { runCli } from '../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'tsbeat-entry-view-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The schema's fields, as a strict schema refuses any other: what every reader must carry, exactly. */
const strictView = z.strictObject(entryViewSchema.unwrap().shape);
const FIELDS = Object.keys(entryViewSchema.unwrap().shape).sort();

function expectWholeView(view: unknown, where: string): void {
  expect(Object.keys(view as object).sort(), where).toEqual(FIELDS);
  const parsed = strictView.safeParse(view);
  expect(parsed.success ? [] : parsed.error.issues, where).toEqual([]);
}

const settings = {
  name: `view-${randomUUID().slice(0, 8)}`,
  timezone: 'Europe/Berlin',
  resultBackend: 'redis://127.0.0.1:6379/1',
  beatSchedule: {
    owned: { task: 'a.b', schedule: 60, owner: 'gitops', labels: { team: 'billing' }, pauseOnFailure: 3 },
    chained: { chain: [{ task: 'a.one' }, { task: 'a.two' }], schedule: { crontab: { minute: 5 } }, options: { queue: 'slow' } },
  },
};

describe('the entry view', () => {
  it('is what beat status --json shows of every entry: every field of the schema, no other', async () => {
    const file = join(dir, 'beat.json');
    writeFileSync(file, JSON.stringify({ ...settings, broker: { url: 'redis://127.0.0.1:6379/15' } }));
    const r = await runCli(['status', '--config', file, '--json'], { env: {}, now: Date.now() });
    expect(r.stderr).toBe('');
    const entries = (JSON.parse(r.stdout) as { entries: EntryView[] }).entries;
    expect(entries.map((e) => e.name).sort()).toEqual(['chained', 'owned']);
    for (const e of entries) expectWholeView(e, `beat status --json: ${e.name}`);
    const owned = entries.find((e) => e.name === 'owned');
    expect([owned?.owner, owned?.pauseOnFailure, owned?.queue, owned?.labels]).toEqual(['gitops', 3, 'celery', { team: 'billing' }]);
    expect(entries.find((e) => e.name === 'chained')?.queue).toBe('slow');
  });

  it("is what the read verb gives the API and the dashboard, and the dashboard's row carries it whole", async () => {
    const config = parseConfig(settings, 'test');
    const nowMs = Date.parse('2027-01-01T12:00:00Z');
    const run: RunRecord = {
      taskId: 't-1',
      state: 'SUCCESS',
      slotMs: nowMs - 60_000,
      publishedAtMs: nowMs - 60_000,
      finishedAtMs: nowMs - 59_000,
    };
    const names = config.entries.map((e) => e.name);
    const views = await entryViews(
      {
        states: { readSome: async () => new Map([['owned', { slotMs: nowMs - 60_000, publishedAtMs: nowMs - 60_000, runCount: 1 }]]) },
        control: {
          paused: async () => new Set(['owned']),
          pauseNotes: async () => new Map([['owned', { note: 'maintenance', by: 'ops', atMs: nowMs - 1000 }]]),
          notes: async () => new Map(),
          leader: async () => undefined,
        },
        runs: {
          latest: async () => new Map([['owned', run]]),
          finished: async () => new Map([['owned', { last: run, lastSuccessMs: nowMs - 59_000, failureStreak: 0 }]]),
        },
      },
      { config, entries: config.entries, self: { instance: 't', role: 'standby' }, nowMs },
    );
    expect([...views.keys()].sort()).toEqual([...names].sort());
    for (const view of views.values()) expectWholeView(view, `entryViews: ${view.name}`);
    const owned = views.get('owned');
    expect([owned?.paused, owned?.pauseNote?.note, owned?.lastOutcome?.state, owned?.lastSuccessAt]).toEqual([
      true,
      'maintenance',
      'SUCCESS',
      '2027-01-01T12:59:01+01:00',
    ]);

    const index = await buildIndex({ config, entries: config.entries, invalid: [] });
    for (const indexed of index.rows) {
      const row = pageRow(indexed, views.get(indexed.name), new Set(['owned']));
      expect(row.view, indexed.name).toBe(views.get(indexed.name));
      expectWholeView(row.view, `dashboard row: ${indexed.name}`);
    }
    // An invalid runtime entry does not run: it has no view, only its problems.
    const bad = await buildIndex({
      config,
      entries: [],
      invalid: [{ name: 'bad', origin: 'store', problems: [{ path: 'schedule', message: 'required' }] }],
    });
    expect(pageRow(bad.rows[0]!, undefined, new Set())).toMatchObject({ view: null, state: 'invalid' });
  });
});
