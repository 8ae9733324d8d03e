/**
 * Finding and reading the config file (YAML, JSON, or a JS/TS module run without a build step),
 * then validating it in one pass so that every problem is reported together.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, isAbsolute, join, relative, resolve } from 'node:path';
import { DEFAULTS } from '../base/defaults.js';
import { ENV } from '../base/env.js';
import { BeatError, ConfigError, ErrorCode, errorMessage } from '../base/errors.js';
import { amqpQueueConfigProblems } from './amqp-queues.js';
import { connectionProblems } from './connection-checks.js';
import { configQueueProblems, queueNameContextOf } from './queue-names.js';
import type { BrokerOverride } from './connection-checks.js';
import { configSchema } from './schema.js';
import { formatPath, toProblems } from './problems.js';
import type { LineLocator } from './problems.js';
import { readModuleConfig } from './module.js';
import { brokerKindIfKnown } from './broker-kinds.js';
import { followsOutcomes, resolveConfig } from './resolve.js';
import { keepsRunHistory } from './outcome-sources.js';
import { alertSettingProblems } from './alerts-schema.js';
import { overlapSettingProblems, pauseOnFailureProblems } from './overlap-settings.js';
import { retrySettingProblems } from './retry-settings.js';
import { concurrencyProblems } from './concurrency.js';
import { sentryConfigProblems, sentrySettingsFrom } from './sentry-schema.js';
import type { ResolvedConfig } from './resolve.js';

/** Names of the config files looked for when neither --config nor BEAT_CONFIG is given, in order. */
const CONFIG_FILE_NAMES = [
  'beat.config.ts',
  'beat.config.mts',
  'beat.config.js',
  'beat.config.mjs',
  'beat.config.json',
  'beat.config.yaml',
  'beat.config.yml',
] as readonly string[];

export interface ConfigLocation {
  /** --config, if given. */
  readonly explicit?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** A broker URL that replaces broker.url (`beat run --broker`, $BEAT_BROKER_URL), checked with the rest. */
  readonly broker?: BrokerOverride | undefined;
  /** A Django database URL that replaces sources.django.url (`beat run --django-url`, $BEAT_DJANGO_URL). */
  readonly django?: BrokerOverride | undefined;
}

const MODULE_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs']);
const YAML_EXTENSIONS = new Set(['.yaml', '.yml']);

/** The default config file names, shortened for messages and help: beat.config.{ts,mts,…}. */
export const DEFAULT_CONFIG_NAMES = `beat.config.{${CONFIG_FILE_NAMES.map((n) => extname(n).slice(1)).join(',')}}`;

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
    for (const name of CONFIG_FILE_NAMES) {
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

/** The file's text; a file that cannot be read is bad input, named with the cause and the fix. */
function readText(path: string, source: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const fix =
      code === 'EACCES' || code === 'EPERM'
        ? `make it readable by the user beat runs as${process.getuid === undefined ? '' : ` (uid ${process.getuid()})`}, e.g. chmod a+r ${source}`
        : code === 'EISDIR'
          ? 'it is a directory: pass the config file inside it with --config'
          : 'check that the file exists and can be read';
    throw new BeatError(ErrorCode.ConfigLoad, `${source}: cannot read the config file (${code ?? errorMessage(error)}): ${fix}`, {
      cause: error,
    });
  }
}

function readJson(path: string, source: string): RawConfig {
  const text = readText(path, source);
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (error) {
    throw new ConfigError(source, [{ path: '', message: `JSON syntax: ${errorMessage(error)}` }]);
  }
}

export async function readConfigFile(path: string, source: string): Promise<RawConfig> {
  const ext = extname(path).toLowerCase();
  if (YAML_EXTENSIONS.has(ext)) {
    // Imported here: the YAML library is loaded only to read a YAML file (see yaml.ts).
    const { parseYamlConfig } = await import('./yaml.js');
    return parseYamlConfig(readText(path, source), source);
  }
  if (ext === '.json') return readJson(path, source);
  if (MODULE_EXTENSIONS.has(ext)) {
    readText(path, source); // jiti reads it again; a file it cannot read is reported here, as for the other formats
    return { value: await readModuleConfig(path, source) };
  }
  throw new BeatError(ErrorCode.ConfigLoad, `${source}: unknown config format "${ext}"; use .yaml, .yml, .json, .ts, .mts, .js or .mjs`);
}

/**
 * Validates an untyped config value; throws ConfigError with every problem found. `broker` replaces
 * broker.url, checked as the file's would be. Everything `beat run` would refuse about the config
 * itself is refused here, so that `beat check` says it first.
 */
export function parseConfig(
  value: unknown,
  source: string,
  locate?: LineLocator,
  broker?: BrokerOverride,
  django?: BrokerOverride,
  env: NodeJS.ProcessEnv = {},
): ResolvedConfig {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(source, [{ path: '', message: 'the config must be an object (a mapping of settings)' }]);
  }
  const result = configSchema.safeParse(django === undefined ? value : withDjangoUrl(value as Record<string, unknown>, django.url));
  if (!result.success) {
    const problems = toProblems(result.error.issues, locate);
    // A URL given on the command line or in the environment is named as such, not as the file's.
    throw new ConfigError(
      source,
      django === undefined
        ? problems
        : problems.map((p) => (p.path === 'sources.django.url' ? { path: django.origin, message: p.message } : p)),
    );
  }
  const sentryEnv = { dsn: env[ENV.sentryDsn], environment: env[ENV.sentryEnvironment], release: env[ENV.sentryRelease] };
  const parsed = { ...resolveConfig(result.data), sentry: sentrySettingsFrom(result.data.sentry, sentryEnv) };
  const resolved = broker === undefined ? parsed : { ...parsed, broker: { ...parsed.broker, url: broker.url } };
  // Settings that are fine alone but not together, or that only the connections' parsers check.
  const queues = queueNameContextOf(resolved);
  const problems = [
    ...amqpQueueConfigProblems(resolved).map((message) => ({ path: ['taskQueueMaxPriority'], message })),
    ...connectionProblems(resolved, broker),
    ...alertSettingProblems(result.data.alerts, result.data.beatSchedule, {
      followed: followsOutcomes(resolved),
      heard: keepsRunHistory(resolved),
    }),
    ...overlapSettingProblems(result.data.beatSchedule, followsOutcomes(resolved), brokerKindIfKnown(resolved.broker.url)),
    ...pauseOnFailureProblems(result.data.beatSchedule, followsOutcomes(resolved)),
    ...retrySettingProblems(result.data, result.data.beatSchedule, {
      followed: followsOutcomes(resolved),
      heard: keepsRunHistory(resolved),
    }),
    ...concurrencyProblems(result.data.beatSchedule, followsOutcomes(resolved), brokerKindIfKnown(resolved.broker.url)),
    ...sentryConfigProblems(result.data.sentry, result.data.beatSchedule, sentryEnv, ENV.sentryDsn),
    ...(queues === undefined ? [] : configQueueProblems(result.data, queues)),
  ];
  if (problems.length > 0) {
    throw new ConfigError(
      source,
      problems.map(({ path, message }) => {
        if (broker !== undefined && path[0] === broker.origin) return { path: broker.origin, message };
        if (path[0] === ENV.sentryDsn) return { path: ENV.sentryDsn, message };
        const line = locate?.(path);
        return line === undefined ? { path: formatPath(path), message } : { path: formatPath(path), message, line };
      }),
    );
  }
  const calendars = (value as Record<string, unknown>)['calendars'];
  return {
    ...resolved,
    written: { source, beatSchedule: writtenEntries(value as Record<string, unknown>), ...(calendars === undefined ? {} : { calendars }) },
  };
}

/** The config value's entries as written (beatSchedule or beat_schedule; the schema accepted it as an object). */
function writtenEntries(value: Record<string, unknown>): Readonly<Record<string, unknown>> {
  const entries = value['beatSchedule'] ?? value['beat_schedule'];
  return entries !== null && typeof entries === 'object' ? (entries as Record<string, unknown>) : {};
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
  const config = parseConfig(raw.value, source, raw.locate, location.broker, location.django, location.env ?? process.env);
  return { path, source, config: withResultBackendFromEnv(config, location.env ?? process.env, source) };
}

/** $CELERY_RESULT_BACKEND (an empty one counts as unset) replaces resultBackend, checked as the file's would be. */
function withResultBackendFromEnv(config: ResolvedConfig, env: NodeJS.ProcessEnv, source: string): ResolvedConfig {
  const url = env[ENV.celeryResultBackend];
  if (url === undefined || url === '') return config;
  const resolved: ResolvedConfig = {
    ...config,
    resultBackend: { url, transportOptions: config.resultBackend?.transportOptions ?? {} },
  };
  const problems = connectionProblems(resolved).filter((p) => p.path[0] === 'resultBackend');
  if (problems.length > 0)
    throw new ConfigError(
      source,
      problems.map(({ message }) => ({ path: ENV.celeryResultBackend, message })),
    );
  return resolved;
}

/** The config with sources.django.url replaced (a django source with its defaults when the file has none). */
function withDjangoUrl(value: Record<string, unknown>, url: string): Record<string, unknown> {
  const sources = value['sources'];
  const given = sources !== null && typeof sources === 'object' && !Array.isArray(sources) ? (sources as Record<string, unknown>) : {};
  const django = given['django'];
  const current = django !== null && typeof django === 'object' && !Array.isArray(django) ? (django as Record<string, unknown>) : {};
  return { ...value, sources: { ...given, django: { ...current, url } } };
}
