/**
 * Rows of django-celery-beat's PeriodicTask that differ only in their names share one checked
 * definition (src/django/row-shapes.ts). The oracle is the entry schema applied to each row's
 * definition alone: sharing must give every row the same entry (or problems) as that, and the
 * messages their names (a tenant's row its own name in the header).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { parseEntryDefinition } from '../../src/config/entry-definition.js';
import { openDjangoDb } from '../../src/django/db.js';
import { taskRow } from '../../src/django/row-entry.js';
import { RowShapes } from '../../src/django/row-shapes.js';

// A pool is made but never used: taskRow only reads the rows' timestamps with it.
const db = openDjangoDb('postgres://tsbeat@127.0.0.1:1/unused', 'postgres', 'UTC');
afterAll(() => db.close());

function row(id: number, name: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    name,
    task: 'app.tasks.report',
    interval_id: null,
    crontab_id: 7,
    solar_id: null,
    clocked_id: null,
    cron_minute: '0',
    cron_hour: '*/2',
    cron_day_of_week: '*',
    cron_day_of_month: '*',
    cron_month_of_year: '*',
    cron_timezone: 'Europe/Paris',
    args: '[1]',
    kwargs: '{"k": "v"}',
    queue: null,
    exchange: null,
    routing_key: null,
    priority: null,
    expires: null,
    expire_seconds: null,
    headers: '{"tenant": "acme"}',
    enabled: true,
    one_off: false,
    start_time: null,
    date_changed: '2026-11-20 10:00:00+00',
    ...overrides,
  };
}

describe('django rows that differ only in their names', () => {
  it('share one checked definition, and each row gets what checking its own definition alone gives', () => {
    const shapes = new RowShapes();
    const rows = [
      row(1, 'a'),
      row(2, 'b'),
      row(3, 'c', { args: '[2]' }),
      row(4, 'd', { cron_hour: '25' }),
      row(5, 'e', { cron_hour: '25' }),
      row(6, 'f', { headers: '{"tenant": "acme", "periodic_task_name": "other"}' }),
    ].map((r) => taskRow(r, db, shapes));
    const [a, b, c, d, e, f] = rows;

    for (const mapped of rows) {
      const alone = parseEntryDefinition(mapped.definition ?? JSON.parse(mapped.key));
      if (alone.ok) expect(mapped.sourced.entry).toEqual(alone.entry);
      else expect(mapped.sourced.problems).toEqual(alone.problems);
    }
    expect(a?.key).toBe(b?.key);
    expect(a?.sourced.entry).toBe(b?.sourced.entry);
    expect(c?.key).not.toBe(a?.key);
    expect(c?.sourced.entry?.args).toEqual([2]);
    // An invalid definition is refused for each row that has it, with the schema's own problems.
    expect(d?.sourced.problems?.[0]?.path).toBe('schedule.crontab.hour');
    expect(e?.sourced.problems).toEqual(d?.sourced.problems);
    // The column's own periodic_task_name is not sent: the messages say the entry's name.
    expect(f?.key).toBe(a?.key);
    expect(f?.definition).toMatchObject({ options: { headers: { tenant: 'acme' } } });
    expect(JSON.stringify(f?.definition)).not.toContain('periodic_task_name');
  });

  it("a django-tenants row's entry says the row's own name as periodic_task_name; its definition is shared", () => {
    const shapes = new RowShapes();
    const plain = taskRow(row(1, 'tick'), db, shapes);
    const tenant = taskRow(row(1, 'tick'), db, shapes, 'beta:');
    expect(tenant.name).toBe('beta:tick');
    expect(tenant.key).toBe(plain.key);
    expect(tenant.sourced.entry?.options.headers).toEqual({ tenant: 'acme', periodic_task_name: 'tick' });
    expect(plain.sourced.entry?.options.headers).toEqual({ tenant: 'acme' });
    const { options: tenantOptions, ...tenantRest } = tenant.sourced.entry ?? {};
    const { options: plainOptions, ...plainRest } = plain.sourced.entry ?? {};
    expect(tenantRest).toEqual(plainRest);
    expect({ ...tenantOptions, headers: undefined }).toEqual({ ...plainOptions, headers: undefined });
  });

  it('a row whose name breaks the entry-name rule is shown with its problem and not run, the others unharmed', () => {
    const shapes = new RowShapes();
    for (const name of ['bell\u0007', 'two\u2028lines', 'evil\u202Egnp.exe', 'x'.repeat(201)]) {
      const bad = taskRow(row(1, name), db, shapes);
      expect(bad.sourced.entry, JSON.stringify(name)).toBeUndefined();
      expect(bad.sourced.problems?.[0]).toMatchObject({
        path: 'name',
        message: expect.stringContaining('rename the periodic task in the Django admin'),
      });
    }
    expect(taskRow(row(2, 'fine name: every 2 h'), db, shapes).sourced.entry).toBeDefined();
  });
});
