/**
 * Workarounds for three ioredis bugs about what a closed connection leaves behind. Every client
 * tsbeat makes goes through `settleOnClose`. Remove each part once the installed ioredis fixes it;
 * test/integration/ioredis-close.test.ts has a test for each bug that fails from that day.
 *
 * 1. With `socketTimeout`, ioredis arms one timer per client when it writes a command and clears it
 *    only when data arrives. When a connection closes with a command unanswered (Redis restarted,
 *    a stop in the middle of a renewal), the timer outlives the socket: when it fires it destroys
 *    whatever socket the client has by then, a healthy reconnected one (redis/ioredis#2147), and
 *    until then it holds a stopping process open (`beat.stop.lingering` with a `Timeout`).
 *    ioredis 6 clears it whenever a connection closes (#2148); so does this.
 * 2. With `autoResendUnfulfilledCommands: false` (the broker transport: a publish script must
 *    never run twice), the commands awaiting a reply when a connection closes are dropped when the
 *    next connection is ready, but their promises are never settled: a publish awaited forever,
 *    and the scheduler with it, after a connection reset that the first retry repaired. (ioredis
 *    rejects them only when a retry fails.) They are rejected here when the connection closes; the
 *    caller retries, and the fenced scripts make a retry of a run that did land harmless.
 * 3. With Sentinel and `failoverDetector` (see redis-url.ts), each connection subscribes to every
 *    sentinel; `quit()` closes the connection to Redis but not those subscriptions (only
 *    `disconnect()` tells the connector), so a stopped process was held open by them
 *    (`beat.stop.lingering` with one `TCPSocketWrap` per sentinel and connection): when a client
 *    ends for good they are closed here. And after a failover the connector cleaned the old
 *    subscriptions up twice (when the switch is announced, and again at the next connection); the
 *    second time each closed client armed a 2 s timer for a 'close' that had already happened,
 *    which held a process stopped within 2 s of a failover (one `Timeout` per sentinel and
 *    connection): the connector forgets its subscriptions once it has cleaned them up.
 */
import type { Redis } from 'ioredis';

/** The private parts of an ioredis 5 client this module reaches (lib/Redis.ts). */
interface ClientInternals {
  socketTimeoutTimer?: ReturnType<typeof setTimeout> | undefined;
  commandQueue: { length: number };
  flushQueue(error: Error, options?: { offlineQueue?: boolean; commandQueue?: boolean }): void;
  /** A SentinelConnector (lib/connectors/SentinelConnector) has `failoverDetector`. */
  connector: { disconnect(): void; failoverDetector?: { cleanup(): void } | null };
}

export function settleOnClose(client: Redis): Redis {
  const internals = client as unknown as ClientInternals;
  const resends = client.options.autoResendUnfulfilledCommands !== false;
  // ioredis emits 'close' on the tick after the socket closed, well before the next connection
  // (at least one retry delay away) replaces the command queue: it still holds this connection's.
  client.on('close', () => {
    if (internals.socketTimeoutTimer !== undefined) {
      clearTimeout(internals.socketTimeoutTimer);
      internals.socketTimeoutTimer = undefined;
    }
    if (!resends && internals.commandQueue.length > 0) {
      internals.flushQueue(new Error('the connection closed before Redis replied; not resent'), { offlineQueue: false });
    }
  });
  const connector = internals.connector;
  if ('failoverDetector' in connector) {
    const forget = (): void => {
      connector.failoverDetector?.cleanup();
      connector.failoverDetector = null;
    };
    const disconnect = connector.disconnect.bind(connector);
    connector.disconnect = () => {
      disconnect();
      connector.failoverDetector = null;
    };
    // 'end': the client will not reconnect (after quit() too, which leaves the subscriptions open).
    client.on('end', forget);
  }
  return client;
}
