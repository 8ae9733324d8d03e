/** What a scan in slices (src/base/chunks.ts: a generator that yields between them) returns, run to its end in one go. */
export function drain<T>(scan: Generator<void, T>): T {
  for (;;) {
    const step = scan.next();
    if (step.done === true) return step.value;
  }
}
