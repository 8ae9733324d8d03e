/**
 * Every command fits the terminal (issue 68): at COLUMNS=80 and 120, no line that status, history,
 * check, next, plan, audit or entries list prints (stdout or stderr) is wider, on a deployment
 * whose names, tasks, notes and warnings are long: a real `beat run` leader on a private
 * redis-server, publishing to a queue nobody consumes (the UNCONSUMED warning), a paused entry with
 * a long note, an rrule entry, a runtime entry, a plan of long names and a check problem. --wide
 * and --json keep every value whole.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { BeatFleet, TempDir, waitUntil } from '../support/beat-process.js';
import { runCli } from '../support/cli.js';
import type { CliResult } from '../support/cli.js';
import { PrivateRedis, freePort } from '../support/redis-server.js';

const fleet = new BeatFleet();
const dir = new TempDir();
let redis: PrivateRedis;
let config: string;
let checkProblem: string;
let planned: string;

const HEARTBEAT = 'every-second-heartbeat-of-the-quarterly-finance-reporting-pipeline';
const BACKUP = 'nightly-backup-of-the-primary-database-cluster-in-the-eu-west-region';
const QUEUE = 'reports-for-the-finance-department-that-nobody-consumes-yet';
const NOTE = `paused while the finance team migrates the reporting warehouse to the new cluster; ${'see the runbook '.repeat(12)}`.trim();

beforeAll(async () => {
  redis = new PrivateRedis(await freePort());
  await redis.start();
  config = dir.write(
    'beat.yaml',
    [
      'name: the-finance-reporting-deployment-of-the-eu-west-region',
      'timezone: Europe/Berlin',
      `broker: { url: "${redis.url()}" }`,
      // Looks every second, flags a queue nobody read for 2 s: the UNCONSUMED warning within seconds.
      'consumers: { every: 1s, unconsumedAfter: 2s, replyWindow: 300ms }',
      'beatSchedule:',
      `  ${HEARTBEAT}:`,
      '    task: reports.generate_the_quarterly_summary_for_finance_and_the_board_of_directors',
      '    schedule: 1',
      `    options: { queue: ${QUEUE} }`,
      `  ${BACKUP}: { task: operations.backup.snapshot_the_primary_database_cluster, schedule: { cron: "30 2 * * *" } }`,
      '  last-friday-of-the-month-close-of-the-books-for-every-subsidiary:',
      '    task: accounting.close_the_books_for_every_subsidiary_of_the_group',
      '    schedule: { rrule: "FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=17" }',
      '',
    ].join('\n'),
  );
  // beat check's problem: a rule whose next fire cannot be computed within its step budget.
  checkProblem = dir.write(
    'check-problem.yaml',
    [
      'name: the-check-problem',
      `broker: { url: "${redis.url()}" }`,
      'beatSchedule:',
      '  monday-the-twenty-ninth-of-february-of-every-leap-year-that-has-one:',
      '    task: calendars.celebrate_a_rare_day_that_almost_never_comes',
      '    schedule: { rrule: "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO" }',
      '',
    ].join('\n'),
  );
  planned = dir.write(
    'owned.yaml',
    [
      'weekly-export-of-every-ledger-to-the-data-warehouse-for-the-analysts:',
      '  task: exports.ledgers.export_every_ledger_to_the_data_warehouse',
      '  schedule: { crontab: { minute: 15, hour: 4, day_of_week: 1 } }',
      '',
    ].join('\n'),
  );
  const leader = fleet.spawn({ config });
  await leader.waitForEvent(EVENTS.lockAcquired, 20_000);
  await leader.waitForEvent(EVENTS.queueUnconsumed, 20_000);
  const env = { BEAT_BROKER_URL: redis.url() };
  const pause = await runCli(['pause', BACKUP, '--note', NOTE, '--config', config], { env, now: Date.now() });
  expect(pause.code, pause.stderr).toBe(0);
  const set = await runCli(
    [
      'entries',
      'set',
      'hourly-reconciliation-of-the-payment-provider-settlements-with-the-bank',
      '--task',
      'payments.reconcile_the_payment_provider_settlements_with_the_bank_statements',
      '--schedule',
      '{"crontab": {"minute": 5}}',
      '--config',
      config,
    ],
    { env, now: Date.now() },
  );
  expect(set.code, set.stderr).toBe(0);
  await waitUntil(
    'the heartbeat entry has runs, and status shows it unconsumed and the other paused',
    async () => {
      const r = await runCli(['status', '--config', config, '--json'], { env, now: Date.now() });
      const entries = (
        JSON.parse(r.stdout) as { entries: { name: string; lastSlot: string | null; unconsumed: unknown; paused: boolean }[] }
      ).entries;
      const heartbeat = entries.find((e) => e.name === HEARTBEAT);
      return heartbeat?.lastSlot != null && heartbeat.unconsumed !== null && entries.find((e) => e.name === BACKUP)?.paused === true
        ? true
        : undefined;
    },
    20_000,
  );
}, 60_000);
afterAll(async () => {
  await fleet.killAll();
  await redis.stop();
  dir.remove();
});

/** Every command a person reads on a terminal: its name here, its arguments, the exit it gives here. */
const COMMANDS: readonly (readonly [name: string, argv: () => string[], code: number])[] = [
  ['status', () => ['status', '--config', config], 0],
  ['history ENTRY', () => ['history', HEARTBEAT, '--config', config], 0],
  ['history -l (an ENTRY column)', () => ['history', '-l', 'tier!=gold', '--config', config], 0],
  ['check', () => ['check', '--config', config], 0],
  ['check of an entry that cannot be computed', () => ['check', '--config', checkProblem], 2],
  ['next', () => ['next', '--config', config], 0],
  [
    'plan --entries --owner',
    () => ['plan', '--entries', planned, '--owner', 'gitops-pipeline-of-the-platform-team', '--config', config],
    3,
  ],
  ['audit', () => ['audit', '--config', config], 0],
  ['entries list', () => ['entries', 'list', '--config', config], 0],
];

const tooWide = (r: CliResult, columns: number): string[] =>
  [...r.stdout.split('\n'), ...r.stderr.split('\n')].filter((line) => line.length > columns);

describe.each([80, 120])('at COLUMNS=%i', (columns) => {
  it.each(COMMANDS)('%s prints no line wider than the terminal', async (_name, argv, code) => {
    const r = await runCli(argv(), { env: { BEAT_BROKER_URL: redis.url(), COLUMNS: String(columns) }, now: Date.now() });
    expect(r.code, r.stderr).toBe(code);
    expect(r.stdout.length + r.stderr.length).toBeGreaterThan(0);
    expect(tooWide(r, columns)).toEqual([]);
    // Nor does a wrapped line end in the space it was broken at.
    expect([...r.stdout.split('\n'), ...r.stderr.split('\n')].filter((line) => line.endsWith(' '))).toEqual([]);
  });

  it('status shows the unconsumed queue, the pause and its note, wrapped under their first line', async () => {
    const r = await runCli(['status', '--config', config], {
      env: { BEAT_BROKER_URL: redis.url(), COLUMNS: String(columns) },
      now: Date.now(),
    });
    const lines = r.stdout.split('\n');
    const warning = lines.findIndex((l) => l.startsWith('UNCONSUMED: '));
    expect(warning, r.stdout).toBeGreaterThan(0);
    // The warning goes on, indented, on the lines below: one item, read whole.
    expect(lines[warning + 1]).toMatch(/^ {2}\S/);
    expect(lines.slice(warning).join(' ').replace(/\s+/g, ' ')).toContain(`start a worker with -Q ${QUEUE}, or fix their queue`);
    expect(lines).toContainEqual(expect.stringMatching(/^NAME\s+SCHEDULE\s+LAST RUN\s+NEXT RUN\s+STATE\s+OUTCOME\s+ORIGIN$/));
    expect(lines).toContainEqual(expect.stringMatching(/^every-second\S*…\s+every 1s\s.*\sUNCONSUMED\s/));
    expect(lines).toContainEqual(expect.stringMatching(/^nightly-back\S*…\s.*\spaused \(/));
  });
});

describe('the full value, one flag away', () => {
  const env = (): NodeJS.ProcessEnv => ({ BEAT_BROKER_URL: redis.url(), COLUMNS: '80' });

  it('status --wide: every name, task, note and warning whole, on one line each', async () => {
    const r = await runCli(['status', '--wide', '--config', config], { env: env(), now: Date.now() });
    expect(r.stdout).toContain(`pause: ${NOTE}`);
    expect(r.stdout).toMatch(new RegExp(`^${BACKUP}\\s+operations\\.backup\\.snapshot_the_primary_database_cluster\\s`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^UNCONSUMED: .*start a worker with -Q ${QUEUE}, or fix their queue$`, 'm'));
  });

  it('history --wide: PUBLISHED, ISO instants and whole task ids; without it, the ids cut and FINISHED relative', async () => {
    const json = await runCli(['history', HEARTBEAT, '--json', '--config', config], { env: env(), now: Date.now() });
    const taskId = (JSON.parse(json.stdout) as { taskId: string }[])[0]?.taskId ?? '';
    expect(taskId).toMatch(/^[0-9a-f-]{36}$/);
    const wide = await runCli(['history', HEARTBEAT, '--wide', '--config', config], { env: env(), now: Date.now() });
    expect(wide.stdout).toMatch(/^PUBLISHED\s+SLOT\s+STATE\s+FINISHED\s+RUNTIME\s+TASK ID\s+EXCEPTION$/m);
    expect(wide.stdout).toContain(taskId);
    const narrow = await runCli(['history', HEARTBEAT, '--config', config], { env: env(), now: Date.now() });
    // No run has an exception: no EXCEPTION column to take room on a terminal.
    expect(narrow.stdout).toMatch(/^SLOT\s+STATE\s+FINISHED\s+RUNTIME\s+TASK ID$/m);
    expect(narrow.stdout).not.toContain(taskId);
  });

  it('check and entries list --wide: every task whole', async () => {
    const check = await runCli(['check', '--wide', '--config', config], { env: env(), now: Date.now() });
    expect(check.stdout).toContain('reports.generate_the_quarterly_summary_for_finance_and_the_board_of_directors');
    const list = await runCli(['entries', 'list', '--wide', '--config', config], { env: env(), now: Date.now() });
    expect(list.stdout).toContain('payments.reconcile_the_payment_provider_settlements_with_the_bank_statements');
  });
});
