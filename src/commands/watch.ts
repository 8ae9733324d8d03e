/**
 * Watching the config file for `beat run --watch`. Polling (once a second) rather than inotify: a
 * Kubernetes ConfigMap is updated by swapping a symlink, which inotify on the old file never sees.
 */
import { unwatchFile, watchFile as fsWatchFile } from 'node:fs';

const POLL_MS = 1000;

/** Calls `onChange` when the file's content may have changed; returns the function that stops watching. */
export function watchFile(path: string, onChange: () => void): () => void {
  const listener = (
    current: { mtimeMs: number; size: number; ino: number },
    previous: { mtimeMs: number; size: number; ino: number },
  ): void => {
    if (current.mtimeMs !== previous.mtimeMs || current.size !== previous.size || current.ino !== previous.ino) onChange();
  };
  fsWatchFile(path, { interval: POLL_MS, persistent: false }, listener);
  return () => unwatchFile(path, listener);
}
