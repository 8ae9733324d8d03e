/**
 * `beat status`, `beat trigger ENTRY`, `beat pause ENTRY`, `beat resume ENTRY`: live control of a
 * running deployment through its Redis, from any machine that can reach it. They read the same
 * config file as `beat run` (for the entry names, the deployment name and the Redis URL).
 */
import { randomTaskId } from '../celery/task-id.js';
import { maskUrl } from '../config/redis-url.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { buildStatus, entryStateText } from '../control/status.js';
import type { DeploymentStatus, EntryStatus } from '../control/status.js';
import { configFingerprint } from '../control/fingerprint.js';
import { checkDeployment, warningsOf } from '../service/deployment-watch.js';
import type { DeploymentCheck } from '../service/deployment-watch.js';
import { ENV } from '../base/defaults.js';
import { BeatError, ErrorCode, errorMessage } from '../base/errors.js';
import { silentLogger } from '../base/log.js';
import { createRedisClient, connectWithRetry } from '../redis/connect.js';
import { ControlStore } from '../redis/control-store.js';
import { schedulerKeys } from '../redis/keys.js';
import { stateUrlFor } from '../publish/publishing.js';
import { RedisStateStore } from '../redis/state-store.js';
import { placeOf, redisRefusal } from '../redis/server-errors.js';
import { parseCommandArgs, parseCount, unknownEntryError } from './args.js';
import { CONFIG_HELP, brokerOverride, configOption, loadFromArgs } from './config-args.js';
import { ExitCode } from './io.js';
import type { Io } from './io.js';
import { renderTable } from './table.js';

const CONNECT_TIMEOUT_MS = 5000;

const REDIS_HELP = `  -b, --broker URL    the Redis of the deployment (default: $${ENV.brokerUrl}, then $${ENV.celeryBrokerUrl}, then broker.url)`;

export const STATUS_HELP = `Usage: beat status [--config PATH] [--broker URL] [--json]

Shows the deployment's current leader and every entry with its schedule, last run, next run and
whether it is paused, read from Redis. LAST RUN is the last slot published, or, when the last run
was a manual one (beat trigger), when that was published, marked "(trigger)". A WARNING line says
when this config differs from the leader's, or when a lock key tsbeat did not write keeps every
replica from leading. STATE is active, paused, disabled, "finished: ran 3 of 3 times" (an entry
that made its maxRuns runs; raising maxRuns brings it back) or "ended" (past its endAt).

Options:
${CONFIG_HELP}
${REDIS_HELP}
      --json          print the same JSON as the /status endpoint
  -h, --help          show this help
`;

export const TRIGGER_HELP = `Usage: beat trigger ENTRY [--config PATH] [--broker URL] [--timeout SECONDS]

Publishes one run of ENTRY now, through the leader's fenced path, with a task id of its own. The
entry's schedule is not moved. Waits until the leader confirms (it checks at least every second);
if no leader publishes it in time the request is withdrawn and the command fails. Refused (exit 2)
when the leader's config has no such entry (another deployment under the same name).

Options:
${CONFIG_HELP}
${REDIS_HELP}
  -t, --timeout S     seconds to wait for the leader, 1 to 300 (default 10)
  -h, --help          show this help
`;

const pauseHelp = (verb: 'pause' | 'resume'): string => `Usage: beat ${verb} ENTRY [--config PATH] [--broker URL]

${
  verb === 'pause'
    ? 'Pauses ENTRY: the leader stops publishing it within a second. It keeps its history; slots\nthat pass while it is paused are skipped, not caught up. Kept in Redis until `beat resume`.'
    : 'Resumes a paused ENTRY: the leader schedules it again from its next slot within a second.'
}
Refused (exit 2) when the leader's config has no such entry (another deployment, same name).

Options:
${CONFIG_HELP}
${REDIS_HELP}
  -h, --help          show this help
`;
export const PAUSE_HELP = pauseHelp('pause');
export const RESUME_HELP = pauseHelp('resume');

const redisOptions = { ...configOption, broker: { type: 'string', short: 'b' }, help: { type: 'boolean', short: 'h' } } as const;

interface Control {
  readonly config: ResolvedConfig;
  readonly control: ControlStore;
  readonly states: RedisStateStore;
  /** A failure of `beat <verb>` as the operator should read it: Redis's refusal with its fix, or Redis unavailable. */
  failure(verb: string, error: unknown): BeatError;
  /** Compares this config with the leader's and looks at the lock key (when it is on this Redis). */
  check(): Promise<DeploymentCheck>;
  close(): Promise<void>;
}

async function openControl(io: Io, configPath: string | undefined, brokerFlag: string | undefined): Promise<Control> {
  const { config } = await loadFromArgs(io, configPath, brokerOverride(io, brokerFlag));
  // State lives on the broker's Redis, or for an AMQP broker on state.url (default: the local Redis).
  const url = stateUrlFor(config);
  const client = createRedisClient(url, config.broker.transportOptions, 'control', silentLogger);
  try {
    await connectWithRetry(client, AbortSignal.timeout(CONNECT_TIMEOUT_MS));
  } catch (error) {
    client.disconnect();
    // Refused (a DB the server lacks, a wrong password): say so, with the fix, rather than "cannot reach".
    if (error instanceof BeatError) throw error;
    throw new BeatError(
      ErrorCode.RedisUnavailable,
      `cannot reach Redis at ${maskUrl(url)} within ${CONNECT_TIMEOUT_MS / 1000} s; check --broker or broker.url`,
    );
  }
  const keys = schedulerKeys(config.state.prefix, config.name);
  const control = new ControlStore(client, keys);
  const own = configFingerprint(config);
  return {
    config,
    control,
    states: new RedisStateStore(client, keys),
    failure: (verb, error) =>
      error instanceof BeatError
        ? error
        : (redisRefusal(error, placeOf(client)) ??
          new BeatError(ErrorCode.RedisUnavailable, `beat ${verb}: ${errorMessage(error)}`, { cause: error })),
    check: () =>
      checkDeployment({
        control,
        lockClients: config.lock.urls.length === 0 ? [client] : [],
        lockKey: keys.lock,
        deployment: config.name,
        own,
      }),
    close: async () => {
      await client.quit().catch(() => client.disconnect());
    },
  };
}

function requireEntry(command: string, config: ResolvedConfig, name: string | undefined): string {
  if (name === undefined)
    throw new BeatError(ErrorCode.Usage, `beat ${command}: which entry? Usage: beat ${command} ENTRY. See 'beat ${command} --help'.`);
  if (config.entries.some((e) => e.name === name)) return name;
  throw unknownEntryError(
    command,
    name,
    config.entries.map((e) => e.name),
  );
}

export async function readStatus(control: Control, nowMs: number): Promise<DeploymentStatus> {
  const [states, paused, check] = await Promise.all([control.states.readAll(), control.control.paused(), control.check()]);
  return buildStatus({
    config: control.config,
    states,
    paused,
    leader: check.leader,
    self: { instance: 'cli', role: 'cli' },
    nowMs,
    warnings: warningsOf(check),
  });
}

/**
 * Before a trigger, pause or resume: a leader whose config lacks the entry would drop the request
 * (the CLI waited in vain, or said "paused" for nothing), so refuse, naming the cause and the fix.
 * A leader that has the entry, defined differently, publishes its own definition: say so, go on.
 */
async function requireLeaderHas(command: string, control: Control, entry: string, io: Io): Promise<void> {
  const { mismatch } = await control.check();
  if (mismatch === undefined) return;
  if (mismatch.onlyHere.includes(entry)) {
    throw new BeatError(
      ErrorCode.UnknownEntry,
      `beat ${command}: the leader has no entry "${entry}", so it would never act on this; ${mismatch.message}`,
    );
  }
  io.err(`beat ${command}: WARNING: ${mismatch.message}`);
}

/** The last run, scheduled (its slot) or manual (when it was published, marked as such). */
function lastRunText(e: EntryStatus): string {
  if (e.lastRunBy === 'trigger' && e.lastPublishedAt !== null) return `${e.lastPublishedAt} (trigger)`;
  return e.lastSlot ?? '-';
}

export async function statusCommand(argv: string[], io: Io): Promise<ExitCode> {
  const { values } = parseCommandArgs('status', argv, { ...redisOptions, json: { type: 'boolean' } });
  if (values.help) {
    io.out(STATUS_HELP);
    return ExitCode.Ok;
  }
  const control = await openControl(io, values.config, values.broker);
  try {
    const status = await readStatus(control, io.now());
    if (values.json) {
      io.out(JSON.stringify(status));
      return ExitCode.Ok;
    }
    io.out(
      `deployment ${status.deployment}: ${status.leader ? `leader ${status.leader.instance} since ${status.leader.since}` : 'NO LEADER (no beat run instance holds the lock)'}`,
    );
    for (const warning of status.warnings) io.out(`WARNING: ${warning}`);
    io.out(
      renderTable(
        ['NAME', 'TASK', 'SCHEDULE', 'LAST RUN', 'NEXT RUN', 'RUNS', 'STATE'],
        status.entries.map((e) => [e.name, e.task, e.schedule, lastRunText(e), e.nextRun ?? '-', String(e.runCount), entryStateText(e)]),
      ),
    );
    return ExitCode.Ok;
  } catch (error) {
    throw control.failure('status', error);
  } finally {
    await control.close();
  }
}

export async function triggerCommand(argv: string[], io: Io): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs('trigger', argv, { ...redisOptions, timeout: { type: 'string', short: 't' } }, 1);
  if (values.help) {
    io.out(TRIGGER_HELP);
    return ExitCode.Ok;
  }
  const timeoutMs = (values.timeout === undefined ? 10 : parseCount('trigger', '--timeout', values.timeout, 1, 300)) * 1000;
  const control = await openControl(io, values.config, values.broker);
  try {
    const entry = requireEntry('trigger', control.config, positionals[0]);
    await requireLeaderHas('trigger', control, entry, io);
    const id = randomTaskId();
    const text = await control.control.requestTrigger({ entry, id, at: io.now() });
    // On the monotonic clock: a wall clock stepped back would stretch the wait by the step.
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      if (await control.control.wasTriggered(id)) {
        io.out(`triggered ${entry}: task id ${id}`);
        return ExitCode.Ok;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (!(await control.control.cancelTrigger(text)) && (await control.control.wasTriggered(id))) {
      io.out(`triggered ${entry}: task id ${id}`);
      return ExitCode.Ok;
    }
    const leader = await control.control.leader();
    io.err(
      `beat trigger: no leader published "${entry}" within ${timeoutMs / 1000} s (${leader ? `leader ${leader.instance} did not answer` : 'no beat run instance is leading'}); the request was withdrawn`,
    );
    return ExitCode.Failure;
  } catch (error) {
    throw control.failure('trigger', error);
  } finally {
    await control.close();
  }
}

async function pauseOrResume(verb: 'pause' | 'resume', argv: string[], io: Io): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs(verb, argv, redisOptions, 1);
  if (values.help) {
    io.out(pauseHelp(verb));
    return ExitCode.Ok;
  }
  const control = await openControl(io, values.config, values.broker);
  try {
    const entry = requireEntry(verb, control.config, positionals[0]);
    await requireLeaderHas(verb, control, entry, io);
    const changed = await control.control.setPaused(entry, verb === 'pause', io.now());
    io.out(
      changed ? `${verb === 'pause' ? 'paused' : 'resumed'} ${entry}` : `${entry} was already ${verb === 'pause' ? 'paused' : 'active'}`,
    );
    return ExitCode.Ok;
  } catch (error) {
    throw control.failure(verb, error);
  } finally {
    await control.close();
  }
}

export const pauseCommand = (argv: string[], io: Io): Promise<ExitCode> => pauseOrResume('pause', argv, io);
export const resumeCommand = (argv: string[], io: Io): Promise<ExitCode> => pauseOrResume('resume', argv, io);
