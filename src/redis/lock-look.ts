/**
 * Whether a lock is free, as a replica sees it that may not take it yet (partitions > 1: a partition
 * that the map gives to another replica, service/partition-seats.ts). Free when more than half of
 * the lock's servers hold no key: when an attempt could take it (redlock's quorum). One EXISTS on
 * each server, nothing written. A server that does not answer counts as holding it: a look that
 * cannot tell must not start the fallback's grace.
 */
import type { Redis } from 'ioredis';

export async function lockFree(clients: readonly Redis[], key: string): Promise<boolean> {
  const absent = await Promise.all(
    clients.map((client) =>
      client.exists(key).then(
        (n) => n === 0,
        () => false,
      ),
    ),
  );
  return absent.filter(Boolean).length > clients.length / 2;
}
