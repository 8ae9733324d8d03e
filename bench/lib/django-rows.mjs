// The django workload's rows, written straight into django-celery-beat's tables (as `manage.py
// migrate` of test/django_project made them) with INSERT … SELECT FROM generate_series: 100,000
// rows in about a second, where the ORM takes minutes. The rows are what the ORM would write
// (JSON text for args/kwargs/headers, NULL for an empty queue, date_changed set, the change
// marker moved); the edits during the run go through the ORM itself (orm.py). The rows' last
// changes (date_changed) are spread over the days before, ten seconds apart, the newest a day ago,
// as in a deployment that has them from earlier: tsbeat reads again every row changed within a
// minute before the newest change it saw (its margin for application servers' clocks), so rows
// all written in the same minute would all be read again with an edit.
const T = 'django_celery_beat_';

/** The interval of the edited row: short, so that an edit's effect shows within 0.2 s of it. */
export const EDIT_EVERY_US = 200_000;

/**
 * Empties the tables and writes `n` rows `burst-NNNNNN` (task bench.burst, the default queue),
 * all on one crontab at `minute` past `hour` UTC every day; `bench-due`, an hourly interval to
 * the queue `due` that last ran two hours ago (its first run marks start-up's end); and
 * `bench-edit`, disabled, every 0.2 s to the queue `edit-0` (the edits' subject).
 */
export async function fillTables(client, { n, minute, hour }) {
  await client.query(`TRUNCATE ${T}periodictask, ${T}crontabschedule, ${T}intervalschedule, ${T}periodictasks RESTART IDENTITY CASCADE`);
  const cron = await client.query(
    `INSERT INTO ${T}crontabschedule (minute, hour, day_of_week, day_of_month, month_of_year, timezone)
     VALUES ($1, $2, '*', '*', '*', 'UTC') RETURNING id`,
    [String(minute), String(hour)],
  );
  const hourly = await client.query(`INSERT INTO ${T}intervalschedule (every, period) VALUES (1, 'hours') RETURNING id`);
  const fast = await client.query(`INSERT INTO ${T}intervalschedule (every, period) VALUES ($1, 'microseconds') RETURNING id`, [
    EDIT_EVERY_US,
  ]);
  const columns = `name, task, args, kwargs, queue, enabled, last_run_at, total_run_count, date_changed, description,
    crontab_id, interval_id, one_off, headers`;
  await client.query(
    `INSERT INTO ${T}periodictask (${columns})
     SELECT 'burst-' || lpad(i::text, 6, '0'), 'bench.burst', '[]', '{}', NULL, true, NULL, 0,
       now() - interval '1 day' - i * interval '10 seconds', '', $1, NULL, false, '{}'
     FROM generate_series(1, $2) AS i`,
    [cron.rows[0].id, n],
  );
  await client.query(
    `INSERT INTO ${T}periodictask (${columns}) VALUES
     ('bench-due', 'bench.due', '[]', '{}', 'due', true, now() - interval '2 hours', 0, now() - interval '1 day', '', NULL, $1, false, '{}'),
     ('bench-edit', 'bench.edit', '[]', '{}', 'edit-0', false, NULL, 0, now() - interval '1 day', '', NULL, $2, false, '{}')`,
    [hourly.rows[0].id, fast.rows[0].id],
  );
  await client.query(`INSERT INTO ${T}periodictasks (ident, last_update) VALUES (1, now())`);
  await client.query(`VACUUM ANALYZE ${T}periodictask`);
}

/** The queries the django database answered, and the rows they returned, per statement kind so far. */
export async function statementTotals(client, database) {
  const { rows } = await client.query(
    `SELECT coalesce(sum(s.calls), 0)::bigint AS calls, coalesce(sum(s.rows), 0)::bigint AS rows
     FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1`,
    [database],
  );
  return { calls: Number(rows[0].calls), rows: Number(rows[0].rows) };
}
