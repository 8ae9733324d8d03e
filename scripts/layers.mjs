#!/usr/bin/env node
/**
 * The shape of src/: which folder may import which, checked. `node scripts/layers.mjs` prints the
 * folder graph, its cycles and every import against the layering, and exits 1 on any problem: an
 * import the layering does not allow, a folder missing from LAYERS, an import of an entry point, a
 * cycle between two folders or between two modules; test/unit/layers.test.ts runs it with the suite.
 *
 * Every import counts, `import type` and dynamic `import()` too: a type shared across folders ties
 * them as much as a value does. The files directly in src/ are the entry points (the CLI and the
 * library's public API): they may import anything and nothing imports them.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Each folder of src/ and the folders it may import, lowest layer first (docs/design.md, "Architecture"). */
export const LAYERS = {
  base: [],
  time: ['base'],
  'core/cron': ['time', 'base'],
  core: ['core/cron', 'time', 'base'],
  config: ['core', 'core/cron', 'time', 'base'],
  celery: ['config', 'core', 'time', 'base'],
  ports: ['celery', 'config', 'core', 'time', 'base'],
  control: ['ports', 'celery', 'config', 'core', 'time', 'base'],
  redis: ['control', 'ports', 'celery', 'config', 'core', 'time', 'base'],
  kombu: ['redis', 'celery', 'config', 'base'],
  amqp: ['ports', 'celery', 'config', 'base'],
  sqs: ['kombu', 'ports', 'celery', 'config', 'base'],
  publish: ['sqs', 'kombu', 'amqp', 'redis', 'ports', 'control', 'celery', 'config', 'core', 'time', 'base'],
  runtime: ['ports', 'control', 'celery', 'config', 'core', 'time', 'base'],
  // The operator verbs, once for every door (CLI, /api, dashboard, client), over the Redis stores.
  operations: ['redis', 'control', 'ports', 'celery', 'config', 'core', 'time', 'base'],
  outcomes: ['ports', 'base'],
  django: ['ports', 'config', 'core', 'time', 'base'],
  observe: ['ports', 'celery', 'base'],
  // The API's request schemas are the config's (an entry's), so that its OpenAPI document shows what the store checks;
  // its answers' are the views every reader shares (control/'s entry view and audit event view, zod alone);
  // a token's grants are core's (core/grants.ts), read from the tokens file here; the verb table's
  // routes are served by one handler over the door the service gives (operations/door.ts VERBS, operations/verb-routes.ts).
  http: ['operations', 'observe', 'control', 'config', 'core', 'base'],
  importers: ['config', 'core', 'core/cron', 'time', 'base'],
  // A plan's shape (control/entry-plan.ts) is what Entries.plan answers; redis, which it drives, sits above control too.
  client: ['operations', 'redis', 'control', 'ports', 'core', 'config', 'base'],
  alerts: ['ports', 'config', 'core', 'time', 'base'],
  redbeat: ['redis', 'ports', 'config', 'core', 'time', 'base'],
  // The dashboard's routes are routes of the one HTTP app (http/api-app.ts): its context, replies and refusals.
  dashboard: ['http', 'operations', 'ports', 'control', 'celery', 'config', 'core', 'time', 'base'],
  // The page's browser code: it shares only the dashboard's wire types (wire.ts imports only the entry view's type, control/entry-view-schema.ts).
  ui: ['dashboard'],
  service: [
    'operations',
    'dashboard',
    'django',
    'alerts',
    'redbeat',
    'outcomes',
    'http',
    'observe',
    'runtime',
    'publish',
    'amqp',
    'kombu',
    'redis',
    'control',
    'ports',
    'celery',
    'config',
    'core',
    'time',
    'base',
  ],
  commands: [
    'operations',
    'django',
    'importers',
    'redbeat',
    'outcomes',
    'service',
    'http',
    'observe',
    'runtime',
    'publish',
    'redis',
    'control',
    'ports',
    'celery',
    'config',
    'core',
    'time',
    'base',
  ],
};

const ENTRY = '.';

function sourceFiles(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sourceFiles(path, out);
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

const IMPORT =
  /(?:^|[\s;}])(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

/** Checks the src/ folder under `root`; returns what it found (nothing wrong when `problems` is empty). */
export function checkLayers(root) {
  const src = join(root, 'src');
  const folderOf = (file) => relative(src, dirname(file)) || ENTRY;
  const edges = new Map();
  const fileEdges = new Map();
  const problems = [];
  const files = sourceFiles(src);
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const from = folderOf(file);
    if (from !== ENTRY && !(from in LAYERS))
      problems.push(
        `${relative(root, file)}: folder src/${from} is not in LAYERS (scripts/layers.mjs); add it with the folders it may import`,
      );
    for (const match of text.matchAll(IMPORT)) {
      const spec = match[1] ?? match[2];
      const target = resolve(dirname(file), spec);
      const targetFile = target.replace(/\.js$/, '.ts');
      const to = folderOf(targetFile);
      if (!fileEdges.has(file)) fileEdges.set(file, new Set());
      fileEdges.get(file).add(targetFile);
      if (to === from) continue;
      if (!edges.has(from)) edges.set(from, new Set());
      edges.get(from).add(to);
      if (to === ENTRY)
        problems.push(`${relative(root, file)} imports ${spec}: the files directly in src/ are entry points, which nothing imports`);
      else if (from !== ENTRY && LAYERS[from] && !LAYERS[from].includes(to)) {
        problems.push(
          `${relative(root, file)} imports ${spec}: src/${from} may not import src/${to} (it may import ${LAYERS[from].join(', ') || 'nothing'})`,
        );
      }
    }
  }
  const cycles = findCycles(edges);
  for (const cycle of cycles) problems.push(`folder cycle: ${cycle.join(' -> ')}`);
  // Within a folder too: two modules that import each other are one subject split in two, or two
  // subjects tangled; either way neither can be read, tested or moved alone.
  for (const cycle of findCycles(fileEdges))
    problems.push(`module cycle: ${cycle.map((file) => relative(root, file)).join(' -> ')}; move what both need into a module of its own`);
  return { files: files.length, edges, cycles, problems };
}

/** The strongly connected folder groups of more than one folder, each as a path that closes. */
function findCycles(edges) {
  const index = new Map(),
    low = new Map(),
    stack = [],
    on = new Set(),
    groups = [];
  let next = 0;
  const visit = (v) => {
    index.set(v, next);
    low.set(v, next);
    next += 1;
    stack.push(v);
    on.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) === index.get(v)) {
      const group = [];
      for (let w; w !== v;) {
        w = stack.pop();
        on.delete(w);
        group.push(w);
      }
      if (group.length > 1) groups.push([...group.reverse(), group[0]]);
    }
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return groups;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const { files, edges, cycles, problems } = checkLayers(root);
  if (process.argv.includes('--graph')) {
    for (const [from, tos] of [...edges].sort())
      console.log(
        `${from === ENTRY ? '(entry)' : from} -> ${[...tos]
          .map((t) => (t === ENTRY ? '(entry)' : t))
          .sort()
          .join(', ')}`,
      );
  }
  console.log(`${files} files, ${edges.size} folders importing others, folder cycles: ${cycles.length}`);
  for (const problem of problems) console.log(problem);
  process.exitCode = problems.length > 0 ? 1 : 0;
}
