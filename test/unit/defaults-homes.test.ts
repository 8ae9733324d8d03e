/**
 * DEFAULTS is assembled from the modules by subject (src/base/defaults-*.ts): every one of them is
 * part of it, and no default is defined in two of them (a spread would silently keep the later).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../src/base/defaults.js';

const BASE = join(import.meta.dirname, '..', '..', 'src', 'base');

describe('the homes of the defaults', () => {
  it('every defaults-*.ts module is in DEFAULTS, and each default has exactly one home', async () => {
    const files = readdirSync(BASE).filter((f) => /^defaults-.+\.ts$/.test(f));
    expect(files.length).toBeGreaterThan(5);
    const homes = new Map<string, string[]>();
    for (const file of files) {
      const module = (await import(join(BASE, file))) as Record<string, Record<string, unknown>>;
      const parts = Object.values(module);
      expect(parts, file).toHaveLength(1);
      for (const [key, value] of Object.entries(parts[0] ?? {})) {
        homes.set(key, [...(homes.get(key) ?? []), file]);
        expect(DEFAULTS[key as keyof typeof DEFAULTS], `${file}: ${key}`).toBe(value);
      }
    }
    expect([...homes].filter(([, where]) => where.length > 1)).toEqual([]);
    expect([...homes.keys()].sort()).toEqual(Object.keys(DEFAULTS).sort());
  });
});
