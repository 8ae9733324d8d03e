// Managing runtime entries from a Node service with tsbeat's client: create, edit, list and delete
// schedules while `beat run` leads, which applies each write within a second. It writes to the
// deployment's state Redis directly, so it needs no HTTP endpoint and no token; give it the URL,
// the deployment's `name` and its `state.prefix` (the defaults are tsbeat's). To go through
// `beat run --http` with a token instead (held to the token's grants, the same methods and errors):
// `Entries.connect({ api: 'http://127.0.0.1:9808', token })` (docs/runtime-entries.md, "TypeScript").
//
//   node_modules/.bin/jiti examples/entries-client.ts      (or compile it with tsc)
//   ENTRIES_REDIS_URL=redis://127.0.0.1:6379/0 ENTRIES_DEPLOYMENT=myapp node_modules/.bin/jiti examples/entries-client.ts
//
// test/integration/entries-api.test.ts runs it against a private Redis.
import { ConfigError, Entries, ErrorCode, crontab } from 'tsbeat';
import type { EntryInput } from 'tsbeat';

const entries = await Entries.connect({
  url: process.env['ENTRIES_REDIS_URL'] ?? 'redis://127.0.0.1:6379/0',
  deployment: process.env['ENTRIES_DEPLOYMENT'] ?? 'default',
  prefix: 'tsbeat',
});
try {
  // One schedule per customer: the entry is what a config file's beatSchedule.<name> holds, typed.
  const report: EntryInput = {
    task: 'reports.build',
    schedule: crontab({ minute: 0, hour: 6, dayOfWeek: 'mon-fri' }),
    args: [42],
    options: { queue: 'reports' },
  };
  console.log('set report-42:', await entries.set('report-42', report)); // created
  console.log('set report-42:', await entries.set('report-42', { ...report, args: [42, 'pdf'] })); // updated

  // Several at once, all or nothing.
  const many = await entries.setMany({
    'sync-7': { task: 'crm.sync', schedule: { timedelta: { minutes: 15 } }, kwargs: { account: 7 } },
    'sync-8': { task: 'crm.sync', schedule: 900, kwargs: { account: 8 } },
  });
  console.log('setMany:', JSON.stringify(many.outcomes));

  // Mistakes are refused with every problem named, as `beat check` names them, and nothing is written.
  try {
    await entries.set('broken', { task: 'reports.build', schedule: { cron: '61 * * * *' } });
  } catch (error) {
    if (!(error instanceof ConfigError) || error.code !== ErrorCode.EntryInvalid) throw error;
    for (const problem of error.problems) console.log(`refused: ${problem.path}: ${problem.message}`);
  }

  for (const entry of await entries.list()) console.log(`listed: ${entry.name} v${entry.version} updated ${entry.updatedAt.toISOString()}`);
  console.log('get sync-8:', JSON.stringify((await entries.get('sync-8'))?.entry));
  console.log('delete sync-8:', await entries.delete('sync-8'));
  console.log('delete sync-8 again:', await entries.delete('sync-8'));
} finally {
  await entries.close();
}
