// Timestamps from Redis itself (TIME), so that both schedulers are judged by the same clock, the
// one of the server that receives their messages.
export async function redisNowMs(redis) {
  const [s, us] = await redis.time();
  return Number(s) * 1000 + Number(us) / 1000;
}

/**
 * Polls LLEN of the given lists (summed) with TIME in the same pipeline, about every millisecond, until `expected` messages
 * are there or `timeoutMs` passes; returns Redis times of the first and the last arrival.
 */
export async function watchArrivals(redis, keys, expected, timeoutMs) {
  let first;
  let last;
  let count = 0;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const pipe = redis.pipeline();
    for (const key of keys) pipe.llen(key);
    pipe.time();
    const replies = await pipe.exec();
    const [s, us] = replies[replies.length - 1][1];
    const at = Number(s) * 1000 + Number(us) / 1000;
    count = replies.slice(0, -1).reduce((n, [, v]) => n + Number(v), 0);
    if (count > 0 && first === undefined) first = at;
    if (count >= expected) {
      last = at;
      break;
    }
    // A millisecond between polls: polling flat out took a core and much of Redis from the
    // scheduler being measured, on a 2-core machine.
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return { first, last, count };
}

/** Consumes a list with BRPOP, recording the Redis time of each arrival and the decoded message. */
export async function consume(redis, key, untilMs, onMessage) {
  for (;;) {
    const left = untilMs - Date.now();
    if (left <= 0) return;
    const popped = await redis.brpop(key, Math.max(0.05, Math.min(1, left / 1000)));
    if (!popped) continue;
    const at = await redisNowMs(redis);
    onMessage(JSON.parse(popped[1]), at);
  }
}

export function headersOf(envelope) {
  return envelope.headers ?? {};
}
