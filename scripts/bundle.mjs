// Bundles the command line (dist/cli.js, compiled by tsc) with its dependencies, so that a start
// loads a few modules instead of hundreds (see the design notes, docs/design.md): the entry point,
// which holds SIGTERM before anything else loads, and the chunks it imports (the commands, and what
// both share), dist/cli-*.js. Run by `npm run build`; esbuild's command line cannot take the plugin below.
import { readdir, rm } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { build } from 'esbuild';

/**
 * Loaded on demand (or never), from node_modules: a bundle would load their code at every start.
 * (`yaml` is bundled, in a chunk of its own that src/config/yaml.ts imports when it reads a YAML
 * file: one file loads faster than its ~75 CommonJS modules.)
 */
const external = [
  'jiti',
  'amqplib',
  // The AWS SDK, required only by a deployment whose broker is SQS (src/sqs/transport.ts), and its
  // STS client only by one with sts_role_arn (src/sqs/assume-role.ts).
  '@aws-sdk/client-sqs',
  '@aws-sdk/client-sts',
  // OpenTelemetry, required only when OTEL_EXPORTER_OTLP_ENDPOINT is set (src/observe/otel-export.ts).
  // The API too: the SDK loaded from node_modules and tsbeat must share one copy of it.
  '@opentelemetry/api',
  '@opentelemetry/sdk-trace-base',
  '@opentelemetry/resources',
  '@opentelemetry/exporter-trace-otlp-http',
  '@opentelemetry/exporter-trace-otlp-proto',
  // The HTTP API (src/http/api-app.ts), loaded by `beat run --http` only. Bundled, @hono/zod-openapi's
  // `import { z } from 'zod'` made esbuild keep all of zod's namespace, its 40 locales too, in the
  // chunk every command loads; from node_modules it brings its own zod when the server starts.
  'hono',
  '@hono/node-server',
  '@hono/zod-openapi',
  // The dashboard's single sign-on (src/dashboard/oidc-sign-in.ts), imported only by a `beat run --http`
  // whose config has auth.oidc: no other start loads it (nor its jose and oauth4webapi).
  'openid-client',
];

/**
 * Node's built-in modules, each taken from `process.getBuiltinModule` when a function of it is first
 * used, instead of imported: an ES module import of a built-in makes its ES module facade, which
 * reads every export, and some exports are getters that load more (`node:fs`'s `ReadStream` loads
 * the streams, `node:util`'s `TextDecoder` its parse_args and diff, `node:crypto`'s `webcrypto`),
 * which `beat check` and `beat next` never use (bench/cli-start.mjs). The exports are those of the
 * Node that builds; each is a getter, so a module is loaded when a function of it is first used.
 */
const builtinsOnFirstUse = {
  name: 'builtins-on-first-use',
  setup(esbuild) {
    // `node:fs`, and `fs` as some dependencies (redlock) write it.
    // (Their names are letters, `_`, `/` and `:`: nothing to escape.)
    const builtin = new RegExp(`^(node:.+|${builtinModules.join('|')})$`);
    esbuild.onResolve({ filter: builtin }, (args) =>
      args.kind === 'import-statement' ? { path: args.path, namespace: 'builtin-on-first-use' } : undefined,
    );
    esbuild.onLoad({ filter: /.*/, namespace: 'builtin-on-first-use' }, (args) => {
      const names = Object.keys(process.getBuiltinModule(args.path)).filter(
        (name) => name !== 'default' && /^[A-Za-z_$][\w$]*$/.test(name),
      );
      const getters = names.map((name) => `get ${name}() { return load().${name}; }`).join(',\n');
      const contents = `let loaded;\nconst load = () => (loaded ??= process.getBuiltinModule(${JSON.stringify(args.path)}));\nmodule.exports = {\n${getters}\n};\n`;
      return { contents, loader: 'js' };
    });
  },
};

// The chunks of an earlier build: their names change with their content.
const CHUNK = /^cli-[\w-]+\.js$/;
for (const name of await readdir('dist')) if (CHUNK.test(name)) await rm(`dist/${name}`);

await build({
  entryPoints: ['dist/cli.js'],
  outdir: 'dist',
  allowOverwrite: true,
  bundle: true,
  // The entry point imports the commands dynamically (src/cli.ts), after it holds the stop signals:
  // they go to a chunk of their own, and what both import (the signals' holder) to a shared one, so
  // that there is one holder. Beside cli.js, so that import.meta.url-relative paths hold in each.
  splitting: true,
  chunkNames: 'cli-[name]-[hash]',
  platform: 'node',
  target: 'node20',
  format: 'esm',
  // Whitespace and syntax only, names kept: stack traces name functions, and with no comments the
  // source is ASCII, which V8 keeps as one byte per character.
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: true,
  external,
  // CommonJS dependencies call require(); an ES module has none of its own. (Every file gets it.)
  banner: { js: "const require = process.getBuiltinModule('node:module').createRequire(import.meta.url);" },
  plugins: [builtinsOnFirstUse],
  logLevel: 'warning',
});

// The worker thread of `beat run`'s entry checks (src/entry-check-worker.ts): a file of its own
// beside cli.js, where base/package-files.ts finds it from the bundle and from the library build
// alike. Not split with the CLI: it loads what the checks need once, in its thread, and the CLI's
// chunks stay as they are.
await build({
  entryPoints: ['dist/entry-check-worker.js'],
  outfile: 'dist/entry-check-worker.js',
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: true,
  external,
  banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  logLevel: 'warning',
});

// The dashboard's page (src/ui/): one script and one stylesheet for the browser, minified, loaded
// from this server alone (no CDN: it works without network), served by src/dashboard/routes.ts.
await build({
  entryPoints: [
    { in: 'src/ui/app.ts', out: 'app' },
    { in: 'src/ui/style.css', out: 'app' },
  ],
  outdir: 'dist/ui',
  bundle: true,
  platform: 'browser',
  target: ['chrome110', 'firefox110', 'safari16'],
  format: 'esm',
  minify: true,
  logLevel: 'warning',
});
