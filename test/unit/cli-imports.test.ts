/**
 * What a command of the command line loads before it runs (bench/cli-start.mjs times it): the
 * modules its module imports statically, from the entry point down, read from esbuild's import
 * graph of src/. `beat --help`, `check` and `next` start in a few times `node -e 0` because they
 * load no client of Redis, a broker or a database, no metrics and no logger: a dynamic import()
 * (main.ts's list of commands, a django source's reader) is where those start.
 */
import { join } from 'node:path';
import { build } from 'esbuild';
import type { Metafile } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '..', '..', 'src');

/** Packages none of the three loads: each is a client, a server or an exporter they do not use. */
const HEAVY = [
  'ioredis',
  'redlock',
  'amqplib',
  '@aws-sdk/client-sqs',
  '@aws-sdk/client-sts',
  'pg',
  'mysql2',
  'prom-client',
  'playwright-core',
  'pino',
  'pino-pretty',
  '@opentelemetry/api',
  // The SQS message's encoders pack with it; SQS's checks of the entries load only with an SQS broker.
  'msgpackr',
];

let graph: Metafile['inputs'];

beforeAll(async () => {
  const result = await build({
    entryPoints: ['cli.ts', 'commands/check.ts', 'commands/next.ts', 'commands/run.ts'].map((file) => join(SRC, file)),
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    packages: 'external',
    metafile: true,
    write: false,
    outdir: 'out',
    logLevel: 'silent',
  });
  graph = result.metafile.inputs;
});

/** The packages the modules reachable from `entries` by static imports import, and those modules. */
function staticallyLoaded(entries: readonly string[]): { modules: Set<string>; packages: Set<string> } {
  const key = (file: string) => Object.keys(graph).find((path) => path.endsWith(`src/${file}`));
  const modules = new Set<string>();
  const packages = new Set<string>();
  const todo = entries.map((file) => {
    const found = key(file);
    if (found === undefined) throw new Error(`src/${file} is not in the import graph`);
    return found;
  });
  for (let path = todo.pop(); path !== undefined; path = todo.pop()) {
    if (modules.has(path)) continue;
    modules.add(path);
    for (const imported of graph[path]?.imports ?? []) {
      if (imported.kind === 'dynamic-import') continue;
      if (imported.external) {
        if (!imported.path.startsWith('node:')) packages.add(imported.path.replace(/^((?:@[^/]+\/)?[^/]+).*$/, '$1'));
      } else todo.push(imported.path);
    }
  }
  return { modules, packages };
}

describe('what a command loads before it runs', () => {
  it('beat --help loads the command list alone: no command module, no package', () => {
    const { modules, packages } = staticallyLoaded(['cli.ts', 'commands/main.ts']);
    expect([...packages]).toEqual([]);
    expect([...modules].filter((m) => /commands\/(check|next|run|control|entries|import)\.ts$/.test(m))).toEqual([]);
  });

  it.each(['check', 'next'])('beat %s loads no Redis, broker, database, metrics or logger library', (name) => {
    const { modules, packages } = staticallyLoaded(['cli.ts', 'commands/main.ts', `commands/${name}.ts`]);
    expect(HEAVY.filter((p) => packages.has(p))).toEqual([]);
    // The config's reader and the schedules it compiles are what these commands are for.
    expect(packages).toContain('zod');
    expect([...modules].some((m) => m.endsWith('src/config/load.ts'))).toBe(true);
    // The YAML library comes with the reader of a YAML file, imported when one is read.
    expect(packages.has('yaml')).toBe(false);
    expect([...modules].filter((m) => m.endsWith('src/config/yaml.ts'))).toEqual([]);
  });

  it('beat run loads no database driver: the Django source loads its own at its first statement (mysql2 alone took ~30 ms of the start)', () => {
    const { modules, packages } = staticallyLoaded(['cli.ts', 'commands/main.ts', 'commands/run.ts']);
    // The reader of the Django tables is among what run loads; its drivers are not.
    expect([...modules].some((m) => m.endsWith('src/django/db.ts'))).toBe(true);
    expect(['pg', 'mysql2'].filter((p) => packages.has(p))).toEqual([]);
    expect(packages).toContain('ioredis');
  });
});
