/**
 * What the admin shows of runs, written back as DatabaseScheduler writes it (schedulers.py):
 * `last_run_at` (the time of the publish) and `total_run_count`, and for a one-off task, after its
 * run, `enabled = false`, `total_run_count = 0` and `last_run_at = NULL` (ModelEntry.is_due then
 * PeriodicTask.save(), which clears last_run_at of a disabled task). Runs are gathered and written
 * in one batch every DJANGO_WRITE_BACK_MS, with plain UPDATEs that leave `date_changed` and
 * `PeriodicTasks.last_update` alone (DatabaseScheduler marks its own writes `no_changes` for the same
 * reason: they are not changes of the schedule); the one-off disabling moves last_update, as
 * DatabaseScheduler's save() of it does. Exactly-once does not depend on these columns: it rests on
 * tsbeat's fenced state in Redis. A batch that fails is kept and written with the next one.
 *
 * An expired row (`expires` passed) is disabled as django-celery-beat 2.9's ModelEntry.is_due does
 * (`_disable`: `enabled = False` saved with `no_changes`, so `last_run_at` cleared, `date_changed`
 * moved, the change marker left alone), guarded by `expires <= now` in the UPDATE itself so that a
 * row whose expiry was moved on meanwhile stays enabled.
 */
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import type { DjangoDb } from './db.js';
import type { Tables } from './tables.js';

/** The runs of django entries are written back (last_run_at, total_run_count) in one batch this often. */
const DJANGO_WRITE_BACK_MS = 1000;
/** Rows per UPDATE of a write-back batch. */
const DJANGO_WRITE_BACK_CHUNK = 1000;

export interface WriteBackOptions {
  readonly db: DjangoDb;
  readonly tables: Tables;
  readonly logger: Logger;
  /** The row of an entry name, if the source knows it. */
  readonly idOf: (name: string) => { readonly id: number; readonly oneOff: boolean } | undefined;
  readonly now: () => number;
}

interface Pending {
  count: number;
  lastMs: number;
  oneOff: boolean;
}

export class WriteBack {
  private pending = new Map<number, Pending>();
  /** Ids of expired rows to disable. */
  private expiring = new Set<number>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private failed = false;

  constructor(private readonly options: WriteBackOptions) {}

  /** A run of entry `name` went out at `atMs`. */
  record(name: string, atMs: number): void {
    const row = this.options.idOf(name);
    if (row === undefined) return;
    const held = this.pending.get(row.id);
    if (held === undefined) this.pending.set(row.id, { count: 1, lastMs: atMs, oneOff: row.oneOff });
    else {
      held.count += 1;
      held.lastMs = Math.max(held.lastMs, atMs);
    }
    this.soon();
  }

  /** Row `id`'s `expires` has passed: disabled with the next batch. */
  expire(id: number): void {
    this.expiring.add(id);
    this.soon();
  }

  private soon(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, DJANGO_WRITE_BACK_MS);
    this.timer.unref();
  }

  /** Writes what is pending now (and waits for a write in progress). */
  async flush(): Promise<void> {
    while (this.flushing !== undefined) await this.flushing;
    if (this.pending.size === 0 && this.expiring.size === 0) return;
    const batch = this.pending;
    const expiring = this.expiring;
    this.pending = new Map();
    this.expiring = new Set();
    this.flushing = this.write(batch, expiring)
      .then(() => {
        if (this.failed) this.options.logger.info({ event: EVENTS.djangoWriteBack }, 'runs written back to the django database again');
        this.failed = false;
      })
      .catch((error: unknown) => {
        for (const id of expiring) this.expiring.add(id);
        // Keep the batch: merged with runs since, written next time.
        for (const [id, held] of batch) {
          const later = this.pending.get(id);
          this.pending.set(
            id,
            later === undefined
              ? held
              : { count: held.count + later.count, lastMs: Math.max(held.lastMs, later.lastMs), oneOff: held.oneOff },
          );
        }
        if (!this.failed) {
          this.options.logger.warn(
            { event: EVENTS.djangoWriteBackFailed, err: error, rows: batch.size },
            'could not write last_run_at and total_run_count back to the django database; retrying with the next batch',
          );
        }
        this.failed = true;
        this.soon();
      })
      .finally(() => {
        this.flushing = undefined;
      });
    await this.flushing;
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
    if (this.timer) clearTimeout(this.timer);
  }

  private async write(batch: ReadonlyMap<number, Pending>, expiring: ReadonlySet<number>): Promise<void> {
    // The counts of the chunks written are zeroed in place (the batch is this write's own).
    const { db, tables: t } = this.options;
    const runs = [...batch.entries()];
    for (let i = 0; i < runs.length; i += DJANGO_WRITE_BACK_CHUNK) {
      const chunk = runs.slice(i, i + DJANGO_WRITE_BACK_CHUNK);
      if (db.kind === 'postgres') {
        await db.query(
          `UPDATE ${t.task} AS p SET last_run_at = v.at::timestamptz, total_run_count = p.total_run_count + v.n
FROM unnest(?::int[], ?::text[], ?::int[]) AS v(id, at, n) WHERE p.id = v.id`,
          [chunk.map(([id]) => id), chunk.map(([, r]) => db.datetime(r.lastMs)), chunk.map(([, r]) => r.count)],
        );
      } else {
        const values = chunk.map(() => 'SELECT ? AS id, ? AS at, ? AS n').join(' UNION ALL ');
        await db.query(
          `UPDATE ${t.task} AS p JOIN (${values}) AS v ON p.id = v.id SET p.last_run_at = v.at, p.total_run_count = p.total_run_count + v.n`,
          chunk.flatMap(([id, r]) => [id, db.datetime(r.lastMs), r.count]),
        );
      }
      // Written: if a later chunk (or the one-off step) fails, the batch is kept with nothing left
      // to add for these rows, so that no run is counted twice.
      for (const [, held] of chunk) held.count = 0;
    }
    const oneOffs = runs.filter(([, r]) => r.oneOff).map(([id]) => id);
    if (oneOffs.length > 0) {
      const nowText = db.datetime(this.options.now());
      const falsy = db.kind === 'postgres' ? 'false' : '0';
      await db.query(
        `UPDATE ${t.task} SET enabled = ${falsy}, total_run_count = 0, last_run_at = NULL, date_changed = ? WHERE id IN (${oneOffs.map((id) => String(Math.trunc(id))).join(', ')})`,
        [nowText],
      );
      await db.query(`UPDATE ${t.changes} SET last_update = ? WHERE ident = 1`, [nowText]);
    }
    if (expiring.size > 0) {
      const nowText = db.datetime(this.options.now());
      const falsy = db.kind === 'postgres' ? 'false' : '0';
      await db.query(
        `UPDATE ${t.task} SET enabled = ${falsy}, last_run_at = NULL, date_changed = ? WHERE id IN (${[...expiring].map((id) => String(Math.trunc(id))).join(', ')}) AND expires IS NOT NULL AND expires <= ?`,
        [nowText, nowText],
      );
    }
  }
}
