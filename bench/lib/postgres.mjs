// A private PostgreSQL for the django workload: Debian's initdb and postgres on a loopback port,
// its own data and socket directory under /tmp, trust authentication, fsync off, and
// pg_stat_statements loaded (the bench counts each scheduler's queries with it). Stopped by its
// pid at the end. This repeats the start-up of test/support/postgres-server.ts in small: that
// module is TypeScript for vitest and imports the tests' process helpers (and through them the
// CLI's sources), which plain `node bench/run.mjs` cannot load; it also has no way to pass
// server settings such as shared_preload_libraries.
import { execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** Debian installs each major version under /usr/lib/postgresql/<major>/bin; the newest wins. */
export function postgresBin() {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root)
    .filter((d) => /^\d+$/.test(d) && existsSync(join(root, d, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] === undefined ? undefined : join(root, majors[0], 'bin');
}

/** PostgreSQL refuses to run as root: then it runs as Debian's `postgres` system user. */
function serverIds() {
  if (process.getuid?.() !== 0) return {};
  const id = (flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

export async function startPostgres(port) {
  const bin = postgresBin();
  if (bin === undefined) throw new Error('PostgreSQL is not installed (/usr/lib/postgresql/*/bin/postgres); apt-get install postgresql');
  const dir = mkdtempSync(join(tmpdir(), 'tsbeat-bench-pg-'));
  const ids = serverIds();
  if (ids.uid !== undefined) chownSync(dir, ids.uid, ids.gid);
  const data = join(dir, 'data');
  execFileSync(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8'], {
    ...ids,
    stdio: 'pipe',
  });
  const settings = {
    listen_addresses: '127.0.0.1',
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    shared_preload_libraries: 'pg_stat_statements',
    'pg_stat_statements.track': 'top',
  };
  const args = ['-D', data, '-p', String(port), '-k', dir, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
  const child = spawn(join(bin, 'postgres'), args, { ...ids, stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.once('exit', () => child.kill('SIGKILL'));
  const url = (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`postgres on ${port} exited: ${output}`);
    const client = new pg.Client({ connectionString: url() });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
      break;
    } catch {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline) throw new Error(`postgres on ${port} did not answer within 30 s: ${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    pid: child.pid,
    /** Fast shutdown (SIGINT to the postmaster, by its pid), then the directory goes. */
    async stop() {
      if (child.exitCode === null) {
        process.kill(child.pid, 'SIGINT');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
