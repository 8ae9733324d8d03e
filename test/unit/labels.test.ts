import { describe, expect, it } from 'vitest';
import { labelKeyProblem, labelValueProblem, labelsText } from '../../src/core/labels.js';
import { parseSelector, selects } from '../../src/core/label-selector.js';
import type { LabelSelector } from '../../src/core/label-selector.js';
import { parseEntryDefinition } from '../../src/config/entry-definition.js';
import { resolveEntry } from '../../src/config/resolve.js';
import { EntryShapes, ShapeResolver } from '../../src/config/entry-shapes.js';
import { parseConfig } from '../../src/config/load.js';
import { buildIndex, pageRow, selectRows } from '../../src/dashboard/entry-rows.js';
import { buildStatus } from '../../src/control/status.js';
import { parseQuery } from '../../src/dashboard/list-query.js';
import { ApiError } from '../../src/http/failures.js';
import { ENTRY_LABELS_MAX, metricLabelName } from '../../src/config/labels-schema.js';
import { BeatMetrics } from '../../src/observe/metrics.js';
import type { MetricsSource } from '../../src/observe/metrics.js';

function selector(text: string): LabelSelector {
  const parsed = parseSelector(text);
  if (!parsed.ok) throw new Error(`${parsed.problem.message} at ${parsed.problem.position}`);
  return parsed.selector;
}

describe('label keys and values follow Kubernetes', () => {
  it.each(['team', 'app.kubernetes.io/name', 'a', 'A_b-c.d', 'example.com/x', 'x'.repeat(63)])('takes the key %s', (key) => {
    expect(labelKeyProblem(key)).toBeUndefined();
  });
  it.each([
    ['', 'must not be empty'],
    ['-team', 'starting and ending'],
    ['team_', 'starting and ending'],
    ['x'.repeat(64), 'at most 63'],
    ['Example.com/x', 'DNS subdomain'],
    ['/x', 'prefix'],
    ['a/b/c', 'at most one "/"'],
    ['example.com/', 'must not be empty'],
    ['te am', 'letters, digits'],
    [`${'a'.repeat(254)}/x`, 'at most 253'],
  ])('refuses the key %j (%s)', (key, rule) => {
    expect(labelKeyProblem(key)).toContain(rule);
  });
  it('takes an empty value and refuses a value too long or ill-formed', () => {
    expect(labelValueProblem('')).toBeUndefined();
    expect(labelValueProblem('v1.2_x-y')).toBeUndefined();
    expect(labelValueProblem('x'.repeat(64))).toContain('at most 63');
    expect(labelValueProblem('a/b')).toContain('empty or');
  });
  it('shows labels in key order on one line', () => {
    expect(labelsText({ tier: 'critical', team: 'billing' })).toBe('team=billing,tier=critical');
    expect(labelsText(undefined)).toBe('');
  });
});

describe('an entry with labels', () => {
  const base = { task: 'x.y', schedule: 60 };
  it('keeps valid labels through the schema and resolve', () => {
    const parsed = parseEntryDefinition({ ...base, labels: { team: 'billing', 'example.com/tier': '' } });
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(resolveEntry('e', parsed.entry, { zone: 'UTC', deployment: 'default' }, 'store').labels).toEqual({
      team: 'billing',
      'example.com/tier': '',
    });
  });
  it('refuses a bad key, a non-string value and too many labels, naming the label and the rule', () => {
    const bad = parseEntryDefinition({ ...base, labels: { 'bad key': 'x', tier: 1, team: '-x' } });
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    const byPath = Object.fromEntries(bad.problems.map((p) => [p.path, p.message]));
    expect(Object.keys(byPath).sort()).toEqual(['labels["bad key"]', 'labels.team', 'labels.tier'].sort());
    expect(byPath['labels.tier']).toContain('must be a string');
    expect(byPath['labels.team']).toContain('label value "-x"');
    const many = Object.fromEntries(Array.from({ length: ENTRY_LABELS_MAX + 1 }, (_, i) => [`k${i}`, 'v']));
    const tooMany = parseEntryDefinition({ ...base, labels: many });
    expect(tooMany.ok ? [] : tooMany.problems.map((p) => [p.path, p.message])).toEqual([
      ['labels', `an entry carries at most ${ENTRY_LABELS_MAX} labels, and this one has ${ENTRY_LABELS_MAX + 1}`],
    ]);
  });
  it('gives django rows and RedBeat entries their source as a label, over an own "source"', () => {
    const parsed = parseEntryDefinition({ ...base, labels: { source: 'mine', team: 'a' } });
    if (!parsed.ok) throw new Error('invalid');
    expect(resolveEntry('e', parsed.entry, { zone: 'UTC', deployment: 'default' }, 'django').labels).toEqual({
      source: 'django',
      team: 'a',
    });
    const plain = parseEntryDefinition(base);
    if (!plain.ok) throw new Error('invalid');
    expect(resolveEntry('e', plain.entry, { zone: 'UTC', deployment: 'default' }, 'redbeat').labels).toEqual({ source: 'redbeat' });
    expect(resolveEntry('e', plain.entry, { zone: 'UTC', deployment: 'default' }, 'store').labels).toBeUndefined();
  });
});

describe('label selectors read as Kubernetes reads them', () => {
  const billing = { team: 'billing', tier: 'critical' };
  const batch = { team: 'billing', tier: 'batch' };
  const ops = { team: 'ops' };
  const match = (text: string) => [billing, batch, ops, undefined].map((l) => selects(selector(text), l));
  it.each([
    ['team=billing', [true, true, false, false]],
    ['team==billing', [true, true, false, false]],
    ['team=billing,tier!=batch', [true, false, false, false]],
    ['tier!=batch', [true, false, true, true]],
    ['tier in (critical, batch)', [true, true, false, false]],
    ['tier notin (batch)', [true, false, true, true]],
    ['tier', [true, true, false, false]],
    ['!tier', [false, false, true, true]],
    ['  ', [true, true, true, true]],
    ['team=ops,!tier', [false, false, true, false]],
  ])('%j', (text, expected) => {
    expect(match(text)).toEqual(expected);
  });
  it('reads `key=` and `in ()` as the empty value', () => {
    expect(selects(selector('tier='), { tier: '' })).toBe(true);
    expect(selects(selector('tier in ()'), { tier: '' })).toBe(true);
    expect(selects(selector('tier in ()'), { tier: 'x' })).toBe(false);
  });
  it.each([
    ['team=billing tier=x', 14, 'expected "," between requirements'],
    ['team in billing', 9, 'expected "("'],
    ['team in (a b)', 12, 'expected "," or ")"'],
    ['=x', 1, 'expected a label key'],
    ['team=billing,', 14, 'expected a label key'],
    ['in=x', 1, '"in" is an operator'],
    ['!team=x', 6, 'takes no value'],
    ['replicas>3', 9, 'is not taken'],
    ['team=a/b', 6, '"a/b": a label value must be empty or'],
    ['Bad.com/x=1', 1, 'DNS subdomain'],
    ['team in (a', 11, 'expected "," or ")"'],
  ])('refuses %j at position %i', (text, position, message) => {
    const parsed = parseSelector(text);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.problem.position).toBe(position);
    expect(parsed.problem.message).toContain(message);
  });
});

describe("the dashboard's selector filter", () => {
  const config = parseConfig(
    {
      name: 'dash',
      beatSchedule: {
        billing: { task: 'a.b', schedule: 60, labels: { team: 'billing', tier: 'critical' } },
        batch: { task: 'a.b', schedule: 60, labels: { team: 'billing', tier: 'batch' } },
        plain: { task: 'a.b', schedule: 60 },
      },
    },
    'test',
  );
  it('keeps the rows the selector selects and gives each row its labels', async () => {
    const index = await buildIndex({ config, entries: config.entries, invalid: [] });
    const rows = selectRows(index, parseQuery(new URLSearchParams({ selector: 'team=billing,tier!=batch' })), new Set());
    expect(rows.map((r) => r.name)).toEqual(['billing']);
    expect(selectRows(index, parseQuery(new URLSearchParams({ selector: '!team' })), new Set()).map((r) => r.name)).toEqual(['plain']);
    expect(selectRows(index, parseQuery(new URLSearchParams({ selector: ' ' })), new Set())).toHaveLength(3);
    const row = rows[0];
    if (row === undefined) throw new Error('no row');
    const view = buildStatus({
      config,
      states: new Map(),
      paused: new Set(),
      leader: undefined,
      self: { instance: 't', role: 'cli' },
      nowMs: 0,
    }).entries.find((e) => e.name === 'billing');
    expect(pageRow(row, view, new Set()).view?.labels).toEqual({ team: 'billing', tier: 'critical' });
  });
  it('answers a selector that does not parse with 400 bad_selector naming the position', () => {
    let refusal: unknown;
    try {
      parseQuery(new URLSearchParams({ selector: 'team in billing' }));
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(ApiError);
    expect(refusal).toMatchObject({ status: 400, code: 'API_BAD_REQUEST' });
    expect((refusal as Error).message).toBe('selector=team in billing: at character 9: found "billing", expected "(" and a list of values');
  });
});

describe('labels as metric labels, only when asked', () => {
  const source: MetricsSource = {
    entries: () => ({ enabled: 2, disabled: 0, paused: 0 }),
    nextFires: () => [
      ['billing', 1_000],
      ['plain', 2_000],
    ],
    nextFire: () => undefined,
    labels: (entry: string): Record<string, string> =>
      entry === 'billing' ? { team: 'billing', 'example.com/tier': 'critical', other: 'x' } : {},
  };
  it('exports tsbeat_entry_labels with the keys metricsLabelKeys names, and nothing without it', async () => {
    const config = parseConfig({ name: 'm', metricsLabelKeys: ['team', 'example.com/tier'] }, 'test');
    const keys = config.metricsLabelKeys?.map((k) => [k, metricLabelName(k)] as const);
    const metrics = new BeatMetrics({ processMetrics: false, labelKeys: keys });
    metrics.readScheduleFrom(source);
    const text = await metrics.registry.metrics();
    expect(text).toContain('tsbeat_entry_labels{entry="billing",label_team="billing",label_example_com_tier="critical"} 1');
    expect(text).toContain('tsbeat_entry_labels{entry="plain",label_team="",label_example_com_tier=""} 1');
    expect(text).not.toContain('label_other');
    const plain = new BeatMetrics({ processMetrics: false });
    plain.readScheduleFrom(source);
    expect(await plain.registry.metrics()).not.toContain('tsbeat_entry_labels');
  });
  it('refuses a bad key and two keys that become one metric label', () => {
    expect(() => parseConfig({ metricsLabelKeys: ['a.b', 'a_b', '-x'] }, 'test')).toThrow(
      /metricsLabelKeys\[1\]: label keys "a\.b" and "a_b" both become the metric label label_a_b[\s\S]*metricsLabelKeys\[2\]: label key "-x"/,
    );
  });
});

describe('the source label through shape sharing', () => {
  it('gives every entry of a shared shape its source label, RedBeat and django alike', () => {
    for (const origin of ['redbeat', 'django'] as const) {
      const resolver = new ShapeResolver(origin, { zone: 'UTC', deployment: 'default' });
      const shapes = new EntryShapes();
      const names = ['a', 'b', 'c'].map((name, i) => {
        const parsed = shapes.parse({ task: 'x.y', schedule: 60, args: [i] });
        if (!parsed.ok) throw new Error('invalid');
        return resolver.resolve(name, parsed, { incarnation: `i${i}`, revision: `@i${i}` });
      });
      expect(names.map((e) => e.labels)).toEqual([{ source: origin }, { source: origin }, { source: origin }]);
    }
  });
});
