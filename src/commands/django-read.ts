/**
 * The `--django-url` option the commands that read django-celery-beat's rows share, and where the
 * URL came from, as their errors name it (the rows are read by runtime-view.ts).
 */
import { ENV } from '../base/env.js';
import type { BrokerOverride } from '../config/connection-checks.js';
import type { OptionHelps } from './command-spec.js';

export const djangoOption = {
  'django-url': {
    type: 'string',
    value: 'URL',
    help: `also read django-celery-beat's tables in this database (postgres://…
      or mysql://…; default: $${ENV.djangoUrl}, then sources.django.url)`,
  },
} as const satisfies OptionHelps;

/** Where sources.django.url came from, as the errors name it. */
export function djangoWhere(override: BrokerOverride | undefined): string {
  if (override === undefined) return 'sources.django.url';
  return override.origin === ENV.djangoUrl ? `$${ENV.djangoUrl}` : override.origin;
}
