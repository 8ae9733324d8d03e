/**
 * The files tsbeat reads from its own installation at run time, located from this module.
 *
 * The library build puts this module at `dist/base/package-files.js` (`src/base/` when run from
 * source), while the build bundles the command line into one file, `dist/cli.js`, where
 * `import.meta.url` is that of the bundle. `topUrl` is `dist/` (or `src/`) in both forms. Keep
 * every `import.meta.url`-relative path here; one computed in another module would point
 * elsewhere once bundled.
 */
const inOwnFile = /\/base\/package-files\.[jt]s$/.test(new URL(import.meta.url).pathname);
const topUrl = new URL(inOwnFile ? '../' : './', import.meta.url);

/** The package's package.json (for the version). */
export const packageJsonUrl = new URL('../package.json', topUrl);

/** A Lua script of `src/redis/lua/` (copied to `dist/redis/lua/` by the build). */
export function luaScriptUrl(name: string): URL {
  return new URL(`./redis/lua/${name}.lua`, topUrl);
}

/** A Lua fragment of `src/redis/lua/includes/` (copied to `dist/redis/lua/includes/`), for `--- @include "<name>"`. */
export function luaIncludeUrl(name: string): URL {
  return new URL(`./redis/lua/includes/${name}.lua`, topUrl);
}

/** The public API (`import … from 'tsbeat'` in a config file): the library build, never the bundle. */
export const libraryEntryUrl = new URL('./index.js', topUrl);

/**
 * The worker thread that checks the entries of `beat run`'s API writes (src/entry-check-worker.ts,
 * bundled to `dist/` by the build). Run from source (the tests), the built one: a worker thread
 * cannot load the sources, whose imports name `.js` files.
 */
export const entryCheckWorkerUrl = new URL(
  new URL(import.meta.url).pathname.endsWith('.ts') ? '../dist/entry-check-worker.js' : './entry-check-worker.js',
  topUrl,
);

/** A built asset of the dashboard's page (`dist/ui/`, bundled from `src/ui/` by scripts/bundle.mjs). */
export function uiAssetUrl(name: string): URL {
  return new URL(`./ui/${name}`, topUrl);
}
