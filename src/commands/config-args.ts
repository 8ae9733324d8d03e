/** The --config option every command shares (and --broker, the commands that read Redis'), and loading the config it names. */
import { DEFAULT_CONFIG_NAMES, loadConfig } from '../config/load.js';
import type { LoadedConfig } from '../config/load.js';
import { setEntryLimits } from '../config/entry-definition.js';
import type { BrokerOverride } from '../config/connection-checks.js';
import { DEFAULTS } from '../base/defaults.js';
import { ENV } from '../base/env.js';
import { ConfigError } from '../base/errors.js';
import { sendProblems } from '../publish/send-checks.js';
import type { Io } from './io.js';
import type { OptionHelps } from './command-spec.js';

export const configOption = {
  config: {
    type: 'string',
    short: 'c',
    value: 'PATH',
    help: `the config file (YAML, JSON, JS or TS). Default: $${ENV.config}, else the
      first of ${DEFAULT_CONFIG_NAMES} (in that order) in the
      working directory, then in ${DEFAULTS.configSearchDirs.filter((d) => d !== '.').join(', ')}/`,
  },
} as const satisfies OptionHelps;

/** --config and --broker: where the deployment and its Redis are. */
export const redisOptions = {
  ...configOption,
  broker: {
    type: 'string',
    short: 'b',
    value: 'URL',
    help: `the Redis of the deployment (default: $${ENV.brokerUrl}, then $${ENV.celeryBrokerUrl}, then broker.url)`,
  },
} as const satisfies OptionHelps;

/** --broker, else $BEAT_BROKER_URL, else $CELERY_BROKER_URL (an empty one counts as unset): replaces broker.url. */
export function brokerOverride(io: Io, flag: string | undefined): BrokerOverride | undefined {
  if (flag !== undefined && flag !== '') return { url: flag, origin: '--broker' };
  for (const name of [ENV.brokerUrl, ENV.celeryBrokerUrl]) {
    const url = io.env[name];
    if (url !== undefined && url !== '') return { url, origin: name };
  }
  return undefined;
}

/** --django-url, else $BEAT_DJANGO_URL (an empty one counts as unset): replaces sources.django.url. */
export function djangoOverride(io: Io, flag: string | undefined): BrokerOverride | undefined {
  if (flag !== undefined && flag !== '') return { url: flag, origin: '--django-url' };
  const url = io.env[ENV.djangoUrl];
  return url !== undefined && url !== '' ? { url, origin: ENV.djangoUrl } : undefined;
}

/** Loads the config; its `entryLimits` then apply to every runtime entry this process checks. */
export async function loadFromArgs(
  io: Io,
  explicit: string | undefined,
  broker?: BrokerOverride,
  django?: BrokerOverride,
): Promise<LoadedConfig> {
  const loaded = await loadConfig({ explicit, env: io.env, cwd: io.cwd, broker, django });
  if (loaded.config.entryLimits !== undefined) setEntryLimits(loaded.config.entryLimits);
  const problems = await sendProblems(loaded.config);
  if (problems.length > 0) throw new ConfigError(loaded.source, problems);
  return loaded;
}
