/**
 * Read before you publish, within a bound: a leader brings its runtime entries (the store, RedBeat's
 * keys, django's rows) up to date before it publishes after a gap, so that nothing deleted or
 * edited meanwhile goes out as it was; but a source that does not answer (a database that accepts
 * connections and never replies) must not hold up every entry, the config file's included. So the
 * leader waits for the look at most `maxMs`, then says which source it is still reading and
 * publishes from what it last read; the look goes on, and its changes reach the runner when it
 * ends. While that look is outstanding, later waits of the session do not wait again.
 *
 * Before each publish of entries of RedBeat or django it checks, under the same bound, whether they
 * changed since the last look (`check`: django's change marker, RedBeat's definitions of the
 * entries due), and looks again before publishing when they did: an edit or delete that returned
 * before a slot is in force for that slot, not only at the next look (maxInterval).
 */
import { EVENTS } from '../base/log-events.js';
import { within } from '../base/within.js';
import type { Logger } from '../base/log.js';
import type { EntryOrigin } from '../config/resolve.js';
import type { EntryCatalog } from './entry-catalog.js';

export interface ReadFirstOptions {
  readonly catalog: Pick<EntryCatalog, 'refresh' | 'reading' | 'outdated'>;
  readonly logger: Logger;
  /** The longest wait (DEFAULTS.readFirstMaxMs). */
  readonly maxMs: number;
}

export class ReadFirst {
  /** The look that took longer than the bound, until it ends. */
  private overran: Promise<void> | undefined;

  constructor(private readonly options: ReadFirstOptions) {}

  /** Resolves once the runtime entries are read (their changes applied), or after maxMs; never rejects. */
  async read(): Promise<void> {
    if (this.overran !== undefined) return;
    await this.bounded(this.options.catalog.refresh());
  }

  /**
   * Resolves once the entries `due` (names by origin) are known to be as their sources hold them:
   * checked (EntryCatalog.outdated) and, when they changed, read again (their changes applied); or
   * after maxMs, as read(); never rejects.
   */
  async check(due: ReadonlyMap<EntryOrigin, readonly string[]>): Promise<void> {
    if (this.overran !== undefined) return;
    const { catalog } = this.options;
    await this.bounded(catalog.outdated(due).then((outdated) => (outdated ? catalog.refresh() : undefined)));
  }

  private async bounded(look: Promise<void>): Promise<void> {
    const { catalog, logger, maxMs } = this.options;
    const inTime = await within(
      look.then(() => true),
      maxMs,
      () => false,
    );
    if (inTime) return;
    this.overran = look.finally(() => {
      this.overran = undefined;
    });
    const origin = catalog.reading()?.origin;
    logger.warn(
      { event: EVENTS.entriesReadLate, waitedMs: maxMs, ...(origin === undefined ? {} : { origin }) },
      `the runtime entries could not be read within ${String(maxMs)} ms${origin === undefined ? '' : ` (the ${origin} source does not answer)`}: publishing from the last look; what it finds applies when it ends`,
    );
  }
}
