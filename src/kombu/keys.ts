/**
 * The one home of the broker's Redis key and channel names. They follow kombu's Redis transport
 * (celery-protocol.md §2); workers compute the same names, so a change here is a change to the
 * wire contract. tsbeat's own keys are in src/redis/keys.ts.
 *
 * `globalKeyprefix` (kombu `global_keyprefix`, §2.6) is prepended as-is, with no separator, to
 * every key and channel, exactly as kombu's PrefixedStrictRedis does.
 */
import type { TransportOptionsInput } from '../config/options-schema.js';
import { DEFAULTS } from '../base/defaults.js';

/** kombu's transport options that shape key names. Both sides (tsbeat and workers) must agree. */
export interface KombuKeyOptions {
  /** Prepended to every key and channel; '' for none. */
  readonly globalKeyprefix: string;
  /** Between a queue name and its priority step, and between the fields of a binding. */
  readonly sep: string;
  /** Ascending priority steps; the first must be 0 for the bare queue name to be used. */
  readonly prioritySteps: readonly number[];
  /**
   * Fanout channel prefix, already formatted with the DB number (kombu `keyprefix_fanout`,
   * `/{db}.` by default, '' when `fanout_prefix` is false).
   */
  readonly fanoutPrefix: string;
  /** kombu `fanout_patterns`: append `/<routing key>` to fanout channels. */
  readonly fanoutPatterns: boolean;
}

/**
 * kombu's `Channel.priority`: the step a priority is rounded down to, `steps[bisect(steps, p) - 1]`
 * after clamping to 0–9 (a missing or invalid priority is 0). Like Python's `steps[-1]`, a priority
 * below the first step maps to the last step.
 */
export function priorityStep(priority: number | undefined, steps: readonly number[]): number {
  const p = priority === undefined || !Number.isFinite(priority) ? 0 : Math.min(9, Math.max(0, Math.trunc(priority)));
  let index = 0;
  while (index < steps.length && (steps[index] ?? 0) <= p) index += 1;
  return (index === 0 ? steps[steps.length - 1] : steps[index - 1]) ?? 0;
}

/** The Redis list a message of this priority is pushed to (kombu `_q_for_pri`): step 0 is the bare name. */
export function queueListKey(options: KombuKeyOptions, queue: string, priority: number | undefined): string {
  const step = priorityStep(priority, options.prioritySteps);
  return step === 0 ? `${options.globalKeyprefix}${queue}` : `${options.globalKeyprefix}${queue}${options.sep}${step}`;
}

/** The set holding an exchange's bindings (kombu `keyprefix_queue`). */
export function bindingKey(options: KombuKeyOptions, exchange: string): string {
  return `${options.globalKeyprefix}_kombu.binding.${exchange}`;
}

/** A member of a binding set: `<routing key><sep><pattern><sep><queue>` (kombu `_queue_bind`). */
export function bindingMember(options: KombuKeyOptions, routingKey: string, pattern: string, queue: string): string {
  return `${routingKey}${options.sep}${pattern}${options.sep}${queue}`;
}

export interface Binding {
  readonly routingKey: string;
  /** A Python regular expression for topic bindings, '' for direct and fanout ones. */
  readonly pattern: string;
  readonly queue: string;
}

/** Reads a binding-set member back, as kombu's `get_table` does (split on `sep`). */
export function parseBindingMember(options: KombuKeyOptions, member: string): Binding | undefined {
  const parts = member.split(options.sep);
  if (parts.length !== 3) return undefined;
  const [routingKey = '', pattern = '', queue = ''] = parts;
  return { routingKey, pattern, queue };
}

/** The pub/sub channel of a fanout exchange (kombu `_get_publish_topic`). */
export function fanoutChannel(options: KombuKeyOptions, exchange: string, routingKey: string): string {
  const base = `${options.globalKeyprefix}${options.fanoutPrefix}${exchange}`;
  return routingKey !== '' && options.fanoutPatterns ? `${base}/${routingKey}` : base;
}

/** kombu's default `keyprefix_fanout` for a DB, or the `fanout_prefix` transport option resolved. */
export function resolveFanoutPrefix(option: boolean | string | undefined, db: number): string {
  if (option === false) return '';
  const template = typeof option === 'string' ? option : '/{db}.';
  return template.replaceAll('{db}', String(db));
}

/** kombu's key-shaping transport options, with kombu's defaults. */
export function kombuKeyOptions(transport: TransportOptionsInput, db: number): KombuKeyOptions {
  return {
    globalKeyprefix: transport.globalKeyprefix ?? '',
    sep: transport.sep ?? DEFAULTS.prioritySep,
    prioritySteps: transport.prioritySteps ?? DEFAULTS.prioritySteps,
    fanoutPrefix: resolveFanoutPrefix(transport.fanoutPrefix, db),
    fanoutPatterns: transport.fanoutPatterns ?? true,
  };
}
