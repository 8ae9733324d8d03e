/**
 * The lease's safety margin: a leader stops publishing this long before its lock could expire for
 * the other replicas (src/redis/leadership.ts), and the config requires renewals to come at least
 * twice within what is left (lock.renewEvery, src/config/schema.ts).
 */

/** The least margin, whatever the ttl: a renewal's round trip and a busy event loop fit in it. */
const LEASE_MARGIN_FLOOR_MS = 250;

/** The margin for a lock of `ttlMs`: a fifth of it, and at least LEASE_MARGIN_FLOOR_MS. */
export function leaseMarginMs(ttlMs: number): number {
  return Math.max(LEASE_MARGIN_FLOOR_MS, Math.floor(ttlMs / 5));
}
