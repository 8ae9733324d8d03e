/**
 * A preload (`node --import`) that reports the main thread's event-loop stalls: each gap of 20 ms or
 * more between two turns of a 5 ms timer, as one JSON line on stderr (`{"loopStallMs":…,"endedAtMs":…}`),
 * which BeatProcess keeps among its text lines. prom-client's lag metric samples every 100 ms (the
 * scheduler's own setting), too coarse to tell a 60 ms stall from a 140 ms one.
 */
import { isMainThread } from 'node:worker_threads';

if (isMainThread) {
  let last = performance.now();
  setInterval(() => {
    const now = performance.now();
    if (now - last >= 20) process.stderr.write(`${JSON.stringify({ loopStallMs: Math.round(now - last), endedAtMs: Date.now() })}\n`);
    last = now;
  }, 5).unref();
}
