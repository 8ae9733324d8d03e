/**
 * A wall clock that a test steps while a beat process runs, as NTP (or an operator) steps a host's:
 * Debian's libfaketime, preloaded, reads its offset from a file on every clock read
 * (FAKETIME_NO_CACHE) and leaves the monotonic clock alone (FAKETIME_DONT_FAKE_MONOTONIC), which a
 * real step does not move either. Redis is not preloaded: its TIME stays right.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const FAKETIME_HINT = 'install libfaketime (apt-get install -y libfaketime; .ci/run does)';

/** The preloadable library, wherever the architecture's lib dir is; undefined when not installed. */
export function libfaketime(): string | undefined {
  for (const dir of ['/usr/lib', ...readdirSync('/usr/lib').map((d) => join('/usr/lib', d))]) {
    const lib = join(dir, 'faketime', 'libfaketime.so.1');
    if (existsSync(lib)) return lib;
  }
  return undefined;
}

export class SteppableClock {
  private readonly file: string;

  /** `dir`: where its control file goes. Starts right (offset +0). */
  constructor(dir: string, name: string) {
    this.file = join(dir, `${name}.faketime`);
    this.step('+0');
  }

  /** The environment that puts a process on this clock. */
  env(): NodeJS.ProcessEnv {
    const lib = libfaketime();
    if (lib === undefined) throw new Error(FAKETIME_HINT);
    return { LD_PRELOAD: lib, FAKETIME_TIMESTAMP_FILE: this.file, FAKETIME_NO_CACHE: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' };
  }

  /** Sets the offset from the real time, in libfaketime's relative form: "+3600s", "-20s", "+0". */
  step(offset: string): void {
    writeFileSync(this.file, `${offset}\n`);
  }
}
