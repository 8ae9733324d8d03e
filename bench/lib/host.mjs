// How much CPU the hypervisor took from this machine while a workload ran. On a shared host a
// figure can be slow because the machine was, not the scheduler: /proc/stat's steal column says so.
import { readFileSync } from 'node:fs';

/** The machine's CPU time so far, in clock ticks: all of it and the part stolen; undefined off Linux. */
export function cpuTicks() {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
    // cpu  user nice system idle iowait irq softirq steal guest guest_nice
    const fields = line.trim().split(/\s+/).slice(1, 9).map(Number);
    if (fields.length < 8 || fields.some((n) => !Number.isFinite(n))) return undefined;
    return { total: fields.reduce((sum, n) => sum + n, 0), steal: fields[7] };
  } catch {
    return undefined;
  }
}

/** The share of CPU time stolen between two readings of cpuTicks, as text ("3.2 %"), or "unknown". */
export function stealShare(before, after) {
  if (before === undefined || after === undefined || after.total <= before.total) return 'unknown';
  return `${((100 * (after.steal - before.steal)) / (after.total - before.total)).toFixed(1)} %`;
}
