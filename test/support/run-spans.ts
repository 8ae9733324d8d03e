/**
 * What ran at once, from the spans the workers record of their runs (start and end, their own
 * clocks): the oracle of concurrency groups (concurrency-group.test.ts, retry-chaos.test.ts).
 */

/** The most runs that ran at once; an end and a start at the same instant are a place freed and taken, not two at once. */
export function mostAtOnce(runs: readonly { readonly start: number; readonly end: number }[]): number {
  const edges = runs.flatMap((r) => [
    [r.start, 1],
    [r.end, -1],
  ]);
  edges.sort((a, b) => (a[0] as number) - (b[0] as number) || (a[1] as number) - (b[1] as number));
  let now = 0;
  let most = 0;
  for (const [, step] of edges) {
    now += step as number;
    most = Math.max(most, now);
  }
  return most;
}
