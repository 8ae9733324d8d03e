/**
 * An entry's `labels` (src/core/labels.ts): string keys and values in Kubernetes' spelling, at most
 * DEFAULTS.entryLabelsMax of them. Each problem names the label's key as its path
 * (`labels.team`), so a refusal says which label and which rule.
 */
import * as z from 'zod';
import { DEFAULTS } from '../base/defaults.js';
import { shown } from '../base/errors.js';
import { labelKeyProblem, labelValueProblem } from '../core/labels.js';

const labelsError = 'labels must be a mapping of label keys to string values, such as { team: "billing", tier: "critical" }';

export const labelsSchema = z
  .record(z.string(), z.unknown(), { error: labelsError })
  .superRefine((labels, ctx) => {
    const keys = Object.keys(labels);
    if (keys.length > DEFAULTS.entryLabelsMax) {
      ctx.addIssue({
        code: 'custom',
        message: `an entry carries at most ${DEFAULTS.entryLabelsMax} labels, and this one has ${keys.length}`,
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
