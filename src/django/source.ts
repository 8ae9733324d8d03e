/**
 * django-celery-beat's tables as an EntrySource (src/ports/entry-source.ts): the scheduler's catalog
 * reads every row at start, then asks for changes every `maxInterval`. Each look reads the change
 * marker, `PeriodicTasks.last_update` (one row by primary key), which Django's signals move on
 * every save and delete of a PeriodicTask or a schedule (signals.py); only when it moved are the
 * changes read: the schedule tables whole (they are small and have no change date), the ids of the
 * tasks (for deletions), and the tasks changed since the newest `date_changed` seen (less a margin
 * for application servers' clocks) or using a changed schedule. Everything is read again every
 * `fullReadEvery`, for writes that bypass the signals (`queryset.update()`), as DatabaseScheduler
 * does every 5 minutes. A read that fails is retried with a growing delay; what is known keeps
 * running meanwhile (the catalog keeps it).
 */
import { errorMessage } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import type { DjangoSourceSettings } from '../config/django-source-schema.js';
import { djangoDbKind } from '../config/django-source-schema.js';
import type { EntryChanges, EntrySnapshot, EntrySource, SourcedEntry } from '../ports/entry-source.js';
import { openDjangoDb } from './db.js';
import type { DjangoDb, Row } from './db.js';
import type { SeedState } from '../ports/seeds.js';
import { rowSeed } from './adopt.js';
import { taskRow } from './row-entry.js';
import type { TaskRow } from './row-entry.js';
import { RowShapes } from './row-shapes.js';
import { writtenRow } from './row-written.js';
import { SCHEDULE_KINDS, scheduleSelects, taskSelect, tables } from './tables.js';
import type { ScheduleKind, Tables } from './tables.js';
import { WriteBack } from './write-back.js';

/**
 * Rows re-read around the newest date_changed seen: date_changed is written by each application
 * server's clock, so a row saved by a server whose clock is behind can carry an earlier time.
 */
const DJANGO_CHANGED_MARGIN_MS = 60_000;
/** After a failed read of the tables, the next attempt waits this long, doubling up to the second value. */
const DJANGO_RETRY_MIN_MS = 1000;
const DJANGO_RETRY_MAX_MS = 30_000;

export interface DjangoSourceOptions {
  readonly settings: DjangoSourceSettings;
  readonly logger: Logger;
  /** Epoch ms now (the scheduler's clock). */
  readonly now?: () => number;
  /** A database opened elsewhere (shared by a tenant's schemas), closed by its opener; default: the settings' URL. */
  readonly db?: DjangoDb;
  /** django-tenants: the schema of these tables; its entries are named `<schema>:<name>`. */
  readonly schema?: string;
  /**
   * Cut-over adoption (adopt.ts, redis/seed-states.ts): called with the seeds of the rows seen for
   * the first time (per incarnation, the row's id) or re-enabled, before they are handed on.
   */
  readonly seed?: DjangoSeed;
}

/** Writes DatabaseScheduler's last runs into tsbeat's state where they are newer by slot. */
export type DjangoSeed = (seeds: readonly SeedState[]) => Promise<void>;

/**
 * What `beat run` and the commands need of django-celery-beat's tables, for one schema
 * (DjangoSource) or a tenant's many (DjangoTenants, src/django/tenants.ts): the entries, the
 * database's health, the write-back of runs, the rows last read.
 */
export interface DjangoEntries extends EntrySource {
  readonly origin: 'django';
  /** Whether the last read of the tables worked, and if not why. */
  health(): DjangoSourceHealth;
  /** A run of entry `name` went out at `atMs` (the leader): written back unless writeBack is off. */
  recordRun(name: string, atMs: number): void;
  /** Whether this replica leads: only the leader disables expired rows (with writeBack on). */
  leadershipChanged(leading: boolean): void;
  /** The rows of the last read, as entries and definitions (beat import django). */
  rowsRead(): readonly TaskRow[];
  /** Entry `name`'s row as the database holds it now (the dashboard's "as written"), with where; undefined when there is none. */
  written(name: string): Promise<{ source: string; definition: unknown } | undefined>;
  /** Stops the write-back (after a last flush) and closes the connections. */
  close(): Promise<void>;
}

/** What the source last read of the database, for status and readiness. */
export interface DjangoSourceHealth {
  readonly ok: boolean;
  readonly reason?: string;
}

export class DjangoSource implements DjangoEntries {
  readonly origin = 'django' as const;
  private readonly db: DjangoDb;
  private readonly t: Tables;
  private readonly now: () => number;
  /** The rows known, by entry name, and the names by row id. */
  private readonly rows = new Map<string, TaskRow>();
  private readonly names = new Map<number, string>();
  /** Each schedule table's rows as text, by id, to see which changed. */
  private readonly schedules = new Map<ScheduleKind, Map<number, string>>();
  /** The rows' definitions checked so far, shared by rows that differ only in their names. */
  private readonly shapes = new RowShapes();
  private lastFullMs = Number.NEGATIVE_INFINITY;
  private failure: { error: unknown; retryAtMs: number; delayMs: number } | undefined;
  readonly writeBack: WriteBack | undefined;
  private readonly namePrefix: string;
  private leading = false;
  /** Expired rows whose disabling was asked for, as `<id>@<expires>`: asked once until the row changes. */
  private readonly expired = new Set<string>();

  constructor(private readonly options: DjangoSourceOptions) {
    const { settings } = options;
    const found = djangoDbKind(settings.url);
    if ('problem' in found) throw new Error(`sources.django.url: ${found.problem}`);
    const zone = settings.useTz ? 'UTC' : (settings.timeZone ?? 'UTC');
    this.db = options.db ?? openDjangoDb(settings.url, found.kind, zone);
    this.t = tables(this.db, settings.tablePrefix, options.schema);
    this.namePrefix = options.schema === undefined ? '' : `${options.schema}:`;
    this.now = options.now ?? Date.now;
    this.writeBack = settings.writeBack
      ? new WriteBack({ db: this.db, tables: this.t, logger: options.logger, idOf: (name) => this.rows.get(name), now: this.now })
      : undefined;
  }

  /** Whether the last read of the tables worked, and if not why. */
  health(): DjangoSourceHealth {
    return this.failure === undefined ? { ok: true } : { ok: false, reason: `django database: ${errorMessage(this.failure.error)}` };
  }

  async load(): Promise<EntrySnapshot> {
    return this.guard(async () => {
      const cursor = await this.marker();
      await this.readSchedules();
      const rows = await this.readAllTasks();
      // Every row is a first sight at a load (the catalog's state of it may be another scheduler's since).
      await this.adopt(rows.map((row) => rowSeed(row)));
      this.rows.clear();
      this.names.clear();
      for (const row of rows) this.keep(row);
      this.lastFullMs = this.now();
      return { entries: [...this.rows.values()].map((r) => r.sourced), cursor };
    });
  }

  async changesSince(cursor: string): Promise<EntryChanges> {
    return this.guard(async () => {
      // The marker first: a change made during the reads below moves it again, and is read next time.
      const marker = await this.marker();
      let changes: EntryChanges;
      if (this.now() - this.lastFullMs >= this.options.settings.fullReadEvery) changes = await this.fullRead(marker);
      else if (marker === cursor) changes = { changed: [], removed: [], cursor };
      else changes = await this.readChanges(marker);
      this.expireDue();
      return changes;
    });
  }

  /**
   * Whether the change marker moved since `cursor`: one read of one row by its primary key, whatever
   * the number of rows (DatabaseScheduler makes the same check on each tick). Every save and delete
   * through the ORM or the admin moves it after its write (PeriodicTask.save() and delete() call
   * PeriodicTasks.changed() once the row is written, besides the pre_save signal), so a change that
   * returned before this check is seen. Writes that bypass the ORM do not move it (docs/sources.md).
   * While the source is failing it tells nothing: the looks retry it.
   */
  async outdated(cursor: string): Promise<boolean> {
    if (this.failure !== undefined) return false;
    return (await this.marker()) !== cursor;
  }

  recordRun(name: string, atMs: number): void {
    this.writeBack?.record(name, atMs);
  }

  leadershipChanged(leading: boolean): void {
    this.leading = leading;
    if (leading) this.expireDue();
  }

  /**
   * Disables the enabled rows whose `expires` has passed, as django-celery-beat 2.9 does in
   * ModelEntry.is_due: the schedule ended there already (endAt), and the row says so in the admin.
   */
  private expireDue(): void {
    if (!this.leading || this.writeBack === undefined) return;
    const nowMs = this.now();
    for (const row of this.rows.values()) {
      if (!row.enabled || row.expiresMs === undefined || row.expiresMs > nowMs) continue;
      const mark = `${String(row.id)}@${String(row.expiresMs)}`;
      if (this.expired.has(mark)) continue;
      this.expired.add(mark);
      this.writeBack.expire(row.id);
    }
  }

  rowsRead(): readonly TaskRow[] {
    return [...this.rows.values()];
  }

  async written(name: string): Promise<{ source: string; definition: unknown } | undefined> {
    const known = this.rows.get(name);
    if (known === undefined) return undefined;
    const [row] = await this.db.query(`${taskSelect(this.t)} WHERE p.id = ?`, [known.id]);
    return row === undefined ? undefined : writtenRow(row, this.t);
  }

  /** Stops the write-back (after a last flush) and closes the connections (when it opened them). */
  async close(): Promise<void> {
    await this.writeBack?.stop();
    if (this.options.db === undefined) await this.db.close().catch(() => undefined);
  }

  private async fullRead(marker: string): Promise<EntryChanges> {
    await this.readSchedules();
    const rows = await this.readAllTasks();
    this.lastFullMs = this.now();
    const seen = new Set(rows.map((r) => r.name));
    const removed = [...this.rows.keys()].filter((name) => !seen.has(name));
    for (const name of removed) this.forget(name);
    return { changed: await this.merge(rows), removed, cursor: marker };
  }

  private async readChanges(marker: string): Promise<EntryChanges> {
    const changedSchedules = await this.readSchedules();
    const ids = new Set((await this.db.query(`SELECT id FROM ${this.t.task}`)).map((r) => Number(r.id)));
    const removed: string[] = [];
    for (const [id, name] of this.names) {
      if (!ids.has(id)) {
        removed.push(name);
        this.forget(name);
      }
    }
    let newest = Number.NEGATIVE_INFINITY;
    for (const row of this.rows.values()) if (row.changedMs !== undefined && row.changedMs > newest) newest = row.changedMs;
    const since = Number.isFinite(newest) ? newest - DJANGO_CHANGED_MARGIN_MS : 0;
    const where = [`p.date_changed >= ?`];
    for (const kind of SCHEDULE_KINDS) {
      const changed = changedSchedules.get(kind) ?? [];
      // Ids come from the database as numbers: written into the statement, not bound one by one.
      if (changed.length > 0) where.push(`p.${kind}_id IN (${changed.map((id) => String(Math.trunc(id))).join(', ')})`);
    }
    // Rows whose id is new are read too: a row written with a clock far behind has an old date_changed.
    const fresh = [...ids].filter((id) => !this.names.has(id));
    if (fresh.length > 0) where.push(`p.id IN (${fresh.map((id) => String(Math.trunc(id))).join(', ')})`);
    const rows = await this.db.query(`${taskSelect(this.t)} WHERE ${where.join(' OR ')}`, [this.db.datetime(Math.max(0, since))]);
    const mapped = rows.map((row) => taskRow(row, this.db, this.shapes, this.namePrefix));
    // The marker moved, but no row is newer, none left and no schedule changed: a write that bypassed
    // the signals and then called PeriodicTasks.update_changed() (django-celery-beat's advice after
    // queryset.update()). Its rows can be of any age: read everything, as DatabaseScheduler would.
    const explained =
      removed.length > 0 ||
      [...changedSchedules.values()].some((ids) => ids.length > 0) ||
      mapped.some((row) => !this.names.has(row.id) || (row.changedMs ?? Number.NEGATIVE_INFINITY) > newest);
    if (!explained) {
      const full = await this.fullRead(marker);
      return full;
    }
    // A renamed row keeps its id: its old name leaves.
    for (const row of mapped) {
      const before = this.names.get(row.id);
      if (before !== undefined && before !== row.name) {
        removed.push(before);
        this.forget(before);
      }
    }
    return { changed: await this.merge(mapped), removed, cursor: marker };
  }

  /**
   * Keeps the rows read; returns the entries that differ from what was known. The seeds of rows
   * first seen (a new id under the name) or re-enabled are written first: a failure leaves the rows
   * as they were known, so that the next read hands them on (and seeds them) again.
   */
  private async merge(rows: readonly TaskRow[]): Promise<SourcedEntry[]> {
    await this.adopt(
      rows.map((row) => {
        const before = this.rows.get(row.name);
        if (before === undefined || before.id !== row.id) return rowSeed(row);
        return !before.enabled && row.enabled ? rowSeed(row, true) : undefined;
      }),
    );
    const changed: SourcedEntry[] = [];
    for (const row of rows) {
      const before = this.rows.get(row.name);
      if (before !== undefined && before.id !== row.id) this.names.delete(before.id);
      // Another id under a known name: the row was deleted and created again (a new incarnation).
      if (before === undefined || before.key !== row.key || before.id !== row.id) changed.push(row.sourced);
      this.keep(row);
    }
    return changed;
  }

  private async adopt(seeds: readonly (SeedState | undefined)[]): Promise<void> {
    const wanted = seeds.filter((seed): seed is SeedState => seed !== undefined);
    if (wanted.length > 0 && this.options.seed !== undefined) await this.options.seed(wanted);
  }

  private keep(row: TaskRow): void {
    this.rows.set(row.name, row);
    this.names.set(row.id, row.name);
  }

  private forget(name: string): void {
    const row = this.rows.get(name);
    if (row === undefined) return;
    this.rows.delete(name);
    if (this.names.get(row.id) === name) this.names.delete(row.id);
  }

  /** Every task row, mapped as it arrives (the database's rows are not held meanwhile). */
  private async readAllTasks(): Promise<TaskRow[]> {
    const rows: TaskRow[] = [];
    await this.db.eachRow(taskSelect(this.t), [], (row) => rows.push(taskRow(row, this.db, this.shapes, this.namePrefix)));
    return rows;
  }

  /** PeriodicTasks.last_update as text ("none" before the first change Django recorded). */
  private async marker(): Promise<string> {
    const rows = await this.db.query(`SELECT last_update FROM ${this.t.changes} WHERE ident = 1`);
    const value = rows[0]?.last_update;
    return value === undefined || value === null ? 'none' : String(value);
  }

  /** Reads the schedule tables; returns the ids of the rows that changed or left, by kind. */
  private async readSchedules(): Promise<Map<ScheduleKind, number[]>> {
    const selects = scheduleSelects(this.t);
    const changed = new Map<ScheduleKind, number[]>();
    for (const kind of SCHEDULE_KINDS) {
      const rows = await this.db.query(selects[kind]);
      const before = this.schedules.get(kind) ?? new Map<number, string>();
      const now = new Map<number, string>(rows.map((row: Row) => [Number(row.id), JSON.stringify(row)]));
      const ids: number[] = [];
      for (const [id, text] of now) if (before.get(id) !== text) ids.push(id);
      for (const id of before.keys()) if (!now.has(id)) ids.push(id);
      this.schedules.set(kind, now);
      changed.set(kind, ids);
    }
    return changed;
  }

  /**
   * Runs a read unless the last one failed less than its retry delay ago (then its error again);
   * a failure doubles the delay, up to DJANGO_RETRY_MAX_MS, and is logged when it first happens.
   */
  private async guard<T>(read: () => Promise<T>): Promise<T> {
    const nowMs = this.now();
    if (this.failure !== undefined && nowMs < this.failure.retryAtMs) throw this.failure.error;
    try {
      const result = await read();
      if (this.failure !== undefined) {
        this.options.logger.info({ event: EVENTS.djangoReconnected }, 'the django database answers again; reading its changes');
      }
      this.failure = undefined;
      return result;
    } catch (error) {
      const delayMs = this.failure === undefined ? DJANGO_RETRY_MIN_MS : Math.min(this.failure.delayMs * 2, DJANGO_RETRY_MAX_MS);
      // The first error of an outage stands for it: the catalog logs a failure again only when its
      // message changes, and a database going away fails with a new message each time.
      this.failure = { error: this.failure?.error ?? error, retryAtMs: this.now() + delayMs, delayMs };
      throw this.failure.error;
    }
  }
}
