import { describe, expect, it } from 'vitest';
import { MinHeap } from '../../src/core/heap.js';
import { prng } from '../support/prng.js';

interface Item {
  key: number;
  rank?: number;
  heapIndex: number;
  readonly name: number;
}

describe('MinHeap', () => {
  it('pops in key order, upTo(limit) finds exactly the items at or below the limit and firstKeyAbove(limit) the least key above it, through pushes, updates and removes', () => {
    const next = prng(42);
    const heap = new MinHeap<Item>();
    const items: Item[] = Array.from({ length: 500 }, (_, name) => ({ key: 0, heapIndex: -1, name }));
    for (const item of items) heap.update(item, Math.floor(next() * 1000));
    for (let round = 0; round < 200; round += 1) {
      const item = items[Math.floor(next() * items.length)] as Item;
      if (next() < 0.2) heap.remove(item);
      else heap.update(item, Math.floor(next() * 1000));
      const limit = Math.floor(next() * 1000);
      const expected = items
        .filter((i) => heap.has(i) && i.key <= limit)
        .map((i) => i.name)
        .sort((a, b) => a - b);
      expect(
        heap
          .upTo(limit)
          .map((i) => i.name)
          .sort((a, b) => a - b),
      ).toEqual(expected);
      const above = items.filter((i) => heap.has(i) && i.key > limit).map((i) => i.key);
      expect(heap.firstKeyAbove(limit)).toBe(above.length === 0 ? undefined : Math.min(...above));
    }
    const keys: number[] = [];
    for (let top = heap.pop(); top !== undefined; top = heap.pop()) keys.push(top.key);
    expect(keys).toEqual([...keys].sort((a, b) => a - b));
    expect(heap.upTo(Infinity)).toEqual([]);
    expect(heap.firstKeyAbove(-Infinity)).toBeUndefined();
  });

  it('takes the items of one key by rank, smallest first, and an item without a rank as rank 0', () => {
    const heap = new MinHeap<Item>();
    const random = prng(7);
    const items: Item[] = Array.from({ length: 300 }, (_, name) => ({
      key: 1000 * Math.floor(random() * 3),
      ...(name % 10 === 0 ? {} : { rank: Math.floor(random() * 50) }),
      heapIndex: -1,
      name,
    }));
    for (const item of items) heap.push(item);
    // Re-keying keeps the order too.
    for (const item of items.slice(0, 50)) heap.update(item, item.key);
    const order: [number, number][] = [];
    for (let item = heap.pop(); item !== undefined; item = heap.pop()) order.push([item.key, item.rank ?? 0]);
    expect(order).toEqual([...order].sort((a, b) => a[0] - b[0] || a[1] - b[1]));
  });
});
