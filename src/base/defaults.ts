/**
 * The defaults a user can set (config keys, URL and transport options, CLI flags) and the tuning
 * constants read by more than one module, in one object, each with the reason for its value where
 * it is declared. The config schema, the CLI help and the rest of the code read them from DEFAULTS;
 * each lives in the module of its subject (defaults-*.ts beside this one), assembled here.
 * A constant read in one file only is declared in that file, beside its one user, not here.
 */
import { BACKFILL_DEFAULTS } from './defaults-backfill.js';
import { CELERY_DEFAULTS } from './defaults-celery.js';
import { CONFIG_DEFAULTS } from './defaults-config.js';
import { CONSUMER_DEFAULTS } from './defaults-consumers.js';
import { CONTROL_DEFAULTS } from './defaults-control.js';
import { HTTP_DEFAULTS } from './defaults-http.js';
import { LEADERSHIP_DEFAULTS } from './defaults-leadership.js';
import { OUTCOME_DEFAULTS } from './defaults-outcomes.js';
import { PUBLISH_DEFAULTS } from './defaults-publish.js';
import { SCHEDULING_DEFAULTS } from './defaults-scheduling.js';
import { SOURCE_DEFAULTS } from './defaults-sources.js';

export const DEFAULTS = {
  ...CELERY_DEFAULTS,
  ...SCHEDULING_DEFAULTS,
  ...PUBLISH_DEFAULTS,
  ...LEADERSHIP_DEFAULTS,
  ...CONTROL_DEFAULTS,
  ...BACKFILL_DEFAULTS,
  ...SOURCE_DEFAULTS,
  ...OUTCOME_DEFAULTS,
  ...CONSUMER_DEFAULTS,
  ...HTTP_DEFAULTS,
  ...CONFIG_DEFAULTS,
} as const;
