/**
 * The service's door (operations/door.ts), on which /api's verb routes act: the entries this
 * replica holds in force (the config file's and the runtime catalog's), as the caller may read them.
 */
import { BeatError, ErrorCode, shown } from '../base/errors.js';
import { selectorOrThrow, selects } from '../core/label-selector.js';
import type { ResolvedEntry } from '../config/resolve.js';
import { retryPolicyOf } from '../config/retry-schema.js';
import type { RetrySettings } from '../config/retry-schema.js';
import type { Door } from '../operations/door.js';
import type { Operator } from '../operations/operator.js';
import type { ControlStore } from '../redis/control-store.js';
import { mayRead, scopeOf } from '../operations/operator.js';
import type { RedisRunHistory } from '../redis/run-history-store.js';

export interface ApiDoorInputs {
  readonly control: ControlStore;
  readonly runs: Pick<RedisRunHistory, 'list'>;
  /** The entry of that name that runs, if any. */
  readonly findEntry: (name: string) => ResolvedEntry | undefined;
  /** Every entry that runs now. */
  readonly entries: () => readonly ResolvedEntry[];
  /** The config in force: its retry settings, which an entry without its own follows. */
  readonly config: () => RetrySettings;
  readonly now: () => number;
}

export function apiDoor(inputs: ApiDoorInputs): Door {
  /** The entry of that name that runs, when the caller may read it; else 404 as for one that does not run (a scoped caller learns nothing of another team's). */
  const running = (name: string, by: Operator): ResolvedEntry => {
    const entry = inputs.findEntry(name);
    if (entry === undefined || !mayRead(by, scopeOf(entry)))
      throw new BeatError(ErrorCode.UnknownEntry, `no entry ${shown(name)} runs in this deployment`);
    return entry;
  };
  return {
    control: inputs.control,
    now: inputs.now,
    entry: async (name, by) => ({ entry: name, scoped: [scopeOf(running(name, by))] }),
    selector: (text) => selectorOrThrow(text, ErrorCode.ApiBadRequest),
    // In name order, whichever source holds each: the audit event lists them as the page lists them.
    selected: async (selector) =>
      inputs
        .entries()
        .filter((e) => selects(selector, e.labels))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .map(scopeOf),
    // A dead letter's entry as it runs now (owner, labels); one deleted since is decided as one with none.
    letterScope: async () => ({
      scopeOf: (name) => {
        const entry = inputs.findEntry(name);
        return entry === undefined ? undefined : scopeOf(entry);
      },
      runs: (name) => inputs.findEntry(name) !== undefined,
    }),
    // Another team's entry is answered as one that does not run (404), as GET /api/entries/NAME.
    history: async (name, by) => {
      const entry = running(name, by);
      return { runs: inputs.runs, zone: entry.timezone, maxAttempts: retryPolicyOf(entry, inputs.config())?.attempts };
    },
    // The request stays queued for the leader (there may be none now): answered 202.
    withdrawUntaken: false,
  };
}
