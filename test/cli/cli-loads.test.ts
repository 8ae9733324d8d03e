/**
 * What `beat check` and `beat next` load when they run (issue 65: a command opens only what its verb
 * reads), recorded by a module hook in the process that runs them: every package an import or a
 * require resolves, and every module of the build. The build as tsc leaves it (dist/commands/), not
 * the bundle, whose chunks would hide a package's name; test/unit/cli-imports.test.ts holds the
 * static graph, this the imports the commands' code reaches while it runs, dynamic ones included.
 * Structure, not timing: bench/cli-start.mjs measures what it costs.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'tsbeat-loads-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Records the package of every bare specifier resolved (import and require alike) and every file of
// dist/ loaded, written to $LOADS_FILE when the process exits.
const HOOK = `
import { registerHooks } from 'node:module';
import { writeFileSync } from 'node:fs';
const packages = new Set();
const files = new Set();
registerHooks({
  resolve(specifier, context, next) {
    const resolved = next(specifier, context);
    if (!/^(node:|file:|data:|[./])/.test(specifier)) packages.add(specifier.replace(/^((?:@[^/]+\\/)?[^/]+).*$/, '$1'));
    if (resolved.url.includes('/dist/')) files.add(resolved.url.replace(/^.*\\/dist\\//, ''));
    return resolved;
  },
});
process.on('exit', () => writeFileSync(process.env.LOADS_FILE, JSON.stringify({ packages: [...packages], files: [...files] })));
`;
const hook = join(dir, 'hook.mjs');
writeFileSync(hook, HOOK);

/** A client, server, exporter or logger that neither command uses on a config of the file's own entries. */
const NEVER = [
  'amqplib',
  '@aws-sdk/client-sqs',
  '@aws-sdk/client-sts',
  'pg',
  'mysql2',
  'prom-client',
  'pino-pretty',
  'hono',
  '@hono/node-server',
  '@hono/zod-openapi',
  '@opentelemetry/api',
  '@opentelemetry/sdk-trace-base',
  'playwright-core',
  'jiti',
  'msgpackr',
];

/**
 * The modules of a running deployment (its service, HTTP server, brokers' transports, metrics,
 * alerts, outcomes), and the SQS checks of the entries (publish/sqs-entry-checks.js, with the
 * message encoders and msgpackr), which load only when the broker is SQS (publish/send-checks.ts).
 */
const RUNS_ONLY = /^(service|http|amqp|observe|dashboard|alerts|outcomes|sqs|kombu)\/|^publish\/(brokers|publishing|sqs-entry-checks)\.js$/;

/** Runs `beat <argv>` through the build's dispatch (dist/commands/main.js) with the hook; what it loaded. */
function loadsOf(argv: string[]): { code: number | null; stderr: string; packages: string[]; files: string[] } {
  const loads = join(dir, `${argv[0]}-loads.json`);
  const main = pathToFileURL(join(repoRoot, 'dist', 'commands', 'main.js')).href;
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      pathToFileURL(hook).href,
      '--input-type=module',
      '-e',
      `const { main } = await import(${JSON.stringify(main)}); process.exitCode = await main(${JSON.stringify(argv)});`,
    ],
    { cwd: repoRoot, env: { PATH: process.env.PATH ?? '', LOADS_FILE: loads }, encoding: 'utf8', timeout: 30_000 },
  );
  const { packages, files } = JSON.parse(readFileSync(loads, 'utf8')) as { packages: string[]; files: string[] };
  return { code: r.status, stderr: r.stderr, packages, files };
}

describe('what beat check and beat next load while they run', () => {
  it('beat check loads no Redis client, broker, database driver, metrics, logger or HTTP server', () => {
    const { code, stderr, packages, files } = loadsOf(['check', '--config', join(repoRoot, 'schedules', 'example.yaml')]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(NEVER.filter((p) => packages.includes(p))).toEqual([]);
    expect(['ioredis', 'redlock', 'pino'].filter((p) => packages.includes(p))).toEqual([]);
    // What the command is for: the config's reader and the schedules it compiles.
    expect(packages).toEqual(expect.arrayContaining(['zod', 'luxon', 'yaml']));
    expect(files.filter((f) => /^redis\//.test(f) || RUNS_ONLY.test(f))).toEqual([]);
  });

  it("beat next reads the deployment's entry store alone: its Redis client, and none of the other stores", () => {
    const config = join(dir, 'next.yaml');
    // A deployment of its own on the machine's Redis: its store is empty, so the file's entries are all listed.
    writeFileSync(
      config,
      `name: loads-${process.pid}\nbroker: { url: "redis://127.0.0.1:6379/0" }\nbeatSchedule:\n  tick: { task: t.tick, schedule: { cron: "*/5 * * * *" } }\n`,
    );
    const { code, stderr, packages, files } = loadsOf(['next', '--config', config, '--count', '1']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(NEVER.filter((p) => packages.includes(p))).toEqual([]);
    expect(packages).toContain('ioredis');
    expect(files).toContain('redis/entry-store.js');
    const otherStores = [
      'redis/control-store.js',
      'redis/state-store.js',
      'redis/run-history-store.js',
      'redis/failing-entries-store.js',
      'redis/unconsumed-queues.js',
      'redis/replica-registry.js',
      'commands/control-open.js',
    ];
    expect(otherStores.filter((f) => files.includes(f))).toEqual([]);
    expect(files.filter((f) => RUNS_ONLY.test(f))).toEqual([]);
  });
});
