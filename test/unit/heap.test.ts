import { describe, expect, it } from 'vitest';
import { MinHeap } from '../../src/core/heap.js';
import { prng } from '../support/prng.js';

interface Item {
  key: number;
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
});
