/** `beat run`: the scheduler service. */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import { createLogger, LOG_LEVELS } from '../base/log.js';
import type { Logger, LogLevel } from '../base/log.js';
import { BeatError, ErrorCode, shown } from '../base/errors.js';
import { DEFAULTS } from '../base/defaults.js';
import { ENV } from '../base/env.js';
import { ConfigError, errorMessage } from '../base/errors.js';
import { loadConfig } from '../config/load.js';
import type { LoadedConfig } from '../config/load.js';
import { setEntryLimits } from '../config/entry-definition.js';
import { grantsText } from '../core/grants.js';
import { parseTokenFile, tokensOf } from '../http/auth.js';
import type { ApiToken, HttpAccess } from '../http/auth.js';
import { parseHttpAddress } from '../http/server.js';
import type { HttpAddress } from '../http/server.js';
import { EVENTS } from '../base/log-events.js';
import { newInstanceId } from '../redis/leadership.js';
import { watchFile } from './watch.js';
import { startDryRun } from '../service/dry-run.js';
import type { RunningService } from '../service/running.js';
import { startService } from '../service/service.js';
import { leaf } from './command-spec.js';
import { takeStopSignals } from './stop-signals.js';
import type { StopSignals } from './stop-signals.js';
import { brokerOverride, configOption, djangoOverride, loadFromArgs } from './config-args.js';
import { ExitCode } from './io.js';
import type { Io } from './io.js';

export const runSpec = leaf({
  name: 'run',
  about: `Runs the scheduler: connects to Redis, becomes the active scheduler or a standby, and publishes
each due task in Celery's wire format. Run two or three replicas with the same config for
availability: one leads, the others take over within the lock TTL if it dies (at once when it
stops cleanly). Stops on SIGTERM/SIGINT after the publish in flight, handing over leadership;
one that comes while it starts stops the start (exit 0 either way).
SIGHUP re-reads the config: valid changes apply without a restart and without losing state; an
invalid file is logged with all its problems and the running schedule stays as it was.
`,
  options: {
    ...configOption,
    broker: {
      type: 'string',
      short: 'b',
      value: 'URL',
      help: `the broker (default: $${ENV.brokerUrl}, then $${ENV.celeryBrokerUrl}, then broker.url)`,
    },
    'django-url': {
      type: 'string',
      value: 'URL',
      help: `run the entries of django-celery-beat's tables in this database too
        (postgres://… or mysql://…; default: $${ENV.djangoUrl}, then sources.django.url)`,
    },
    'log-level': { type: 'string', short: 'l', value: 'LEVEL', help: `${LOG_LEVELS.join(', ')} (default info)` },
    http: {
      type: 'string',
      value: 'HOST:PORT',
      help: `serve /healthz, /readyz, /metrics, /status and the entries API /api/entries
        (default: $${ENV.http}; none if unset; the container image sets 0.0.0.0:9808)`,
    },
    'api-token-file': {
      type: 'string',
      value: 'PATH',
      help: `the bearer token of the entries API (default: $${ENV.apiTokenFile}, then
        $${ENV.apiToken}, which holds the token itself): the file holds
        one token, or one NAME:GRANTS:TOKEN line per token, GRANTS such as
        editor@team=billing;viewer (NAME:TOKEN: admin, NAME:read:TOKEN: viewer;
        docs/operations.md "Who may do what"); the name is what the logs and the audit
        record. SIGHUP reads it again (a bad line keeps the tokens in force). Without
        one, PUT and DELETE /api/entries are refused (403)`,
    },
    'http-public-reads': {
      type: 'boolean',
      help: `/status, /api/* and the dashboard's reads answer any client without a token
        (default: only loopback clients, others need a token; or $${ENV.httpPublicReads}=1)`,
    },
    'http-allowed-hosts': {
      type: 'string',
      value: 'H1,H2',
      help: `Host header names that name this server besides localhost, 127.0.0.1, ::1
        and the bound address (or $${ENV.httpAllowedHosts}); a request without a
        token for any other Host gets nothing that shows entries`,
    },
    'http-not-loopback': {
      type: 'string',
      value: 'A1,A2',
      help: `loopback client addresses not trusted as loopback, such as a reverse proxy on
        this host (or $${ENV.httpNotLoopback})`,
    },
    'http-metrics-token-required': {
      type: 'boolean',
      help: `/metrics answers only requests with an API token (401 without one; default:
        open to every client; or $${ENV.httpMetricsTokenRequired}=1); with or without it, a
        token's scrape holds only the per-entry series of the entries its grants may read`,
    },
    watch: { type: 'boolean', short: 'w', help: 'reload when the config file changes, as on SIGHUP' },
    'dry-run': {
      type: 'boolean',
      help: `no Redis: schedule in real time with in-memory state and print each message
        it would publish as one JSON line on stdout (logs go to stderr); a django
        source's rows run too, read-only (nothing is written back)`,
    },
  },
  after: `With OTEL_EXPORTER_OTLP_ENDPOINT set, the leader exports a span per published run over OTLP/HTTP,
the parent of the worker's span (OTEL_* variables as for any OpenTelemetry SDK; docs/outcomes.md, "Tracing").
`,
  run: (args, io) => runCommand(args.values, io),
});

/** The instance name of a dry run: it takes no lock, so it needs no unique one. */
const DRY_RUN_INSTANCE = 'dry-run';

/**
 * Names what still holds the event loop shortly after a clean stop. cli.ts exits regardless after
 * DEFAULTS.exitGraceMs; this line says what would have kept the process alive.
 */
function warnIfLingering(logger: Logger): void {
  setTimeout(() => {
    const handles = process.getActiveResourcesInfo().filter((h) => h !== 'TTYWrap');
    logger.warn({ event: EVENTS.stopLingering, handles }, `stopped, but still held open by: ${handles.join(', ')}; exiting anyway`);
    logger.flush();
  }, DEFAULTS.exitGraceMs / 2).unref();
}

/**
 * The API tokens: the file's (one token, or `NAME:GRANTS:TOKEN` lines), else $BEAT_API_TOKEN (one token,
 * named "api"), else none.
 */
function apiTokens(io: Io, file: string | undefined): { tokens?: ApiToken[] } {
  let text: string | undefined;
  let origin: string;
  if (file !== undefined) {
    origin = `--api-token-file ${shown(file)}`;
    try {
      text = readFileSync(resolvePath(io.cwd, file), 'utf8');
    } catch (error) {
      throw new BeatError(ErrorCode.Usage, `beat run: ${origin}: cannot read it: ${errorMessage(error)}`, { cause: error });
    }
  } else {
    origin = `$${ENV.apiToken}`;
    text = io.env[ENV.apiToken];
    if (text === undefined || text === '') return {};
    if (/[\r\n]/.test(text.replace(/[\r\n]+$/, ''))) {
      throw new BeatError(ErrorCode.Usage, `beat run: ${origin}: holds one token; several named tokens go in --api-token-file`);
    }
  }
  try {
    return { tokens: parseTokenFile(text) };
  } catch (error) {
    throw new BeatError(ErrorCode.Usage, `beat run: ${origin}: ${errorMessage(error)}`, { cause: error });
  }
}

/** A comma-separated list of the flag, else of the environment variable. */
function listOption(flag: string | undefined, env: string | undefined): string[] {
  return (flag ?? env ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h !== '');
}

type RunValues = {
  config?: string;
  broker?: string;
  'django-url'?: string;
  'log-level'?: string;
  http?: string;
  'api-token-file'?: string;
  'http-public-reads'?: boolean;
  'http-allowed-hosts'?: string;
  'http-not-loopback'?: string;
  'http-metrics-token-required'?: boolean;
  watch?: boolean;
  'dry-run'?: boolean;
};

async function runCommand(values: RunValues, io: Io): Promise<ExitCode> {
  // Held since the process started (src/cli.ts); in a test that runs the command in-process,
  // listened to from here, and let go of when it returns.
  const stop = takeStopSignals();
  try {
    return await runUntilStopped(values, io, stop);
  } finally {
    stop.release();
  }
}

/** Logs that a stop signal came before the service started: nothing to stop or hand over. */
function stoppedBeforeStart(logger: Logger, signal: NodeJS.Signals | undefined, stage: 'config' | 'start'): ExitCode {
  const during = stage === 'config' ? 'while the config loaded' : 'while starting';
  logger.info({ event: EVENTS.stopBeforeStart, reason: signal, stage }, `${signal ?? 'a stop signal'} ${during}: not started, exiting`);
  logger.flush();
  return ExitCode.Ok;
}

async function runUntilStopped(values: RunValues, io: Io, stop: StopSignals): Promise<ExitCode> {
  const level = logLevel(values);
  const { http, httpAccess } = httpSettings(values, io);
  const broker = brokerOverride(io, values.broker);
  const django = djangoOverride(io, values['django-url']);
  const { path, config } = await loadFromArgs(io, values.config, broker, django);
  const dryRun = values['dry-run'] === true;
  const instanceId = dryRun ? DRY_RUN_INSTANCE : newInstanceId(hostname(), process.pid);
  // In a dry run stdout carries the messages, so the logs go to stderr. Every line of this process,
  // the service's or this command's own (a failed reload), names the instance and the deployment.
  // A reader of the logs that went away (`beat run | head -1`) stops the scheduler as SIGTERM does
  // (the held signal's clean stop, exit 0): one that runs on unheard would never end in a pipe.
  const logger = createLogger({
    level,
    fd: dryRun ? 2 : 1,
    base: { instance: instanceId, deployment: config.name },
    onClosed: () => process.kill(process.pid, 'SIGTERM'),
  });

  // A signal while the config loaded (much of it synchronous: parsing, validating, a JS config's
  // own code): nothing was started, so nothing is stopped.
  const early = await stop.heard();
  if (early !== undefined) return stoppedBeforeStart(logger, early, 'config');
  const abort = new AbortController();
  void stop.first.then(() => abort.abort());
  const reloads = configReloads(() => loadConfig({ explicit: path, env: io.env, cwd: io.cwd, broker, django }), logger);
  // Listening for SIGHUP (and watching the file) before connecting, not after: Node's default action
  // on SIGHUP is to exit, so a SIGHUP sent while Redis was still unreachable killed the process
  // (exit 129), and an edit made during a long connect was never applied.
  const onHangup = (): void => {
    tokenReload();
    void reloads.reload('SIGHUP');
  };
  const tokenReload = (): void => reloadTokens(io, values, httpAccess, logger);
  process.on('SIGHUP', onHangup);
  const stopWatching = values.watch ? watchFile(path, () => void reloads.reload('file changed')) : () => undefined;
  try {
    const start = (): Promise<RunningService> =>
      dryRun
        ? startDryRun({ config, logger, instanceId }, (line) => io.out(line))
        : startService({ config, logger, http, httpAccess, instanceId }, abort.signal);
    return await serveUntilStopped(start, reloads, stop, abort.signal, logger);
  } finally {
    process.off('SIGHUP', onHangup);
    stopWatching();
  }
}

function logLevel(values: RunValues): LogLevel {
  const level = values['log-level'] ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new BeatError(ErrorCode.Usage, `beat run: --log-level must be one of ${LOG_LEVELS.join(', ')}, got ${shown(level)}`);
  }
  return level as LogLevel;
}

/** Where to serve HTTP (none: undefined) and who may read and write there, from the flags, else the environment. */
function httpSettings(values: RunValues, io: Io): { http: HttpAddress | undefined; httpAccess: ReloadableAccess } {
  const httpText = values.http ?? io.env[ENV.http];
  const http = httpText ? parseHttpAddress(httpText, values.http !== undefined ? '--http' : ENV.http) : undefined;
  const httpAccess: ReloadableAccess = {
    ...apiTokens(io, tokenFileOf(values, io)),
    publicReads: values['http-public-reads'] === true || /^(1|true|yes)$/i.test(io.env[ENV.httpPublicReads] ?? ''),
    allowedHosts: listOption(values['http-allowed-hosts'], io.env[ENV.httpAllowedHosts]),
    notLoopback: listOption(values['http-not-loopback'], io.env[ENV.httpNotLoopback]),
    metricsNeedToken: values['http-metrics-token-required'] === true || /^(1|true|yes)$/i.test(io.env[ENV.httpMetricsTokenRequired] ?? ''),
  };
  if (http !== undefined && httpAccess.metricsNeedToken === true && tokensOf(httpAccess).length === 0) {
    // Closed to everyone, Prometheus included: a scrape config to fix now, not a silent gap in the graphs.
    throw new BeatError(
      ErrorCode.Usage,
      `beat run: --http-metrics-token-required ($${ENV.httpMetricsTokenRequired}) needs an API token for Prometheus to send: give --api-token-file PATH (a viewer line such as prometheus:viewer:TOKEN) or $${ENV.apiToken}`,
    );
  }
  return { http, httpAccess };
}

/** The HTTP access, whose tokens a SIGHUP may replace (the server reads `tokens` on each request). */
type ReloadableAccess = { -readonly [K in keyof HttpAccess]: HttpAccess[K] };

function tokenFileOf(values: RunValues, io: Io): string | undefined {
  return values['api-token-file'] ?? (io.env[ENV.apiTokenFile] || undefined);
}

/**
 * SIGHUP: the tokens file read again. A file that cannot be read or has a bad line keeps the tokens
 * and grants in force (a typo must not lock every team out, nor widen anyone's grants), logged with
 * the reason, which names the line and never a token. $BEAT_API_TOKEN cannot change in a running process.
 */
function reloadTokens(io: Io, values: RunValues, access: ReloadableAccess, logger: Logger): void {
  const file = tokenFileOf(values, io);
  if (file === undefined || access.tokens === undefined) return;
  let next: ApiToken[];
  try {
    next = apiTokens(io, file).tokens ?? [];
  } catch (error) {
    logger.warn(
      { event: EVENTS.apiTokensKept, reason: errorMessage(error) },
      `the tokens file was not reloaded, the tokens and grants in force are kept: ${errorMessage(error)}`,
    );
    return;
  }
  access.tokens = next;
  logger.info(
    { event: EVENTS.apiTokensReloaded, tokens: Object.fromEntries(next.map((t) => [t.name, grantsText(t.grants)])) },
    `the tokens file was reloaded: ${next.length} token${next.length === 1 ? '' : 's'}`,
  );
}

/** Reloads of the config (SIGHUP, the file changed), applied to the service once it runs. */
interface ConfigReloads {
  reload(why: string): Promise<void>;
  /** The service is running: a reload asked for while it started is done now. */
  started(service: RunningService): void;
}

function configReloads(load: () => Promise<LoadedConfig>, logger: Logger): ConfigReloads {
  let running: RunningService | undefined;
  let reloadWhenStarted: string | undefined;
  const reload = async (why: string): Promise<void> => {
    if (running === undefined) {
      // Still starting (connecting to Redis can take as long as Redis is away): reload once started.
      reloadWhenStarted = why;
      return;
    }
    try {
      const next = await load();
      await running.reload(next.config);
      if (next.config.entryLimits !== undefined) setEntryLimits(next.config.entryLimits);
    } catch (error) {
      const problems = error instanceof ConfigError ? error.problems : undefined;
      logger.error(
        { event: EVENTS.reloadFailed, trigger: why, problems, err: problems ? undefined : error },
        `config not reloaded, the running schedule is unchanged: ${errorMessage(error)}`,
      );
    }
  };
  return {
    reload,
    started(service) {
      running = service;
      if (reloadWhenStarted !== undefined) void reload(reloadWhenStarted);
    },
  };
}

/** Starts the service and runs it until a stop signal, or until it stops by itself; then stops it cleanly. */
async function serveUntilStopped(
  start: () => Promise<RunningService>,
  reloads: ConfigReloads,
  stop: StopSignals,
  aborted: AbortSignal,
  logger: Logger,
): Promise<ExitCode> {
  let service: RunningService;
  try {
    service = await start();
  } catch (error) {
    // Stopped while connecting or starting: the service stopped what it had started, no lock taken.
    if (aborted.aborted) return stoppedBeforeStart(logger, stop.received(), 'start');
    logger.flush();
    throw error;
  }
  reloads.started(service);
  const reason = await Promise.race([stop.first, service.done.then(() => 'stopped')]);
  await service.stop(reason);
  warnIfLingering(logger);
  logger.flush();
  return ExitCode.Ok;
}
