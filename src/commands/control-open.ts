/**
 * A connection to a deployment's Redis for the commands that read or change it from outside (`beat
 * status`, `trigger`, `pause`, `resume`, `entries`): the config file says where Redis is, the
 * deployment's name and prefix, and which entry names belong to the file. Every store of the
 * deployment is made over one connection, opened and checked as deployment-redis.ts opens it.
 */
import type { RedisClient } from '../redis/connect.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { configFingerprint } from '../control/fingerprint.js';
import { noteProblem } from '../base/note-text.js';
import { checkDeployment } from '../service/deployment-watch.js';
import type { DeploymentCheck } from '../service/deployment-watch.js';
import { BeatError, ErrorCode, errorMessage } from '../base/errors.js';
import { ControlStore } from '../redis/control-store.js';
import { AuditLog, localActor } from '../redis/audit-log.js';
import type { AuditContext } from '../redis/audit-log.js';
import { RedisStateStore } from '../redis/state-store.js';
import { entryStoreOf, openDeploymentRedis } from './deployment-redis.js';
import type { RedisEntryStore } from '../redis/entry-store.js';
import { RedisRunHistory } from '../redis/run-history-store.js';
import { RedisEntryFailures } from '../redis/failing-entries-store.js';
import { RedisUnconsumedQueues } from '../redis/unconsumed-queues.js';
import { RedisAlertOutbox } from '../redis/alert-outbox.js';
import { ReplicaRegistry } from '../redis/replica-registry.js';
import { placeOf, redisRefusal } from '../redis/server-errors.js';
import { brokerOverride, loadFromArgs } from './config-args.js';
import type { OptionHelps } from './command-spec.js';
import type { BrokerOverride } from '../config/connection-checks.js';
import type { Io } from './io.js';

export const noteOption = {
  note: { type: 'string', value: 'TEXT', help: 'why the change is made: kept with it in the audit trail (beat audit)' },
} as const satisfies OptionHelps;

/** --config and --broker (kept in config-args.ts, which `beat next` loads before any Redis client). */
export { redisOptions } from './config-args.js';

export interface Control {
  readonly config: ResolvedConfig;
  /** The connection to the deployment's state Redis. */
  readonly redis: RedisClient;
  /** Its URL (the broker's, or state.url with an AMQP broker). */
  readonly stateUrl: string;
  /** The config file as the user would write its path. */
  readonly source: string;
  readonly control: ControlStore;
  readonly states: RedisStateStore;
  /** The entries' run histories (written by a leader with a resultBackend or taskEvents). */
  readonly runs: RedisRunHistory;
  /** The entries whose runs the leader finds refused because of the entry alone. */
  readonly failures: RedisEntryFailures;
  /** The schedule's queues the leader finds nobody consumes. */
  readonly unconsumed: RedisUnconsumedQueues;
  /** The alerts not yet taken by their receivers. */
  readonly alertOutbox: RedisAlertOutbox;
  /** The replicas registry: every beat run, leader or standby, with its heartbeat. */
  readonly replicas: ReplicaRegistry;
  /** The runtime entries, refusing the config file's entry names. */
  readonly store: RedisEntryStore;
  /** A failure of `beat <verb>` as the operator should read it: Redis's refusal with its fix, or Redis unavailable. */
  failure(verb: string, error: unknown): BeatError;
  /** Compares this config with the leader's and looks at the lock key (when it is on this Redis). */
  check(): Promise<DeploymentCheck>;
  /** The audit trail of the deployment's entries (beat audit). */
  readonly auditLog: AuditLog;
  /** Who the audit trail records for a change made from here (`user@host`), with the change's note. */
  audit(note: string | undefined): AuditContext;
  close(): Promise<void>;
}

export async function openControl(
  io: Io,
  configPath: string | undefined,
  brokerFlag: string | undefined,
  /** Checks the command's input against the config before Redis is asked, so that bad input is named even when Redis is down. */
  precheck?: (config: ResolvedConfig) => void,
  /** A django URL over sources.django.url (`beat status --django-url`). */
  django?: BrokerOverride,
): Promise<Control> {
  const { config, source } = await loadFromArgs(io, configPath, brokerOverride(io, brokerFlag), django);
  precheck?.(config);
  return controlFor(config, source);
}

/**
 * The control of `config`'s deployment (loaded from `source`), its Redis connected; throws when that
 * Redis cannot be reached or refuses the deployment.
 */
export async function controlFor(config: ResolvedConfig, source: string): Promise<Control> {
  const redis = await openDeploymentRedis(config);
  const { client, keys, url } = redis;
  const control = new ControlStore(client, keys, { maxEvents: config.auditMaxEvents });
  const own = configFingerprint(config);
  return {
    config,
    source,
    redis: client,
    stateUrl: url,
    control,
    states: new RedisStateStore(client, keys),
    runs: new RedisRunHistory(client, keys),
    failures: new RedisEntryFailures(client, keys),
    unconsumed: new RedisUnconsumedQueues(client, keys),
    alertOutbox: new RedisAlertOutbox(client, keys),
    replicas: new ReplicaRegistry(client, keys),
    store: entryStoreOf(config, { client, keys }),
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
    auditLog: new AuditLog(client, keys, config.auditMaxEvents),
    audit: (note) => {
      const problem = note === undefined ? undefined : noteProblem(note);
      if (problem !== undefined) throw new BeatError(ErrorCode.Usage, `--note: ${problem}`);
      return { who: localActor(), note, maxEvents: config.auditMaxEvents };
    },
    close: () => redis.close(),
  };
}

/** Runs `body` on an open control, turning Redis failures into errors that name the command, and closes it. */
export async function withControl<T>(
  io: Io,
  verb: string,
  values: { config?: string | undefined; broker?: string | undefined },
  body: (control: Control) => Promise<T>,
  precheck?: (config: ResolvedConfig) => void,
): Promise<T> {
  const control = await openControl(io, values.config, values.broker, precheck);
  try {
    return await body(control);
  } catch (error) {
    throw control.failure(verb, error);
  } finally {
    await control.close();
  }
}
