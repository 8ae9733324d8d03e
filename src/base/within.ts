/**
 * A wait with a bound: what `work` settles to, or what `late()` gives (or throws) once `ms` have
 * passed without it, whichever comes first. The timer is cleared either way, so that a bounded
 * wait that ended early holds nothing open; `unref` lets the process exit while it still runs.
 */
export async function within<T, U>(work: PromiseLike<T>, ms: number, late: () => U, options: { unref?: boolean } = {}): Promise<T | U> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<U>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(late());
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    }, ms);
    if (options.unref === true) timer.unref();
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
