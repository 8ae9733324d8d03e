// A config of N mixed entries (every schedule kind, several zones, args, options), shared by the
// config benchmarks so that they measure the same thing.
const zones = ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe', 'Pacific/Chatham'];
const cronLines = ['*/5 * * * *', '30 2 * * *', '0 9 * * 1-5', '15 10 * * 1#2', '0 0 L * *', '@hourly', '0 */2 * * *', '*/10 1-4 * * *'];

function entry(i) {
  const zone = zones[i % zones.length];
  const base = { task: `bench.task_${i % 97}`, args: [i, 'x'], kwargs: { n: i }, timezone: zone };
  switch (i % 8) {
    case 0:
      return { ...base, schedule: 5 + (i % 300) };
    case 1:
      return { ...base, schedule: { timedelta: { minutes: 1 + (i % 59) } } };
    case 2:
      return { ...base, schedule: { crontab: { minute: i % 60, hour: i % 24 } } };
    case 3:
      return { ...base, schedule: { crontab: { minute: '*/15', day_of_week: 'mon-fri' } } };
    case 4:
    case 5:
      return { ...base, schedule: { cron: cronLines[i % cronLines.length] } };
    case 6:
      return { ...base, schedule: { cron: `${i % 60} ${i % 24} * * *` }, options: { queue: 'q', expires: 60 } };
    default:
      return { ...base, schedule: i % 40 === 7 ? { solar: { event: 'sunrise', lat: 50, lon: 8 } } : { clocked: '2030-01-01T00:00:00Z' } };
  }
}

/** The raw config (what a file would hold) with `n` entries named entry-0, entry-1, … */
export function mixedConfig(n) {
  const beatSchedule = {};
  for (let i = 0; i < n; i += 1) beatSchedule[`entry-${i}`] = entry(i);
  return { timezone: 'UTC', beatSchedule };
}
