/**
 * `sources.django` mistakes, from the file, --django-url or $BEAT_DJANGO_URL: exit 2, naming where
 * the value came from and what to give instead, before anything connects.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'tsbeat-django-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeConfig(name: string, text: string): string {
  writeFileSync(join(dir, name), text);
  return name;
}

describe('a django source that cannot be used', () => {
  it('refuses SQLite and naive datetimes without a zone, naming each setting', async () => {
    const file = writeConfig('sqlite.yaml', 'sources:\n  django: { url: "sqlite:///db.sqlite3", useTz: false }\n');
    const r = await runCli(['check', '--config', file], { cwd: dir, env: {} });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('sources.django.url (line 2): the scheme "sqlite" is not supported');
    expect(r.stderr).toContain("sources.django.timeZone (line 2): with useTz false, give timeZone: Django's TIME_ZONE");
  });

  it('names --django-url and $BEAT_DJANGO_URL when the URL came from there', async () => {
    const file = writeConfig('ok.yaml', 'sources: { django: { url: "postgres://u@127.0.0.1/db" } }\n');
    const flag = await runCli(['run', '--config', file, '--django-url', 'mysql://127.0.0.1'], { cwd: dir, env: {} });
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain('--django-url: the URL names no database');
    const env = await runCli(['run', '--config', file], { cwd: dir, env: { BEAT_DJANGO_URL: 'nope' } });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('BEAT_DJANGO_URL: not a URL');
  });

  it('refuses an unknown key with the nearest one', async () => {
    const file = writeConfig('typo.yaml', 'sources: { django: { url: "postgres://u@127.0.0.1/db", tablePrefx: "x_" } }\n');
    const r = await runCli(['check', '--config', file], { cwd: dir, env: {} });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('did you mean "tablePrefix"?');
  });
  it('refuses schemas that are not schema names or "discover", and a tenantsTable that is not a table name', async () => {
    const file = writeConfig(
      'tenants.yaml',
      'sources:\n  django: { url: "postgres://u@127.0.0.1/db", schemas: ["ok", "no;drop"], tenantsTable: "a.b.c" }\n',
    );
    const r = await runCli(['check', '--config', file], { cwd: dir, env: {} });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('a schema name is letters, digits, "_" and "-"');
    expect(r.stderr).toContain('tenantsTable must be a table name, optionally with its schema');
    const word = writeConfig('word.yaml', 'sources:\n  django: { url: "postgres://u@127.0.0.1/db", schemas: all }\n');
    const w = await runCli(['check', '--config', word], { cwd: dir, env: {} });
    expect(w.code).toBe(2);
    expect(w.stderr).toContain('schemas must be a list of PostgreSQL schema names, such as ["public", "tenant1"], or "discover"');
  });
});
