/**
 * The Python client's entries from Celery's objects (clients/python/src/tsbeat/celery_forms.py), read
 * by tsbeat: each entry pinned in clients/python/tests/celery_forms.json passes `beat check`, and
 * `beat next` gives the fire times Celery itself computed for the object it came from (the Python
 * side, tests/test_celery_forms.py, holds the same fixture to the converter and to Celery). Solar
 * times within a minute, as docs/schedules.md promises.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot, runCli } from '../support/cli.js';

interface Pinned {
  readonly entry: Record<string, unknown>;
  readonly fires?: readonly string[];
}

const fixture = JSON.parse(readFileSync(join(repoRoot, 'clients/python/tests/celery_forms.json'), 'utf8')) as Record<string, Pinned>;
const dir = mkdtempSync(join(tmpdir(), 'tsbeat-python-forms-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const config = join(dir, 'forms.json');
writeFileSync(
  config,
  JSON.stringify({ timezone: 'UTC', beatSchedule: Object.fromEntries(Object.entries(fixture).map(([n, p]) => [n, p.entry])) }),
);

describe("the Python client's Celery forms", () => {
  it('pins a case of every form: crontab, timedelta, schedule, seconds, solar and each canvas', () => {
    expect(Object.keys(fixture).length).toBeGreaterThanOrEqual(12);
    const forms = Object.values(fixture).map((p) => Object.keys(p.entry).find((k) => ['task', 'chain', 'group', 'chord'].includes(k)));
    expect(new Set(forms)).toEqual(new Set(['task', 'chain', 'group', 'chord']));
  });

  it('beat check accepts every pinned entry', async () => {
    const r = await runCli(['check', '--config', config]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it("beat next gives Celery's own fire times for each pinned schedule", async () => {
    const r = await runCli(['next', '--config', config, '--after', '2027-01-04T00:00:00Z', '--count', '3', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const next = new Map((JSON.parse(r.stdout) as { entries: { name: string; next: string[] }[] }).entries.map((e) => [e.name, e.next]));
    const compared = Object.entries(fixture).filter(([, p]) => p.fires !== undefined);
    expect(compared.length).toBeGreaterThanOrEqual(7);
    for (const [name, pinned] of compared) {
      const ours = (next.get(name) ?? []).map((t) => Date.parse(t));
      const celerys = (pinned.fires ?? []).map((t) => Date.parse(t));
      const schedule = pinned.entry['schedule'];
      const tolerance = typeof schedule === 'object' && schedule !== null && 'solar' in schedule ? 60_000 : 0;
      expect(ours.length, name).toBe(celerys.length);
      ours.forEach((t, i) => expect(Math.abs(t - (celerys[i] ?? NaN)), `${name} fire ${i}`).toBeLessThanOrEqual(tolerance));
    }
  });
});
