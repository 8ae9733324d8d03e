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

/** Polls (about every millisecond) until `key` exists; returns the Redis time it was first seen, or undefined after `timeoutMs`. */
export async function watchKey(redis, key, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const [[, exists], [, time]] = await redis.pipeline().exists(key).time().exec();
    if (exists === 1) return Number(time[0]) * 1000 + Number(time[1]) / 1000;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return undefined;
}

/** Consumes a list with BRPOP, recording the Redis time of each arrival (TIME right after the pop) and the decoded message. */
export async function consume(redis, key, untilMs, onMessage) {
  for (;;) {
    const left = untilMs - Date.now();
    if (left <= 0) return;
    // TIME in the same pipeline runs the moment BRPOP is served (a blocked client's next command
    // waits in its buffer): the arrival time without a round trip of the consumer in it.
    const [[popError, popped], [timeError, time]] = await redis
      .pipeline()
      .brpop(key, Math.max(0.05, Math.min(1, left / 1000)))
      .time()
      .exec();
    if (popError || timeError) throw popError ?? timeError;
    if (!popped) continue;
    onMessage(JSON.parse(popped[1]), Number(time[0]) * 1000 + Number(time[1]) / 1000);
  }
}

export function headersOf(envelope) {
  return envelope.headers ?? {};
}
