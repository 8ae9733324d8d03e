import { describe, expect, it } from 'vitest';
import { randomDeliveryTag } from '../../src/kombu/delivery-tag.js';

describe('randomDeliveryTag', () => {
  it('gives lowercase random UUIDs (version 4, RFC variant), as kombu uuid() and randomUUID do, never twice', () => {
    // More than the 256 tags drawn at once: the pool is drawn again on the way.
    const tags = Array.from({ length: 3000 }, () => randomDeliveryTag());
    for (const tag of tags) expect(tag).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(tags).size).toBe(tags.length);
  });

  it('draws every hex digit of the random positions (not a constant or a narrowed range)', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 500; i += 1) for (const c of randomDeliveryTag().replace(/-/g, '')) seen.add(c);
    expect(seen.size).toBe(16);
  });
});
