/**
 * Instants as a terminal shows them without --wide (status, history, entries list): relative to now,
 * as a glance reads them; --wide and --json give the ISO 8601 instant.
 */

/** "in 45 s", "in 3 m", "2 h ago", "in 4 d": the whole unit below the next one, as a glance needs. */
export function relativeText(atMs: number, nowMs: number): string {
  const ms = atMs - nowMs;
  const abs = Math.abs(ms);
  const amount =
    abs < 60_000
      ? `${Math.round(abs / 1000)} s`
      : abs < 3_600_000
        ? `${Math.floor(abs / 60_000)} m`
        : abs < 2 * 86_400_000
          ? `${Math.floor(abs / 3_600_000)} h`
          : `${Math.floor(abs / 86_400_000)} d`;
  if (amount === '0 s') return 'now';
  return ms > 0 ? `in ${amount}` : `${amount} ago`;
}
