/**
 * A JS or TS config module, run without a build step (jiti) → its default export, or the value of
 * the function it exports. Its failures are bad input, each said in the user's terms: a syntax
 * error with file:line:column, a missing default export, a top-level await that never settles.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BeatError, ConfigError, ErrorCode, errorMessage } from '../base/errors.js';
import { libraryEntryUrl } from '../base/package-files.js';

/** jiti's parse errors: "ParseError: <what>\n <file>:<line>:<column counted from 0>". */
const PARSE_ERROR = /^(?:\w*Error: )?([^\n]*?)\s*\n\s*(\S[^\n]*?):(\d+):(\d+)\s*$/;

function loadFailure(error: unknown, path: string, source: string): BeatError {
  const message = errorMessage(error);
  const parsed = PARSE_ERROR.exec(message);
  if (parsed !== null) {
    const [, what, file, line, column] = parsed;
    // An editor's column counts from 1. A syntax error in a module the config imports names that file.
    return new BeatError(
      ErrorCode.ConfigLoad,
      `${file === path ? source : file}:${line}:${Number(column) + 1}: syntax error: ${what}; fix the code there`,
      {
        cause: error,
      },
    );
  }
  return new BeatError(ErrorCode.ConfigLoad, `${source}: the module failed to load: ${message.split('\n')[0]}`, { cause: error });
}

/**
 * `work`, or `stalled()` thrown if the event loop empties before it settles: a top-level await (or
 * a promise of the exported function) that nothing is left to resolve. Node would otherwise exit
 * with code 13 and not a word.
 */
async function unlessStalled<T>(work: Promise<T>, stalled: () => Error): Promise<T> {
  let onEmpty = (): void => undefined;
  const empty = new Promise<never>((_, reject) => {
    onEmpty = () => reject(stalled());
  });
  process.once('beforeExit', onEmpty);
  try {
    return await Promise.race([work, empty]);
  } finally {
    process.off('beforeExit', onEmpty);
  }
}

export async function readModuleConfig(path: string, source: string): Promise<unknown> {
  // `import … from 'tsbeat'` in a config resolves to this very installation, so a config file
  // mounted anywhere (a container volume, say) works without a node_modules of its own.
  const { createJiti } = await import('jiti');
  const jiti = createJiti(import.meta.url, {
    interopDefault: true,
    moduleCache: false,
    fsCache: false,
    alias: { tsbeat: fileURLToPath(libraryEntryUrl) },
  });
  const stalled = (what: string) => (): Error =>
    new BeatError(
      ErrorCode.ConfigLoad,
      `${source}: ${what} never settled: it waits on a promise that nothing will resolve, so the config never finished loading; make every promise it awaits resolve or reject`,
    );
  let namespace: unknown;
  try {
    namespace = await unlessStalled(jiti.import(pathToFileURL(path).href), stalled('the module (its top-level await)'));
  } catch (error) {
    throw error instanceof BeatError ? error : loadFailure(error, path, source);
  }
  if (namespace === null || typeof namespace !== 'object' || !('default' in namespace)) {
    const names = namespace !== null && typeof namespace === 'object' ? Object.keys(namespace) : [];
    const has = names.length > 0 ? ` (it exports ${names.map((n) => `"${n}"`).join(', ')})` : '';
    throw new ConfigError(source, [
      { path: '', message: `the module has no default export${has}; write export default defineConfig({...})` },
    ]);
  }
  let exported = namespace.default;
  if (typeof exported === 'function') {
    try {
      exported = await unlessStalled(
        Promise.resolve((exported as () => unknown)()),
        stalled('the promise of the exported config function'),
      );
    } catch (error) {
      if (error instanceof BeatError) throw error;
      throw new BeatError(ErrorCode.ConfigLoad, `${source}: the exported config function threw: ${errorMessage(error)}`, { cause: error });
    }
  }
  if (exported === undefined) {
    throw new ConfigError(source, [{ path: '', message: 'the default export is undefined; write export default defineConfig({...})' }]);
  }
  return exported;
}
