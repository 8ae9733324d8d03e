/**
 * What Celery, kombu and its Redis transport use when not told otherwise: tsbeat keeps them, so
 * that its messages and queues read as theirs.
 * Part of DEFAULTS (defaults.ts), which is where the rest of the code reads them.
 */
export const CELERY_DEFAULTS = {
  /** Celery's `timezone` when unset with `enable_utc=True`. */
  timezone: 'UTC',
  /** Celery's `task_default_queue`. */
  taskDefaultQueue: 'celery',
  /** Celery's `task_protocol`: 2 since Celery 4. */
  taskProtocol: 2,
  /** Celery's `broker_url` default, on the local Redis. */
  brokerUrl: 'redis://127.0.0.1:6379/0',
  /** kombu's Redis `priority_steps`. */
  prioritySteps: [0, 3, 6, 9] as readonly number[],
  /** kombu's Redis separator between a queue name and its priority step (bytes 0x06 0x16). */
  prioritySep: '\x06\x16',
} as const;
