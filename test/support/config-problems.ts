/** The problems a config is refused with, as `path: message` lines. */
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/base/errors.js';

export function problemsOf(value: unknown): string[] {
  try {
    parseConfig(value, 'test.yaml');
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.path}: ${p.message}`);
    throw error;
  }
  throw new Error('expected the config to be rejected');
}
