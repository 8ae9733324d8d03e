/**
 * An imported config as the YAML file `beat check` reads, checked by the same parser first: an
 * importer that produced something tsbeat refuses would be a bug, reported as one.
 */
import { parseConfig } from '../config/load.js';
import { ConfigError, problemsInline } from '../base/errors.js';
import { yamlText } from '../config/yaml.js';

/**
 * The YAML text, `header` lines first as comments. Validated with `beat check`'s own parser (the
 * caller has already left out what tsbeat cannot express, so this throws only on a bug).
 */
export function renderImportedConfig(config: Record<string, unknown>, header: readonly string[], source: string): string {
  parseConfig(config, source);
  const body = yamlText(config);
  return `${header.map((line) => `# ${line}`.trimEnd()).join('\n')}\n${body}`;
}

/** The problems `beat check` would report for this value, as text; undefined when it accepts it. */
export function configProblem(config: Record<string, unknown>, source: string): string | undefined {
  try {
    parseConfig(config, source);
    return undefined;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return problemsInline(error.problems);
  }
}
