/**
 * An indexed binary min-heap: items ordered by a numeric key, each knowing its own position so that
 * it can be re-keyed or removed in O(log n). The runner keeps every entry here by next due time, so
 * a tick looks only at the entries that are due, never scans the schedule.
 */
export interface HeapItem {
  /** Ordering key (the next due instant, epoch ms). */
  key: number;
  /** Orders items of one key, smallest first (the runner: an entry's period, so that at an instant shared by many the frequent ones go first). */
  rank?: number;
  /** Position in the heap, -1 when not in it. Managed by the heap. */
  heapIndex: number;
}

/** Whether `a` comes out of the heap before `b`: a smaller key, or the same key and a smaller rank. */
function before(a: HeapItem, b: HeapItem): boolean {
  return a.key < b.key || (a.key === b.key && (a.rank ?? 0) < (b.rank ?? 0));
}

export class MinHeap<T extends HeapItem> {
  private readonly items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  has(item: T): boolean {
    return item.heapIndex >= 0 && this.items[item.heapIndex] === item;
  }

  push(item: T): void {
    item.heapIndex = this.items.length;
    this.items.push(item);
    this.up(item.heapIndex);
  }

  pop(): T | undefined {
    const top = this.items[0];
    if (top !== undefined) this.remove(top);
    return top;
  }

  /**
   * The items with a key at or below `limit` (at most `most` of them), in no particular order.
   * Visits only those and their children (a subtree whose root is above the limit holds nothing at
   * or below it).
   */
  upTo(limit: number, most = Number.POSITIVE_INFINITY): T[] {
    const found: T[] = [];
    const stack: number[] = this.items.length > 0 ? [0] : [];
    for (let i = stack.pop(); i !== undefined && found.length < most; i = stack.pop()) {
      const item = this.items[i] as T;
      if (item.key > limit) continue;
      found.push(item);
      const left = 2 * i + 1;
      if (left < this.items.length) stack.push(left);
      if (left + 1 < this.items.length) stack.push(left + 1);
    }
    return found;
  }

  /**
   * The smallest key above `limit`, undefined when no item has one. Visits what upTo(limit) visits:
   * the items at or below the limit and the roots of the subtrees above it, the least of which is
   * the answer.
   */
  firstKeyAbove(limit: number): number | undefined {
    let first: number | undefined;
    const stack: number[] = this.items.length > 0 ? [0] : [];
    for (let i = stack.pop(); i !== undefined; i = stack.pop()) {
      const { key } = this.items[i] as T;
      if (key > limit) {
        if (first === undefined || key < first) first = key;
        continue;
      }
      const left = 2 * i + 1;
      if (left < this.items.length) stack.push(left);
      if (left + 1 < this.items.length) stack.push(left + 1);
    }
    return first;
  }

  /** Removes the item if present. */
  remove(item: T): void {
    if (!this.has(item)) return;
    const index = item.heapIndex;
    const last = this.items.pop() as T;
    item.heapIndex = -1;
    if (last === item) return;
    this.items[index] = last;
    last.heapIndex = index;
    this.up(index);
    this.down(last.heapIndex);
  }

  /** Changes an item's key (inserting it if absent). */
  update(item: T, key: number): void {
    item.key = key;
    if (!this.has(item)) {
      this.push(item);
      return;
    }
    this.up(item.heapIndex);
    this.down(item.heapIndex);
  }

  private swap(a: number, b: number): void {
    const x = this.items[a] as T;
    const y = this.items[b] as T;
    this.items[a] = y;
    this.items[b] = x;
    x.heapIndex = b;
    y.heapIndex = a;
  }

  private up(index: number): void {
    let i = index;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(this.items[i] as T, this.items[parent] as T)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(index: number): void {
    let i = index;
    const n = this.items.length;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) return;
      const right = left + 1;
      let smallest = left;
      if (right < n && before(this.items[right] as T, this.items[left] as T)) smallest = right;
      if (!before(this.items[smallest] as T, this.items[i] as T)) return;
      this.swap(i, smallest);
      i = smallest;
    }
  }
}
