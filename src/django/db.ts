/**
 * The Django database, through a maintained pure-JS driver: `pg` for PostgreSQL, `mysql2` for
 * MySQL/MariaDB. Each replica keeps a small pool; a lost connection is replaced by the pool at the
 * next query, so a database that comes back needs nothing more than the caller's retry.
 *
 * Datetimes come back as text and are read here, one way for both databases: PostgreSQL's
 * `timestamp with time zone` carries its offset; MySQL's `datetime(6)` carries none and holds UTC
 * when Django's USE_TZ is true, a wall time in TIME_ZONE when it is false (as Django writes them).
 *
 * A driver is loaded with the first statement, not with the module: every `beat run` imports this
 * one, and mysql2 alone took ~30 ms of the start of one that reads no Django database.
 */
import type { Pool as MysqlPool } from 'mysql2/promise';
import type pg from 'pg';
import { maskUrl } from '../base/redact.js';
import type { DjangoDbKind } from '../config/django-source-schema.js';
import { formatInstant, parseIsoDateTime } from '../time/zone.js';

/** Connections each replica keeps to the Django database (a read and a write-back can overlap). */
const DJANGO_POOL_SIZE = 2;

/** A row as the drivers give it: column name to value (text, number, boolean or null). */
export type Row = Readonly<Record<string, unknown>>;

export interface DjangoDb {
  readonly kind: DjangoDbKind;
  /** Runs one statement; placeholders are written `?` and numbered for PostgreSQL here. */
  query(sql: string, params?: readonly unknown[]): Promise<Row[]>;
  /**
   * Runs one statement and hands each row to `onRow` as it arrives, keeping none: a read of
   * 100,000 rows then holds one row at a time, not all of them until the last arrives (rows held
   * that long outlive the young generation and leave the heap large after start-up).
   */
  eachRow(sql: string, params: readonly unknown[], onRow: (row: Row) => void): Promise<void>;
  /** A table or column name quoted for this database. */
  quote(name: string): string;
  /** A datetime column's value as epoch ms (null and unreadable values: undefined). */
  instant(value: unknown): number | undefined;
  /** Epoch ms as this database takes it in a datetime column. */
  datetime(ms: number): string;
  close(): Promise<void>;
}

/** PostgreSQL's type oids whose text tsbeat reads itself: timestamp, timestamptz. */
const PG_TEXT_TYPES = new Set([1114, 1184]);

/** pg's type parsers, but timestamps as their text (read by `instant`). */
const textTimestamps = (driver: typeof pg): typeof pg.types.getTypeParser =>
  ((oid: number, format?: 'text' | 'binary'): unknown =>
    PG_TEXT_TYPES.has(oid)
      ? (text: string): string => text
      : (driver.types.getTypeParser(oid, format) as unknown)) as typeof pg.types.getTypeParser;

/**
 * A driver's pool, opened by `open` at the first statement and shared by the later ones. An open
 * that failed (a URL option the driver refuses) is tried again at the next statement, each failing
 * as a statement does; once closed (`close`, ending the pool if it was opened) no statement opens one.
 */
function poolOnFirstUse<T>(open: () => Promise<T>, end: (pool: T) => Promise<void>) {
  let opening: Promise<T> | undefined;
  let closed = false;
  return {
    get: (): Promise<T> => {
      if (closed) return Promise.reject(new Error('the django database connection is closed'));
      opening ??= open().catch((error: unknown) => {
        opening = undefined;
        throw error;
      });
      return opening;
    },
    close: async (): Promise<void> => {
      closed = true;
      const pool = opening;
      opening = undefined;
      if (pool !== undefined) await end(await pool);
    },
  };
}

/**
 * `onRow` called from a driver's row event, which must not throw: its first failure is kept, the
 * rows after it are passed over while the read drains, and `rethrow` raises it once the read ends.
 */
class RowHandler {
  private failed: Error | undefined;

  constructor(private readonly onRow: (row: Row) => void) {}

  handle(row: Row): void {
    if (this.failed !== undefined) return;
    try {
      this.onRow(row);
    } catch (error) {
      this.failed = error instanceof Error ? error : new Error(String(error));
    }
  }

  rethrow(): void {
    if (this.failed !== undefined) throw this.failed;
  }
}

export function openDjangoDb(url: string, kind: DjangoDbKind, zone: string): DjangoDb {
  const instant = instantReader(zone);
  return kind === 'postgres' ? openPostgres(url, instant) : openMysql(url, zone, instant);
}

/** A datetime column's value as epoch ms: text without an offset is a wall time in `zone`. */
function instantReader(zone: string): (value: unknown) => number | undefined {
  return (value) => {
    if (value === null || value === undefined) return undefined;
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.getTime();
    return parseIsoDateTime(String(value), zone);
  };
}

/** `?` placeholders numbered as PostgreSQL writes them (`$1`, `$2`, …). */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

function openPostgres(url: string, instant: (value: unknown) => number | undefined): DjangoDb {
  const connection = poolOnFirstUse(
    async () => {
      const { default: driver } = await import('pg');
      const pool = new driver.Pool({
        connectionString: url,
        // Offsets in the text are then always +00, which the ISO reader takes (never an LMT offset with seconds).
        options: '-c TimeZone=UTC',
        max: DJANGO_POOL_SIZE,
        types: { getTypeParser: textTimestamps(driver) },
      });
      // An idle connection that the server drops is an error event on the pool; the next query opens another.
      pool.on('error', () => undefined);
      return { driver, pool };
    },
    ({ pool }) => pool.end(),
  );
  return {
    kind: 'postgres',
    async query(sql, params = []) {
      const { pool } = await connection.get();
      return (await pool.query(numbered(sql), params as unknown[])).rows as Row[];
    },
    eachRow: async (sql, params, onRow) => pgEachRow(await connection.get(), sql, params, onRow),
    quote: (name) => `"${name.replace(/"/g, '""')}"`,
    instant,
    datetime: (ms) => formatInstant(ms, 'UTC'),
    close: () => connection.close(),
  };
}

/** One statement's rows handed to `onRow` as they arrive, on a client of its own. */
async function pgEachRow(
  { driver, pool }: { readonly driver: typeof pg; readonly pool: pg.Pool },
  sql: string,
  params: readonly unknown[],
  onRow: (row: Row) => void,
): Promise<void> {
  const client = await pool.connect();
  const rows = new RowHandler(onRow);
  let lost: ((error: Error) => void) | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      // A checked-out client's connection error is its holder's to handle (the pool's
      // listener is off meanwhile): without one it would be thrown.
      lost = reject;
      client.on('error', lost);
      // A Query with a 'row' listener and no callback keeps no rows (pg's query.js).
      const query = new driver.Query(numbered(sql), params as unknown[]);
      query.on('row', (row: Row) => rows.handle(row));
      query.on('end', () => resolve());
      query.on('error', reject);
      client.query(query);
    });
  } catch (error) {
    // Not given back for reuse: the read failed, perhaps with its connection (whose later
    // errors, as it closes, are nobody's concern).
    if (lost !== undefined) client.removeListener('error', lost);
    client.on('error', () => undefined);
    client.release(true);
    throw error;
  }
  if (lost !== undefined) client.removeListener('error', lost);
  client.release();
  rows.rethrow();
}

function openMysql(url: string, zone: string, instant: (value: unknown) => number | undefined): DjangoDb {
  const connection = poolOnFirstUse(
    async (): Promise<MysqlPool> => {
      const { default: driver } = await import('mysql2/promise');
      return driver.createPool({ uri: url, connectionLimit: DJANGO_POOL_SIZE, dateStrings: true, supportBigNumbers: true });
    },
    (pool) => pool.end(),
  );
  return {
    kind: 'mysql',
    async query(sql, params = []) {
      const [rows] = await (await connection.get()).query(sql, params as unknown[]);
      return Array.isArray(rows) ? (rows as Row[]) : [];
    },
    async eachRow(sql, params, onRow) {
      const pool = await connection.get();
      const rows = new RowHandler(onRow);
      // The callback pool's query without a callback emits each row and keeps none (mysql2's query.js).
      await new Promise<void>((resolve, reject) => {
        pool.pool
          .query(sql, params as unknown[])
          .on('result', (row) => rows.handle(row as Row))
          .on('end', () => resolve())
          .on('error', reject);
      });
      rows.rethrow();
    },
    quote: (name) => `\`${name.replace(/`/g, '``')}\``,
    instant,
    // A wall time in the zone the column holds (UTC with USE_TZ), without an offset, as Django writes it.
    datetime: (ms) => formatInstant(ms, zone).replace(/[+-]\d{2}:\d{2}(:\d{2})?$/, ''),
    close: () => connection.close(),
  };
}

/**
 * A failure to read the Django database, as a command that reads it once says it: where the URL
 * came from (`where`: sources.django.url, --django-url, $BEAT_DJANGO_URL), the URL without its
 * password, and the fix for the causes seen most (no server there, a database or user it refuses,
 * tables not migrated).
 */
export function djangoDbFailure(error: unknown, where: string, url: string, prefix: string): string {
  const e = error as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' && e.message !== '' ? e.message : String(error);
  const shownUrl = maskUrl(url);
  const fix =
    code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'ETIMEDOUT' || code === 'EHOSTUNREACH'
      ? 'no database server answers there; check the host and port'
      : code === '3D000' || code === 'ER_BAD_DB_ERROR'
        ? 'the server has no such database; give the NAME of DATABASES["default"]'
        : code === '28P01' || code === '28000' || code === 'ER_ACCESS_DENIED_ERROR' || code === 'ER_DBACCESS_DENIED_ERROR'
          ? 'the server refuses this user or password; give the USER and PASSWORD Django uses'
          : code === '42P01' || code === 'ER_NO_SUCH_TABLE'
            ? `django-celery-beat's tables (${prefix}periodictask, …) are not there: run "manage.py migrate django_celery_beat", or set tablePrefix`
            : 'check the URL and that the tables are migrated';
  return `cannot read the django database at ${shownUrl} (${where}): ${message}; ${fix}`;
}
