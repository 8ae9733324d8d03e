/** The --config option every command shares, and loading the config it names. */
import { DEFAULT_CONFIG_NAMES, loadConfig } from '../config/load.js';
import type { LoadedConfig } from '../config/load.js';
import { DEFAULTS, ENV } from '../defaults.js';
import type { Io } from './io.js';

export const configOption = { config: { type: 'string', short: 'c' } } as const;

export const CONFIG_HELP = `  -c, --config PATH   the config file (YAML, JSON, JS or TS). Default: $${ENV.config}, else the
                      first of ${DEFAULT_CONFIG_NAMES} (in that order) in the
                      working directory, then in ${DEFAULTS.configSearchDirs.filter((d) => d !== '.').join(', ')}/`;

export function loadFromArgs(io: Io, explicit: string | undefined): Promise<LoadedConfig> {
  return loadConfig({ explicit, env: io.env, cwd: io.cwd });
}
