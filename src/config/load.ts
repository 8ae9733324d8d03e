/**
 * Finding and reading the config file (YAML, JSON, or a JS/TS module run without a build step),
 * then validating it in one pass so that every problem is reported together.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
// yaml and jiti are loaded only for the formats that need them: a JSON config (or the standby of
// one) then carries neither in memory (bench: idle).
import type { Document } from 'yaml';
import * as z from 'zod';
import { DEFAULTS, ENV } from '../defaults.js';
import { BeatError, ConfigError, ErrorCode, errorMessage } from '../errors.js';
import { amqpQueueConfigProblems } from '../broker/amqp-message.js';
import { libraryEntryUrl } from '../package-files.js';
import { configSchema } from './schema.js';
import { normaliseBigInts } from './json-value.js';
import { toProblems } from './problems.js';
import type { LineLocator } from './problems.js';
import { resolveConfig } from './resolve.js';
import type { ResolvedConfig } from './resolve.js';

export interface ConfigLocation {
  /** --config, if given. */
  readonly explicit?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

const MODULE_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs']);
const YAML_EXTENSIONS = new Set(['.yaml', '.yml']);

/** The default config file names, shortened for messages and help: beat.config.{ts,mts,…}. */
export const DEFAULT_CONFIG_NAMES = `beat.config.{${DEFAULTS.configFileNames.map((n) => extname(n).slice(1)).join(',')}}`;

/** The config file to use: --config, then $BEAT_CONFIG, then the first default name found. */
export function findConfigFile(location: ConfigLocation = {}): string {
  const cwd = location.cwd ?? process.cwd();
  const env = location.env ?? process.env;
  const given = location.explicit ?? env[ENV.config];
  if (given !== undefined && given !== '') {
    const path = resolve(cwd, given);
    const origin = location.explicit !== undefined ? '--config' : ENV.config;
    if (!existsSync(path)) throw new BeatError(ErrorCode.ConfigNotFound, `${origin} ${given}: no such file`);
    if (!statSync(path).isFile()) throw new BeatError(ErrorCode.ConfigNotFound, `${origin} ${given}: not a file`);
    return path;
  }
  for (const dir of DEFAULTS.configSearchDirs) {
    for (const name of DEFAULTS.configFileNames) {
      const path = resolve(cwd, dir, name);
      if (existsSync(path)) return path;
    }
  }
  const where = DEFAULTS.configSearchDirs.map((d) => (d === '.' ? cwd : join(cwd, d))).join(' or ');
  throw new BeatError(
    ErrorCode.ConfigNotFound,
    `no config file found: looked for ${DEFAULT_CONFIG_NAMES} in ${where}. Pass --config PATH or set ${ENV.config}.`,
  );
}

interface RawConfig {
  readonly value: unknown;
  readonly locate?: LineLocator;
}

function displayName(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

async function readYaml(path: string, source: string): Promise<RawConfig> {
  const { LineCounter, isNode, isScalar, parseDocument, visit } = await import('yaml');
  const lineCounter = new LineCounter();
  // yaml's own unique-key check compares every key with every other (quadratic: minutes for a map
  // of 100,000 entries); duplicates are found with a Set per map instead.
  const doc: Document = parseDocument(readFileSync(path, 'utf8'), { lineCounter, intAsBigInt: true, uniqueKeys: false });
  const problems = doc.errors.map((e) => ({ path: '', line: e.linePos?.[0]?.line ?? 0, message: `YAML syntax: ${e.message.split('\n')[0] ?? e.message}` }));
  visit(doc, {
    Map(_key, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        const key = isScalar(pair.key) ? pair.key.value : pair.key;
        if (!seen.has(key)) {
          seen.add(key);
          continue;
        }
        const at = isNode(pair.key) && pair.key.range ? lineCounter.linePos(pair.key.range[0]).line : 0;
        problems.push({ path: '', line: at, message: `YAML syntax: Map keys must be unique; ${JSON.stringify(String(key))} appears twice` });
      }
    },
  });
  if (problems.length > 0) throw new ConfigError(source, problems);
  const locate: LineLocator = (keys) => {
    // Walk up until a node exists: a missing key is reported at its parent's line.
    for (let n = keys.length; n >= 0; n -= 1) {
      const node = doc.getIn(keys.slice(0, n) as unknown[], true);
      if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
    }
    return undefined;
  };
  return { value: normaliseBigInts(doc.toJS({ maxAliasCount: 1000 })), locate };
}

function readJson(path: string, source: string): RawConfig {
  try {
    return { value: JSON.parse(readFileSync(path, 'utf8')) as unknown };
  } catch (error) {
    throw new ConfigError(source, [{ path: '', message: `JSON syntax: ${errorMessage(error)}` }]);
  }
}

async function readModule(path: string, source: string): Promise<RawConfig> {
  // `import … from 'tsbeat'` in a config resolves to this very installation, so a config file
  // mounted anywhere (a container volume, say) works without a node_modules of its own.
  const { createJiti } = await import('jiti');
  const jiti = createJiti(import.meta.url, {
    interopDefault: true,
    moduleCache: false,
    fsCache: false,
    alias: { tsbeat: fileURLToPath(libraryEntryUrl) },
  });
  let exported: unknown;
  try {
    exported = await jiti.import(pathToFileURL(path).href, { default: true });
  } catch (error) {
    throw new BeatError(ErrorCode.ConfigLoad, `${source}: the module failed to load: ${errorMessage(error).split('\n')[0]}`, {
      cause: error,
    });
  }
  if (typeof exported === 'function') {
    try {
      exported = await (exported as () => unknown)();
    } catch (error) {
      throw new BeatError(ErrorCode.ConfigLoad, `${source}: the exported config function threw: ${errorMessage(error)}`, { cause: error });
    }
  }
  if (exported === undefined) {
    throw new ConfigError(source, [{ path: '', message: 'the module has no default export; export default defineConfig({...})' }]);
  }
  return { value: exported };
}

export async function readConfigFile(path: string, source: string): Promise<RawConfig> {
  const ext = extname(path).toLowerCase();
  if (YAML_EXTENSIONS.has(ext)) return readYaml(path, source);
  if (ext === '.json') return readJson(path, source);
  if (MODULE_EXTENSIONS.has(ext)) return readModule(path, source);
  throw new BeatError(ErrorCode.ConfigLoad, `${source}: unknown config format "${ext}"; use .yaml, .yml, .json, .ts, .mts, .js or .mjs`);
}

/**
 * The config schema compiled by zod (z.compile): a generated validator that zod's own runtime parser
 * backs whenever the input is invalid, so results and messages are the same. For 10,000 entries it
 * makes ~38 MB of garbage instead of ~68 MB, in ~60 ms instead of ~92. Compiled on first use (~20 ms),
 * so that commands which read no config (`--version`, `--help`) do not pay for it.
 */
let compiledConfigSchema: typeof configSchema | undefined;

/** Validates an untyped config value; throws ConfigError with every problem found. */
export function parseConfig(value: unknown, source: string, locate?: LineLocator): ResolvedConfig {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(source, [{ path: '', message: 'the config must be an object (a mapping of settings)' }]);
  }
  compiledConfigSchema ??= z.compile(configSchema);
  const result = compiledConfigSchema.safeParse(value);
  if (!result.success) throw new ConfigError(source, toProblems(result.error.issues, locate));
  // Settings that are fine alone but not together, which RabbitMQ would refuse at the first publish.
  const resolved = resolveConfig(result.data);
  const conflicts = amqpQueueConfigProblems(resolved);
  if (conflicts.length > 0) {
    const line = locate?.(['taskQueueMaxPriority']);
    throw new ConfigError(
      source,
      conflicts.map((message) => (line === undefined ? { path: 'taskQueueMaxPriority', message } : { path: 'taskQueueMaxPriority', message, line })),
    );
  }
  return resolved;
}

export interface LoadedConfig {
  readonly path: string;
  /** The path as the user would write it (relative to the working directory when inside it). */
  readonly source: string;
  readonly config: ResolvedConfig;
}

export async function loadConfig(location: ConfigLocation = {}): Promise<LoadedConfig> {
  const path = findConfigFile(location);
  const source = displayName(path, location.cwd ?? process.cwd());
  const raw = await readConfigFile(path, source);
  return { path, source, config: parseConfig(raw.value, source, raw.locate) };
}
