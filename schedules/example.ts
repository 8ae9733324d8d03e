// A TypeScript schedule: typed by the same schema that validates it, and run without a build step.
// Try it:  node dist/cli.js check --config schedules/example.ts
import { crontab, cron, defineConfig, solar, timedelta } from 'tsbeat';

export default defineConfig({
  timezone: 'America/New_York',
  beatSchedule: {
    'cleanup-every-10-minutes': {
      task: 'maintenance.cleanup',
      schedule: timedelta({ minutes: 10 }),
    },
    'weekday-digest': {
      task: 'mail.digest',
      schedule: crontab({ minute: 0, hour: 8, dayOfWeek: 'mon-fri' }),
      kwargs: { audience: 'staff' },
      options: { queue: 'mail', priority: 0 },
    },
    'last-day-of-month-invoices': {
      task: 'billing.invoices',
      schedule: cron('0 18 L * *'),
      options: { expires: 6 * 3600 },
    },
    'dusk-lights': {
      task: 'home.lights_on',
      schedule: solar('dusk_civil', 40.7128, -74.006),
    },
  },
});
