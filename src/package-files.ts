/**
 * The files tsbeat reads from its own installation at run time, located from this module.
 *
 * This module sits at the top of `src/` (`dist/` once built), as does the command line that the
 * build bundles into one file (`dist/cli.js`, see `npm run build`): inside the bundle
 * `import.meta.url` is that of `dist/cli.js`, so paths relative to this module hold in both forms.
 * Keep every `import.meta.url`-relative path here; one computed in a module further down the tree
 * would point elsewhere once bundled.
 */
/** The package's package.json (for the version). */
export const packageJsonUrl = new URL('../package.json', import.meta.url);

/** A Lua script of `src/redis/lua/` (copied to `dist/redis/lua/` by the build). */
export function luaScriptUrl(name: string): URL {
  return new URL(`./redis/lua/${name}.lua`, import.meta.url);
}

/** The public API (`import … from 'tsbeat'` in a config file): the library build, never the bundle. */
export const libraryEntryUrl = new URL('./index.js', import.meta.url);
