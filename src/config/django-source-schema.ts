/**
 * `sources.django`: django-celery-beat's tables as a source of entries (src/django/). The URL names
 * the database Django uses (PostgreSQL or MySQL/MariaDB); `useTz` and `timeZone` are Django's
 * `USE_TZ` and `TIME_ZONE`, needed to read the datetimes MySQL stores without a zone.
 */
import * as z from 'zod';
import { shown } from '../base/errors.js';
import { isValidZone } from '../time/zone.js';
import { DEFAULTS } from '../base/defaults.js';
import { durationSchema, TIMER_MAX_MS } from './duration.js';
import { keyed } from './key-spelling.js';

export type DjangoDbKind = 'postgres' | 'mysql';

const SCHEMES: Readonly<Record<string, DjangoDbKind>> = {
  'postgres:': 'postgres',
  'postgresql:': 'postgres',
  'mysql:': 'mysql',
  'mariadb:': 'mysql',
};

const URL_EXAMPLE = '"postgres://user:password@host:5432/dbname" or "mysql://user:password@host:3306/dbname"';

/** The database kind of a URL, or why the URL cannot be used. */
export function djangoDbKind(url: string): { kind: DjangoDbKind } | { problem: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { problem: `not a URL; give the database Django uses, such as ${URL_EXAMPLE}` };
  }
  const kind = SCHEMES[parsed.protocol];
  if (kind === undefined) {
    return {
      problem: `the scheme ${shown(parsed.protocol.replace(/:$/, ''))} is not supported: use postgres:// (or postgresql://) or mysql:// (or mariadb://); SQLite is not supported`,
    };
  }
  if (parsed.hostname === '' && !parsed.searchParams.has('host') && !parsed.searchParams.has('socketPath'))
    return { problem: `the URL names no host; give one, as in ${URL_EXAMPLE}` };
  if (parsed.pathname.replace(/^\//, '') === '') return { problem: `the URL names no database; add it as the path, as in ${URL_EXAMPLE}` };
  return { kind };
}

/** A PostgreSQL schema name as django-tenants allows it (_check_schema_name: letters, digits, _ and -; 63 at most). */
const SCHEMA_NAME = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,62}$/;
const SCHEMA_ERROR = 'a schema name is letters, digits, "_" and "-", at most 63 characters, as django-tenants allows';

const djangoDbKindOf = (url: string): DjangoDbKind | undefined => {
  const found = djangoDbKind(url);
  return 'kind' in found ? found.kind : undefined;
};

export const djangoSourceSchema = keyed({
  /** The database of the Django project (its DATABASES["default"]). */
  url: z.string({ error: `sources.django.url must be a database URL such as ${URL_EXAMPLE}` }).superRefine((url, ctx) => {
    const found = djangoDbKind(url);
    if ('problem' in found) ctx.addIssue({ code: 'custom', message: found.problem, input: url });
  }),
  /** The tables' common prefix: django-celery-beat's app label and an underscore. */
  tablePrefix: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]{0,40}$/, { error: 'tablePrefix must be letters, digits and underscores, such as "django_celery_beat_"' })
    .default(DEFAULTS.djangoTablePrefix),
  /** Django's USE_TZ: false when the project stores naive datetimes (MySQL then holds local wall times). */
  useTz: z.boolean({ error: "useTz must be true or false (Django's USE_TZ)" }).default(true),
  /** Django's TIME_ZONE: the zone of naive datetimes when useTz is false. */
  timeZone: z
    .string({ error: 'timeZone must be an IANA zone name such as "Europe/Berlin" (Django\'s TIME_ZONE)' })
    .refine(isValidZone, {
      error: (issue) => `unknown time zone ${shown(String(issue.input))}; give Django's TIME_ZONE, such as "Europe/Berlin"`,
    })
    .optional(),
  /** Everything is read again this often, for writes that bypass the signals (queryset.update()). */
  fullReadEvery: durationSchema('sources.django.fullReadEvery', 1000, TIMER_MAX_MS).default(DEFAULTS.djangoFullReadMs),
  /** Write last_run_at and total_run_count back after runs, as DatabaseScheduler does (the admin shows them). */
  writeBack: z.boolean({ error: 'writeBack must be true or false' }).default(true),
  /**
   * django-tenants (PostgreSQL): the schemas whose django-celery-beat tables run, each entry named
   * `<schema>:<PeriodicTask.name>`; "discover" reads them from the tenants table.
   */
  schemas: z
    .union([z.literal('discover'), z.array(z.string().regex(SCHEMA_NAME, { error: SCHEMA_ERROR })).min(1)], {
      error: 'schemas must be a list of PostgreSQL schema names, such as ["public", "tenant1"], or "discover"',
    })
    .optional(),
  /** With schemas: "discover": the table of the tenant model (TENANT_MODEL), whose `schema_name` column names the schemas. */
  tenantsTable: z
    .string()
    .regex(/^([A-Za-z_][A-Za-z0-9_]{0,62}\.)?[A-Za-z_][A-Za-z0-9_]{0,62}$/, {
      error: 'tenantsTable must be a table name, optionally with its schema, such as "public.customers_client"',
    })
    .default(DEFAULTS.djangoTenantsTable),
}).superRefine((source, ctx) => {
  if (source.schemas !== undefined && djangoDbKindOf(source.url) === 'mysql') {
    ctx.addIssue({
      code: 'custom',
      path: ['schemas'],
      message: 'schemas (django-tenants) needs PostgreSQL: MySQL has no schemas within a database; remove it',
      input: source.schemas,
    });
  }
  if (source.useTz === false && source.timeZone === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['timeZone'],
      message: "with useTz false, give timeZone: Django's TIME_ZONE, the zone the naive datetimes are in",
      input: undefined,
    });
  }
});
export type DjangoSourceInput = z.input<typeof djangoSourceSchema>;
export type DjangoSourceSettings = z.output<typeof djangoSourceSchema>;
