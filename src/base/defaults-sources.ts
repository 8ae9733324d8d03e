/**
 * The defaults of the runtime entries' sources (the catalog's looks, django-celery-beat's tables,
 * RedBeat's keys) and of a leader's read of them before it publishes, with the reason for each
 * value.
 * Part of DEFAULTS (defaults.ts), which is where the rest of the code reads them.
 */
export const SOURCE_DEFAULTS = {
  /** django-celery-beat's tables are named after its app label: django_celery_beat_periodictask, … */
  djangoTablePrefix: 'django_celery_beat_',
  /**
   * django-tenants' tenant table for `schemas: discover`: its model is the project's TENANT_MODEL,
   * whose table Django names <app>_<model>; the docs' example is "customers.Client", in the public schema.
   */
  djangoTenantsTable: 'public.customers_client',
  /**
   * A django source reads every row again this often, for writes that bypass Django's signals
   * (queryset.update()): DatabaseScheduler's own full re-read interval (SCHEDULE_SYNC_MAX_INTERVAL).
   */
  djangoFullReadMs: 300_000,
  /** RedBeat's `redbeat_key_prefix` default (redbeat/schedulers.py RedBeatConfig). */
  redbeatKeyPrefix: 'redbeat:',
  /**
   * A leader whose pause watch (base/pause-watch.ts) went this long without a beat was held up
   * (SIGSTOP, a frozen VM, a long collection) and reads its runtime entries again before it next
   * publishes. A pause may end just before a timer fires, or just after, so that the timer alone
   * sees little of it, and a leader frozen for a second would publish what was deleted or edited
   * during it. Well above the lateness of a timer on a busy machine (tens of ms), so that a
   * leader that was not held up does not read twice; a shorter pause delays a change by less than
   * that beyond its next look (maxInterval).
   */
  pauseNoticedMs: 250,
  /**
   * How often the leader's pause watch beats (only while it leads, from readFirstMaxMs before its
   * next publish on): well under pauseNoticedMs, so that every pause longer than that is seen
   * wherever it falls; as often as the event-loop lag metrics sample.
   */
  pauseSampleMs: 100,
  /**
   * How long a leader waits for its runtime entries to be read before it publishes (on taking the
   * lead, after a pause or a failed publish), or checked (before each publish of RedBeat or django
   * entries, and read again when they changed: ReadFirst.check); past it, it publishes from what it last read
   * (`beat.entries.read_late`), and the read's changes apply when it ends. A look normally takes
   * milliseconds, and a full read of 100,000 django rows ~1.5 s on the bench machine: 5 s leaves
   * room for a loaded one, and bounds what a source that hangs (a database that accepts
   * connections and never answers) costs every other entry, the config file's included.
   */
  readFirstMaxMs: 5000,
} as const;
