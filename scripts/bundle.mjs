// Bundles the command line (dist/cli.js, compiled by tsc) with its dependencies into one file, so
// that a start loads one module instead of hundreds (see the README's design notes). Run by
// `npm run build`.
import { build } from 'esbuild';

/** Loaded on demand (or never), from node_modules: a bundle would load their code at every start. */
const external = ['yaml', 'jiti', 'amqplib'];

await build({
  entryPoints: ['dist/cli.js'],
  outfile: 'dist/cli.js',
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  // Whitespace and syntax only, names kept: stack traces name functions, and with no comments the
  // source is ASCII, which V8 keeps as one byte per character.
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: true,
  external,
  // CommonJS dependencies call require(); an ES module has none of its own.
  banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  logLevel: 'warning',
});
