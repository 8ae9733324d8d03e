/**
 * A workaround for an ioredis bug about what a closed connection leaves behind. Every client tsbeat
 * makes goes through `settleOnClose`. Remove it once the installed ioredis fixes it;
 * test/integration/ioredis-close.test.ts has a test showing the bug that fails from that day.
 *
 * With `autoResendUnfulfilledCommands: false` (the broker transport: a publish script must never
 * run twice), the commands awaiting a reply when a connection closes are dropped when the next
 * connection is ready, but their promises are never settled: a publish awaited forever, and the
 * scheduler with it, after a connection reset that the first retry repaired. (ioredis rejects them
 * only when a retry fails.) They are rejected here when the connection closes; the caller retries,
 * and the fenced scripts make a retry of a run that did land harmless.
 *
 * (Up to ioredis 5 a second one cleared the socketTimeout timer that outlived a closed connection
 * and later destroyed the reconnected one, redis/ioredis#2147; ioredis 6 does that itself, #2148.)
 */
import type { Redis } from 'ioredis';

/** The private parts of an ioredis 6 client this module reaches (lib/Redis.ts). */
interface ClientInternals {
  commandQueue: { length: number };
  flushQueue(error: Error, options?: { offlineQueue?: boolean; commandQueue?: boolean }): void;
}

export function settleOnClose(client: Redis): Redis {
  const internals = client as unknown as ClientInternals;
  const resends = client.options.autoResendUnfulfilledCommands !== false;
  // ioredis emits 'close' on the tick after the socket closed, well before the next connection
  // (at least one retry delay away) replaces the command queue: it still holds this connection's.
  client.on('close', () => {
    if (!resends && internals.commandQueue.length > 0) {
      internals.flushQueue(new Error('the connection closed before Redis replied; not resent'), { offlineQueue: false });
    }
  });
  return client;
}
