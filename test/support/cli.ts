/** Runs the CLI in-process with a captured Io, or as a real process against the built dist/. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/commands/main.js';
import type { Io } from '../../src/commands/io.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(argv: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; now?: number } = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    out: (t) => {
      stdout += t.endsWith('\n') ? t : `${t}\n`;
    },
    err: (t) => {
      stderr += t.endsWith('\n') ? t : `${t}\n`;
    },
    env: options.env ?? {},
    cwd: options.cwd ?? repoRoot,
    now: () => options.now ?? Date.parse('2026-11-21T06:00:00Z'),
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const builtCli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

/** The built binary, as users run it (the test script builds first). */
export function spawnCli(argv: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): CliResult {
  const r = spawnSync(process.execPath, [builtCli, ...argv], {
    cwd: options.cwd ?? repoRoot,
    env: { PATH: process.env.PATH ?? '', ...options.env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
