/** The cron schedule engine: parse crontab lines and Celery crontab objects, enumerate fire instants, describe. */
export { CronParseError } from './spec.js';
export type { CronMasks, CronSpec, NthWeekday } from './spec.js';
export { parseCronLine } from './parse-line.js';
export { parseCeleryCrontab } from './parse-celery.js';
export type { CeleryCrontabFields, CrontabFieldValue } from './parse-celery.js';
export { nextCronFires } from './next-fires.js';
export { describeCron } from './describe.js';
export { checkHashedLine, hashDrawOf, isHashedLine, parseHashedLine, resolveHashedLine, stableHash } from './hashed.js';
export type { HashDraw, HashedField } from './hashed.js';
