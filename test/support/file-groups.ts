/**
 * How many files run at a time, by what they assert (vitest.config.ts makes one project of each
 * group; the groups run one after the other, each file in its own process as before):
 *
 * - ALONE, one at a time: files that hold failover gaps or a confirm's timing to bounds of a second
 *   or two and are CPU-heavy themselves (Chromium, RabbitMQ nodes booting, a leader killed twenty
 *   times, Sentinel failovers), or failed a whole run when they shared the machine.
 * - IN_PAIRS, two at a time: files that hold lateness, gaps or counts in a time window to bounds
 *   of a second or more but mostly wait (lock TTLs, the next second), so that two of them leave the
 *   2-core machine idle most of the time; and unit files that time real timers or compare two
 *   timings of one run.
 * - every other file (CONTENT_WORKERS at a time): what they check is content (messages, replies,
 *   stored state, exit codes), and their waits are for events with generous limits.
 *
 * A file moved here from elsewhere, renamed or added with a new timing bound belongs in the
 * strictest group its assertions need (test/unit/file-groups.test.ts checks that the names exist).
 */

/** One at a time. */
export const ALONE: readonly string[] = [
  // A private redis-server behind a proxy, and a lock's TTL to lapse: out of the content group, whose
  // files beside it once took every private Redis port (redis-refusals.test.ts starts four).
  'test/integration/outage-stand-down.test.ts',
  'test/integration/amqp-worker.test.ts',
  // Three replicas, the leader killed eight times: as run-exactly-once, for group and chord runs.
  'test/integration/canvas-failover.test.ts',
  // A burst of 20,000 from two processes, the leader killed at a moment the burst decides: CPU-heavy.
  'test/integration/burst-failover.test.ts',
  // Its RabbitMQ case counts one beat.entry.failing per change of reason; with two other files
  // running it once saw the refusal's reason change (the channel's close raced the next batch).
  'test/integration/containment.test.ts',
  'test/integration/dashboard-results.test.ts',
  // Peak RSS of 100,000 against 10,000 entries: the collector's slack grows with the machine's load.
  'test/integration/entries-bulk.test.ts',
  // Chromium beside a beat run: CPU-heavy, as the dashboard's other browser files.
  'test/integration/dashboard-labels.test.ts',
  // Chromium beside a beat run, as dashboard-labels.
  'test/integration/dashboard-stop.test.ts',
  // Chromium beside a beat run, as dashboard-labels.
  'test/integration/dashboard-layout.test.ts',
  // Chromium beside a beat run and an OpenID provider, as dashboard-labels.
  'test/integration/dashboard-sso.test.ts',
  // Three replicas, PostgreSQL stopped and started, a Python ORM writer: its pair partner
  // (django-run) missed a write-back window beside it once, and it allowed too little lag.
  'test/integration/entry-chaos-django.test.ts',
  // Holds /healthz to 250 ms every time and the every-second probe's p99 lateness to 50 ms while
  // costly entries are checked on a worker thread: a second file's CPU would be the lateness.
  'test/integration/http-hostile.test.ts',
  // Issue 66's costly entries, plans, backfills and bulk bodies beside an every-second probe and
  // /healthz, each held to a bound: a second file's CPU would be the lateness.
  'test/integration/api-stalls.test.ts',
  'test/integration/run-exactly-once.test.ts',
  'test/integration/run-faults.test.ts',
  'test/integration/run-failover.test.ts',
  // Six cluster nodes, three beat processes, a master SIGKILLed and its replica promoted.
  'test/integration/redis-cluster.test.ts',
  'test/integration/sentinel-failover.test.ts',
];

/** Two at a time. */
export const IN_PAIRS: readonly string[] = [
  // The loop's longest pause while 2,000 queues are flagged, against one queue's, within 4x.
  'test/integration/unconsumed-many-queues.test.ts',
  // Six cluster nodes, a slot master paused 8 s (down, then up) and then failed over under writes.
  'test/integration/redis-cluster-outages.test.ts',
  // The tutorial's cut-over from celery beat, its runs held 5 to 15 s apart across it.
  'test/integration/tutorial.test.ts',
  // A bulk pause holds the leader's stop within a second and the others publishing on, by the queue.
  'test/integration/selectors.test.ts',
  // The deployment-wide stop across a failover: the resume lands 2.2 s after a slot, 1.2 s past the
  // 1 s grace that tells catchUp once's late run from skip's passed-over one.
  'test/integration/deployment-stop.test.ts',
  'test/integration/alerts.test.ts',
  // A Celery 5.5 worker: a run published after a countdown one done seconds before the countdown's ETA, that one not before it.
  'test/integration/amqp-delayed.test.ts',
  // Unconsumed queues on RabbitMQ and SQS flagged within consumers.unconsumedAfter plus a look.
  'test/integration/unconsumed-brokers.test.ts',
  'test/integration/backfill.test.ts',
  'test/integration/backfill-overlap.test.ts',
  // A leader killed between two backfill steps on RabbitMQ.
  'test/integration/backfill-brokers.test.ts',
  // Chromium and PostgreSQL beside a leader.
  'test/integration/dashboard-django.test.ts',
  'test/integration/control.test.ts',
  // Cut-overs from DatabaseScheduler and RedBeat's beat: first slots held to their scheduler's within 1 ms, starts to seconds.
  'test/integration/cutover-django.test.ts',
  'test/integration/cutover-redbeat.test.ts',
  'test/integration/django-run-mariadb.test.ts',
  'test/integration/django-run.test.ts',
  'test/integration/entries-api.test.ts',
  'test/integration/entry-chaos-redbeat.test.ts',
  'test/integration/entry-chaos.test.ts',
  // Three replicas, the leader killed and paused for 40 s, two Celery workers running every attempt.
  'test/integration/retry-chaos.test.ts',
  'test/integration/entry-fence.test.ts',
  'test/integration/entry-incarnations.test.ts',
  'test/integration/entry-limits.test.ts',
  // An every-second probe counted in 2-second windows while each key is damaged and put back.
  'test/integration/hostile-redis.test.ts',
  'test/integration/http.test.ts',
  'test/integration/leadership-diagnostics.test.ts',
  'test/integration/overlap.test.ts',
  'test/integration/pause-on-failure.test.ts',
  // The publish of a slot missed in an outage within 250 ms of the reconnect, three rounds.
  'test/integration/publish-reconnect.test.ts',
  'test/integration/redbeat.test.ts',
  'test/integration/redis-wrong-db.test.ts',
  'test/integration/reload.test.ts',
  'test/integration/replicas.test.ts',
  'test/integration/run-clock-steps.test.ts',
  'test/integration/run-connection-kill.test.ts',
  'test/integration/runtime-entries-failover.test.ts',
  'test/integration/runtime-entries.test.ts',
  // Changes ~250 ms before a slot that must be in force for it; a frozen database held to its bound.
  'test/integration/source-change-before-slot.test.ts',
  // Leaders frozen under and past the lock's TTL, a second apart from the changes they must not miss.
  'test/integration/source-read-first.test.ts',
  // beat run --dry-run with a faked wall clock: a 1-second entry's every slot, and SIGTERM within 5 s (issue 54).
  'test/cli/dst-slot-advance.test.ts',
  'test/unit/dashboard-scale.test.ts',
  // A write of costly schedules checked on a worker thread within its 3 s of wall time
  // (writeCheckMs), compared with the same checks in one pass: with two other files computing
  // beside it the thread ran out of that time twice (CI, 2026-11-25).
  'test/unit/entry-check-pool.test.ts',
  'test/unit/runner-before-publish.test.ts',
  'test/unit/runner.test.ts',
];

/** The other files, this many at a time: most of their time is spent waiting, not computing. */
export const CONTENT_WORKERS = 3;
