/**
 * Builders for message tests: entries and configs as the config loader would hand them over,
 * with options validated by the real options schema (so tests use what users can write).
 */
import { compileRoutes } from '../../src/config/task-routes.js';
import { optionsSchema, taskRoutesSchema } from '../../src/config/options-schema.js';
import type { OptionsInput, TaskRoutesInput } from '../../src/config/options-schema.js';
import type { MessageConfig, MessageEntry, MessageEnv } from '../../src/celery/message.js';

export const ENV: MessageEnv = { origin: 'gen4242@testhost', replyTo: '03354bf1-1c73-3e81-a877-55c0c6d2e927' };

export function entry(
  fields: { name?: string; task?: string; args?: unknown[]; kwargs?: Record<string, unknown>; options?: OptionsInput } = {},
): MessageEntry {
  return {
    name: fields.name ?? 'add-every-minute',
    task: fields.task ?? 'proj.add',
    args: fields.args ?? [2, 3],
    kwargs: fields.kwargs ?? {},
    options: optionsSchema.parse(fields.options ?? {}),
  };
}

export function config(fields: { taskDefaultQueue?: string; taskRoutes?: TaskRoutesInput; taskProtocol?: 1 | 2 } = {}): MessageConfig {
  return {
    taskDefaultQueue: fields.taskDefaultQueue ?? 'celery',
    taskRoutes: compileRoutes(fields.taskRoutes === undefined ? undefined : taskRoutesSchema.parse(fields.taskRoutes)),
    taskProtocol: fields.taskProtocol ?? 2,
  };
}
