/**
 * django-tenants layouts (PostgreSQL, one schema per tenant): django-celery-beat's tables in each
 * schema, as one source. Each schema is a DjangoSource over one shared pool, with its own change
 * marker (PeriodicTasks lives in the schema too) and its own write-back, and its entries named
 * `<schema>:<PeriodicTask.name>`. With `schemas: discover` the schemas are the `schema_name`s of
 * the tenants table (django-tenants' TenantMixin), those that have the tables, read at start and
 * again every `fullReadEvery`: a tenant added later joins then, a dropped one leaves.
 *
 * One tenant's database trouble does not hold back the others: its entries keep running, its
 * changes wait, and health() names it; only when every schema fails is the read a failure.
 */
import { errorMessage } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import type { DjangoSourceSettings } from '../config/django-source-schema.js';
import { djangoDbKind } from '../config/django-source-schema.js';
import type { EntryChanges, EntrySnapshot, SourcedEntry } from '../ports/entry-source.js';
import { openDjangoDb } from './db.js';
import type { DjangoDb } from './db.js';
import type { TaskRow } from './row-entry.js';
import { DjangoSource } from './source.js';
import type { DjangoEntries, DjangoSeed, DjangoSourceHealth } from './source.js';
import { pushAll } from '../base/chunks.js';

export interface DjangoTenantsOptions {
  readonly settings: DjangoSourceSettings & { readonly schemas: readonly string[] | 'discover' };
  readonly logger: Logger;
  readonly now?: () => number;
  /** Each schema's cut-over adoption (DjangoSourceOptions.seed). */
  readonly seed?: DjangoSeed;
}

export class DjangoTenants implements DjangoEntries {
  readonly origin = 'django' as const;
  private readonly db: DjangoDb;
  private readonly now: () => number;
  private readonly schemas = new Map<string, DjangoSource>();
  /** Schemas whose last read failed, with why. */
  private readonly failing = new Map<string, string>();
  private lastDiscoveryMs = Number.NEGATIVE_INFINITY;
  private leading = false;

  constructor(private readonly options: DjangoTenantsOptions) {
    const { settings } = options;
    const found = djangoDbKind(settings.url);
    if ('problem' in found) throw new Error(`sources.django.url: ${found.problem}`);
    this.db = openDjangoDb(settings.url, found.kind, settings.useTz ? 'UTC' : (settings.timeZone ?? 'UTC'));
    this.now = options.now ?? Date.now;
  }

  health(): DjangoSourceHealth {
    if (this.failing.size === 0) return { ok: true };
    return { ok: false, reason: [...this.failing].map(([schema, why]) => `django schema ${schema}: ${why}`).join('; ') };
  }

  recordRun(name: string, atMs: number): void {
    const colon = name.indexOf(':');
    if (colon > 0) this.schemas.get(name.slice(0, colon))?.recordRun(name, atMs);
  }

  leadershipChanged(leading: boolean): void {
    this.leading = leading;
    for (const source of this.schemas.values()) source.leadershipChanged(leading);
  }

  rowsRead(): readonly TaskRow[] {
    return [...this.schemas.values()].flatMap((source) => source.rowsRead());
  }

  async written(name: string): Promise<{ source: string; definition: unknown } | undefined> {
    const colon = name.indexOf(':');
    return colon > 0 ? this.schemas.get(name.slice(0, colon))?.written(name) : undefined;
  }

  async load(): Promise<EntrySnapshot> {
    const wanted = await this.wantedSchemas();
    for (const schema of [...this.schemas.keys()]) if (!wanted.includes(schema)) await this.drop(schema);
    const entries: SourcedEntry[] = [];
    const cursors: Record<string, string> = {};
    let firstError: unknown;
    for (const schema of wanted) {
      const source = this.schemas.get(schema) ?? this.open(schema);
      try {
        const snapshot = await source.load();
        pushAll(entries, snapshot.entries);
        cursors[schema] = snapshot.cursor;
        this.failing.delete(schema);
      } catch (error) {
        firstError ??= error;
        this.failing.set(schema, errorMessage(error));
      }
    }
    // One schema that cannot be read holds back no other: it has no cursor, so the next look
    // (changesSince) loads it whole. Every schema failing is the database away: the catalog retries.
    if (firstError !== undefined && Object.keys(cursors).length === 0)
      throw firstError instanceof Error ? firstError : new Error(String(firstError));
    return { entries, cursor: JSON.stringify(cursors) };
  }

  /** Whether the change marker of a schema of `names` moved since `cursor`: one row read per schema named. */
  async outdated(cursor: string, names: readonly string[]): Promise<boolean> {
    const cursors = JSON.parse(cursor) as Record<string, string>;
    const schemas = new Set<string>();
    for (const name of names) {
      const colon = name.indexOf(':');
      if (colon > 0) schemas.add(name.slice(0, colon));
    }
    const checks = [...schemas].map((schema) => {
      const source = this.schemas.get(schema);
      const at = cursors[schema];
      // A schema dropped or not read yet: the next look decides.
      if (source === undefined || at === undefined) return Promise.resolve(true);
      return source.outdated(at).catch(() => false);
    });
    return (await Promise.all(checks)).some((outdated) => outdated);
  }

  async changesSince(cursor: string): Promise<EntryChanges> {
    const cursors = JSON.parse(cursor) as Record<string, string>;
    const changed: SourcedEntry[] = [];
    const removed: string[] = [];
    if (this.options.settings.schemas === 'discover' && this.now() - this.lastDiscoveryMs >= this.options.settings.fullReadEvery) {
      const wanted = await this.wantedSchemas();
      for (const schema of [...this.schemas.keys()]) {
        if (wanted.includes(schema)) continue;
        pushAll(
          removed,
          (this.schemas.get(schema)?.rowsRead() ?? []).map((r) => r.name),
        );
        await this.drop(schema);
        delete cursors[schema];
      }
      for (const schema of wanted) if (!this.schemas.has(schema)) this.open(schema);
    }
    let failures = 0;
    let firstError: unknown;
    for (const [schema, source] of this.schemas) {
      try {
        const at = cursors[schema];
        if (at === undefined) {
          const snapshot = await source.load();
          pushAll(changed, snapshot.entries);
          cursors[schema] = snapshot.cursor;
        } else {
          const changes = await source.changesSince(at);
          pushAll(changed, changes.changed);
          pushAll(removed, changes.removed);
          cursors[schema] = changes.cursor;
        }
        this.failing.delete(schema);
      } catch (error) {
        failures += 1;
        firstError ??= error;
        this.failing.set(schema, errorMessage(error));
      }
    }
    // Every schema failing is the database away: the catalog logs it and retries. A part that failed
    // keeps its cursor, so its changes are read when it answers again.
    if (failures > 0 && failures === this.schemas.size) throw firstError;
    return { changed, removed, cursor: JSON.stringify(cursors) };
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.schemas.values()].map((source) => source.close()));
    await this.db.close().catch(() => undefined);
  }

  private open(schema: string): DjangoSource {
    const source = new DjangoSource({ ...this.options, db: this.db, schema });
    // A tenant discovered while leading: its expired rows are this leader's to disable too.
    if (this.leading) source.leadershipChanged(true);
    this.schemas.set(schema, source);
    return source;
  }

  private async drop(schema: string): Promise<void> {
    await this.schemas.get(schema)?.close();
    this.schemas.delete(schema);
    this.failing.delete(schema);
  }

  /** The schemas given, or those the tenants table names that have django-celery-beat's tables. */
  private async wantedSchemas(): Promise<string[]> {
    const { schemas, tenantsTable, tablePrefix } = this.options.settings;
    this.lastDiscoveryMs = this.now();
    if (schemas !== 'discover') return [...schemas];
    const table = tenantsTable
      .split('.')
      .map((part) => this.db.quote(part))
      .join('.');
    const rows = await this.db
      .query(
        `SELECT t.schema_name FROM ${table} t
WHERE EXISTS (SELECT 1 FROM information_schema.tables i WHERE i.table_schema = t.schema_name AND i.table_name = ?)
ORDER BY t.schema_name`,
        [`${tablePrefix}periodictask`],
      )
      .catch((error: unknown) => {
        // Not the tables' fault: name the tenants table and its setting.
        if ((error as { code?: unknown }).code !== '42P01') throw error;
        throw new Error(
          `the tenants table ${tenantsTable} is not there; set sources.django.tenantsTable to the table of your TENANT_MODEL (its schema_name column names the schemas)`,
          { cause: error },
        );
      });
    return rows.map((row) => String(row.schema_name));
  }
}

/**
 * The django source the settings describe: one schema, or a tenant's many; `seed` adopts
 * DatabaseScheduler's last runs (beat run only: the commands and dry runs write no state).
 */
export function openDjangoEntries(settings: DjangoSourceSettings, logger: Logger, now?: () => number, seed?: DjangoSeed): DjangoEntries {
  const { schemas } = settings;
  const timing = { ...(now === undefined ? {} : { now }), ...(seed === undefined ? {} : { seed }) };
  return schemas === undefined
    ? new DjangoSource({ settings, logger, ...timing })
    : new DjangoTenants({ settings: { ...settings, schemas }, logger, ...timing });
}
