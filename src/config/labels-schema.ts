/**
 * An entry's `labels` (src/core/labels.ts): string keys and values in Kubernetes' spelling, at most
 * ENTRY_LABELS_MAX of them. Each problem names the label's key as its path
 * (`labels.team`), so a refusal says which label and which rule.
 */
import * as z from 'zod';
import { shown } from '../base/errors.js';
import { labelKeyProblem, labelValueProblem } from '../core/labels.js';

/**
 * Most labels one entry carries. Each is copied into the entry's status row, its listing and (for
 * the keys `metricsLabelKeys` names) its series, so their number is bounded as their length is.
 */
export const ENTRY_LABELS_MAX = 32;

/**
 * Most label keys `metricsLabelKeys` may name: each becomes a label of tsbeat_entry_labels, and a
 * label's values multiply its series, so the count is kept small.
 */
const METRICS_LABEL_KEYS_MAX = 10;

const labelsError = 'labels must be a mapping of label keys to string values, such as { team: "billing", tier: "critical" }';

export const labelsSchema = z
  .record(z.string(), z.unknown(), { error: labelsError })
  .superRefine((labels, ctx) => {
    const keys = Object.keys(labels);
    if (keys.length > ENTRY_LABELS_MAX) {
      ctx.addIssue({
        code: 'custom',
        message: `an entry carries at most ${ENTRY_LABELS_MAX} labels, and this one has ${keys.length}`,
        input: labels,
      });
      return;
    }
    for (const key of keys) {
      const value = labels[key];
      const keyProblem = labelKeyProblem(key);
      if (keyProblem !== undefined) {
        ctx.addIssue({ code: 'custom', path: [key], message: `label key ${shown(key)}: ${keyProblem}`, input: key });
        continue;
      }
      if (typeof value !== 'string') {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `a label value must be a string (quote it in YAML: ${key}: "${String(value)}")`,
          input: value,
        });
        continue;
      }
      const valueProblem = labelValueProblem(value);
      if (valueProblem !== undefined)
        ctx.addIssue({ code: 'custom', path: [key], message: `label value ${shown(value)}: ${valueProblem}`, input: value });
    }
  })
  .transform((labels) => labels as Record<string, string>);

/** The Prometheus label a label key becomes (kube-state-metrics' rule): `label_` and the key, each character outside [A-Za-z0-9_] an `_`. */
export function metricLabelName(key: string): string {
  return `label_${key.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

const metricKeysError = `metricsLabelKeys must be a list of at most ${METRICS_LABEL_KEYS_MAX} label keys, such as ["team", "tier"]`;

/**
 * `metricsLabelKeys`: the label keys that become labels of the tsbeat_entry_labels series (none
 * unless asked: a label's values multiply the series). Two keys that become one Prometheus name
 * (`a.b`, `a_b`) are refused.
 */
export const metricsLabelKeysSchema = z
  .array(z.string({ error: metricKeysError }), { error: metricKeysError })
  .max(METRICS_LABEL_KEYS_MAX, { error: metricKeysError })
  .superRefine((keys, ctx) => {
    const names = new Map<string, string>();
    keys.forEach((key, index) => {
      const problem = labelKeyProblem(key);
      if (problem !== undefined) {
        ctx.addIssue({ code: 'custom', path: [index], message: `label key ${shown(key)}: ${problem}`, input: key });
        return;
      }
      const name = metricLabelName(key);
      const other = names.get(name);
      if (other !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: [index],
          message: `label keys ${shown(other)} and ${shown(key)} both become the metric label ${name}: name only one`,
          input: key,
        });
      names.set(name, key);
    });
  });
