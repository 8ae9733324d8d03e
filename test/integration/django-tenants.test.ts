/**
 * django-tenants layouts (sources.django.schemas): django-celery-beat's tables in one PostgreSQL
 * schema per tenant, each migrated by the test Django project with its search_path set to the
 * schema (as django-tenants' migrate_schemas does), rows written through the ORM in that schema.
 * Entries are named `<schema>:<name>`, each schema's changes are polled on their own, runs are
 * written back into the row's own schema, and `discover` follows the tenants table.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/base/log.js';
import { djangoSourceSchema } from '../../src/config/django-source-schema.js';
import type { DjangoSourceInput } from '../../src/config/django-source-schema.js';
import { openDjangoEntries } from '../../src/django/tenants.js';
import type { SourcedEntry } from '../../src/ports/entry-source.js';
import { TempDir } from '../support/beat-process.js';
import { runCli } from '../support/cli.js';
import { DjangoOrm, manage } from '../support/django.js';
import type { OrmRow } from '../support/django.js';
import { PrivatePostgres } from '../support/postgres-server.js';

const TASK = 'tsbeat_test.record';
const INTERVAL = { every: 10, period: 'seconds' };

const names = (entries: readonly SourcedEntry[]): string[] => entries.map((e) => e.name).sort();
const argsOf = (entries: readonly SourcedEntry[], name: string): unknown => entries.find((e) => e.name === name)?.entry?.args;

describe('django-tenants schemas on PostgreSQL', () => {
  const pg = new PrivatePostgres(25436);
  const dir = new TempDir();
  const url = pg.url('django');
  const orms = new Map<string, DjangoOrm>();
  let nowMs = Date.parse('2026-11-21T06:00:00Z');

  async function sql(text: string, params: unknown[] = []): Promise<void> {
    const client = pg.client('django');
    await client.connect();
    try {
      await client.query(text, params);
    } finally {
      await client.end();
    }
  }

  /** A tenant: its schema, migrated, an ORM session in it, and (optionally) its row in the tenants table. */
  async function tenant(schema: string, listed = true): Promise<DjangoOrm> {
    await sql(`CREATE SCHEMA "${schema}"`);
    await manage({ url, schema }, ['migrate', '-v0']);
    if (listed) await sql('INSERT INTO public.customers_client (schema_name) VALUES ($1)', [schema]);
    const orm = new DjangoOrm({ url, schema });
    orms.set(schema, orm);
    return orm;
  }

  const open = (input: Omit<DjangoSourceInput, 'url'>) =>
    openDjangoEntries(djangoSourceSchema.parse({ url, fullReadEvery: '1h', ...input }), silentLogger, () => nowMs);

  beforeAll(async () => {
    await pg.start();
    await pg.createDatabase('django');
    // django-tenants' tenant model (TenantMixin: schema_name), as customers.Client's table.
    await sql('CREATE TABLE public.customers_client (id serial PRIMARY KEY, schema_name varchar(63) UNIQUE NOT NULL)');
    const alpha = await tenant('alpha');
    const beta = await tenant('beta');
    // A tenant whose schema has no django-celery-beat tables: discovery leaves it out.
    await sql('CREATE SCHEMA gamma');
    await sql("INSERT INTO public.customers_client (schema_name) VALUES ('gamma')");
    await alpha.call({ op: 'create', name: 'tick', task: TASK, interval: INTERVAL, args: ['a'] });
    await beta.call({ op: 'create', name: 'tick', task: TASK, interval: INTERVAL, args: ['b'] });
    await beta.call({ op: 'create', name: 'report', task: TASK, interval: INTERVAL });
  }, 180_000);

  afterAll(async () => {
    for (const orm of orms.values()) await orm.close();
    await pg.stop();
    dir.remove();
  });

  it('names entries <schema>:<name>, follows each schema on its own, and writes runs back into the row’s schema', async () => {
    const source = open({ schemas: ['alpha', 'beta'] });
    try {
      const loaded = await source.load();
      expect(names(loaded.entries)).toEqual(['alpha:tick', 'beta:report', 'beta:tick']);
      expect(argsOf(loaded.entries, 'alpha:tick')).toEqual(['a']);
      expect(argsOf(loaded.entries, 'beta:tick')).toEqual(['b']);
      // The header django-celery-results stores is the row's own name.
      expect(loaded.entries.find((e) => e.name === 'beta:tick')?.entry?.options.headers).toMatchObject({ periodic_task_name: 'tick' });

      const quiet = await source.changesSince(loaded.cursor);
      expect([quiet.changed, quiet.removed]).toEqual([[], []]);

      await orms.get('beta')?.call({ op: 'edit', name: 'tick', args: ['b2'] });
      // The check before a publish asks the change marker of the schemas of the entries due only.
      expect(await source.outdated?.(quiet.cursor, ['alpha:tick'])).toBe(false);
      expect(await source.outdated?.(quiet.cursor, ['alpha:tick', 'beta:report'])).toBe(true);
      const edited = await source.changesSince(quiet.cursor);
      expect(await source.outdated?.(edited.cursor, ['alpha:tick', 'beta:report'])).toBe(false);
      expect(names(edited.changed)).toEqual(['beta:tick']);
      expect(argsOf(edited.changed, 'beta:tick')).toEqual(['b2']);

      source.recordRun('alpha:tick', Date.parse('2026-11-21T06:00:10Z'));
      source.recordRun('alpha:tick', Date.parse('2026-11-21T06:00:20Z'));
    } finally {
      await source.close(); // flushes the write-back
    }
    const alphaTick = await orms.get('alpha')?.call<OrmRow>({ op: 'get', name: 'tick' });
    const betaTick = await orms.get('beta')?.call<OrmRow>({ op: 'get', name: 'tick' });
    expect(alphaTick).toMatchObject({ total_run_count: 2 });
    expect(Date.parse(alphaTick?.last_run_at ?? '')).toBe(Date.parse('2026-11-21T06:00:20Z'));
    expect(betaTick).toMatchObject({ total_run_count: 0, last_run_at: null });
  });

  it('a listed schema that cannot be read holds back no other, and readiness names it', async () => {
    // gamma has no django-celery-beat tables.
    const source = open({ schemas: ['alpha', 'gamma'] });
    try {
      const loaded = await source.load();
      expect(names(loaded.entries)).toEqual(['alpha:tick']);
      const health = source.health();
      expect(health.ok).toBe(false);
      expect(health.reason).toContain('django schema gamma:');
      // The next look tries gamma again (whole), and still follows alpha.
      const next = await source.changesSince(loaded.cursor);
      expect([next.changed, next.removed]).toEqual([[], []]);
      expect(source.health().ok).toBe(false);
    } finally {
      await source.close();
    }
  });

  it('discovers the schemas from the tenants table, and follows tenants added and removed', async () => {
    const source = open({ schemas: 'discover' });
    try {
      const loaded = await source.load();
      expect(names(loaded.entries)).toEqual(['alpha:tick', 'beta:report', 'beta:tick']);

      const delta = await tenant('delta');
      await delta.call({ op: 'create', name: 'tick', task: TASK, interval: INTERVAL, args: ['d'] });
      await sql("DELETE FROM public.customers_client WHERE schema_name = 'beta'");
      // Before fullReadEvery the tenants are not read again; after it they are.
      const before = await source.changesSince(loaded.cursor);
      expect([before.changed, before.removed]).toEqual([[], []]);
      nowMs += 3_600_000;
      const after = await source.changesSince(before.cursor);
      expect(names(after.changed)).toEqual(['delta:tick']);
      expect([...after.removed].sort()).toEqual(['beta:report', 'beta:tick']);
      expect(source.health()).toEqual({ ok: true });
    } finally {
      await source.close();
      await sql("INSERT INTO public.customers_client (schema_name) VALUES ('beta')");
    }
  });

  it('beat check and beat next read every schema; schemas is refused with a MySQL URL', async () => {
    const file = dir.write('beat.yaml', `sources: { django: { url: "${url}", schemas: discover } }\n`);
    const check = await runCli(['check', '--config', file], { cwd: dir.path, env: {} });
    expect(check.stderr).toBe('');
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(/alpha:tick\s+tsbeat_test\.record/);
    expect(check.stdout).toMatch(/delta:tick\s+tsbeat_test\.record/);
    const next = await runCli(['next', '--config', file, '--json', '--entry', 'beta:tick', '--count', '1'], { cwd: dir.path, env: {} });
    expect(next.code).toBe(0);
    expect((JSON.parse(next.stdout) as { entries: { name: string }[] }).entries[0]?.name).toBe('beta:tick');

    const mysql = dir.write('mysql.yaml', 'sources: { django: { url: "mysql://u@127.0.0.1/db", schemas: [a] } }\n');
    const refused = await runCli(['check', '--config', mysql], { cwd: dir.path, env: {} });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('sources.django.schemas (line 1): schemas (django-tenants) needs PostgreSQL');
  });
});
