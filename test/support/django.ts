/**
 * The test Django project (test/django_project): `manage.py migrate` against a private database, and
 * an ORM session (orm.py) that creates, edits, disables and deletes django-celery-beat rows as an
 * application does, through Django's models and signals. Debian's python3-django and
 * python3-django-celery-beat (2.4) must be installed.
 */
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { CeleryProcess } from './celery.js';
import { PYTHON } from './celery.js';
import { JsonLineProcess } from './json-lines.js';

export const DJANGO_PROJECT = fileURLToPath(new URL('../django_project/', import.meta.url));

export interface DjangoEnv {
  /** postgres://… or mysql://… of the project's database. */
  readonly url: string;
  readonly useTz?: boolean;
  readonly timeZone?: string;
  /** A PostgreSQL schema for the tables and rows (a django-tenants tenant); it must exist. */
  readonly schema?: string;
}

function environment(env: DjangoEnv): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PYTHONUNBUFFERED: '1',
    DJANGO_DB_URL: env.url,
    DJANGO_USE_TZ: env.useTz === false ? '0' : '1',
    DJANGO_TIME_ZONE: env.timeZone ?? 'UTC',
    ...(env.schema === undefined ? {} : { DJANGO_DB_SCHEMA: env.schema }),
  };
}

/** Runs `manage.py <args>` (migrate, …); rejects with its output when it fails. */
export function manage(env: DjangoEnv, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, ['manage.py', ...args], { cwd: DJANGO_PROJECT, env: environment(env), timeout: 120_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`manage.py ${args.join(' ')} failed: ${stderr || stdout || error.message}`));
      else resolve(stdout);
    });
  });
}

/** What orm.py answers about a row. */
export interface OrmRow {
  readonly name: string;
  readonly enabled: boolean;
  readonly last_run_at: string | null;
  readonly total_run_count: number;
  readonly date_changed: string | null;
}

/** One orm.py process: commands in, answers out, one JSON line each. */
export class DjangoOrm extends JsonLineProcess {
  constructor(env: DjangoEnv) {
    super('orm.py', PYTHON, ['orm.py'], { cwd: DJANGO_PROJECT, env: environment(env) });
  }

  /** Sends one command; resolves with its answer, rejects with the error orm.py reports. */
  override call<T = OrmRow>(command: Record<string, unknown>): Promise<T> {
    return super.call<T>(command);
  }
}

/**
 * django-celery-beat's own DatabaseScheduler (`celery -A proj beat -S django`, Debian's), as the
 * reference for what tsbeat must leave in the tables; it publishes to `broker`. Stop it with stop()
 * (SIGTERM: it syncs its pending writes first, as in production).
 */
export function startDatabaseScheduler(broker: string, env: DjangoEnv): CeleryProcess {
  const child = spawn(
    PYTHON,
    ['-m', 'celery', '-A', 'proj', 'beat', '-S', 'django', '--max-interval', '1', '--loglevel=INFO', '--pidfile='],
    {
      cwd: DJANGO_PROJECT,
      // beat_sync_every = 1: it writes a row's count after each publish. Left to the sync of its
      // stop, the write was lost once in CI, and its next start ran a one-off row a second time.
      env: { ...environment(env), CELERY_BROKER_URL: broker, CELERY_BEAT_SYNC_EVERY: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.once('exit', () => child.kill('SIGKILL'));
  return {
    name: 'DatabaseScheduler',
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    },
  };
}
