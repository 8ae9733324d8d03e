/**
 * `-l/--selector`: the entries a command acts on or shows, chosen by their labels with a Kubernetes
 * label selector (src/core/label-selector.ts, the one parser). A selector that does not parse is a
 * usage error naming the character; a bulk action that selects nothing says so and fails (exit 1).
 */
import { BeatError, ErrorCode, shown } from '../base/errors.js';
import { parseSelector, selectorProblemText, selects } from '../core/label-selector.js';
import type { LabelSelector } from '../core/label-selector.js';
import type { ResolvedEntry } from '../config/resolve.js';
import type { BrokerOverride } from '../config/connection-checks.js';
import type { OptionHelps } from './command-spec.js';
import type { Control } from './control-open.js';

export const selectorOption = {
  selector: {
    type: 'string',
    short: 'l',
    value: 'SELECTOR',
    help: `the entries whose labels match, as Kubernetes selects: team=billing,tier!=batch,
      'env in (prod,staging)', 'tier notin (batch)', team (has it), '!legacy' (has it not)`,
  },
} as const satisfies OptionHelps;

/** The -l/--selector of `command`, parsed; undefined without one. A blank selector is refused: it would select everything. */
export function selectorArg(command: string, text: string | undefined): LabelSelector | undefined {
  if (text === undefined) return undefined;
  if (text.trim() === '')
    throw new BeatError(
      ErrorCode.Usage,
      `beat ${command}: -l/--selector is empty; give one such as team=billing (it would select every entry)`,
    );
  const parsed = parseSelector(text);
  if (!parsed.ok)
    throw new BeatError(ErrorCode.Usage, `beat ${command}: -l/--selector ${shown(text)}: ${selectorProblemText(parsed.problem)}`);
  return parsed.selector;
}

/** Refuses ENTRY and -l together, and neither (unless `optional`): a command acts on one or on a selection. */
export function oneOrSelected(command: string, name: string | undefined, selector: LabelSelector | undefined): void {
  if (name !== undefined && selector !== undefined)
    throw new BeatError(ErrorCode.Usage, `beat ${command}: give ENTRY or -l/--selector, not both`);
}

/** The entries of `entries` the selector selects (every entry without one). */
export function selected<T extends Pick<ResolvedEntry, 'labels'>>(entries: readonly T[], selector: LabelSelector | undefined): T[] {
  return selector === undefined ? [...entries] : entries.filter((e) => selects(selector, e.labels));
}

/**
 * Every entry in force the selector selects: the config file's, then the runtime sources' (the
 * store's, RedBeat's, django's rows) as `beat status` reads them. A source that cannot be read
 * fails the selection, naming it: a bulk action must not act on part of what its selector means.
 */
export async function selectEntries(control: Control, selector: LabelSelector, django?: BrokerOverride): Promise<ResolvedEntry[]> {
  // Imported here: `beat next` takes -l too, and must not load the sources' clients before it needs them (cli-imports.test).
  const { readControlView, throwFailures } = await import('./runtime-view.js');
  const view = await readControlView(control, django);
  throwFailures(view);
  return selected([...control.config.entries, ...view.entries], selector);
}

/** The error of a bulk action whose selector selects nothing (exit 1: nothing was done). */
export function nothingSelected(command: string, selector: LabelSelector): BeatError {
  return new BeatError(ErrorCode.NothingSelected, `beat ${command}: no entry matches -l ${shown(selector.text)}: nothing was done`);
}
