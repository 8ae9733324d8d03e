/**
 * Entry names for imported jobs that have none of their own (crontab lines): derived from the
 * command, so that the same file always gives the same names, and made unique by a suffix in file
 * order (`backup-2`).
 */

/** Longest name derived from a command, before the prefix and a dedup suffix. */
const SLUG_MAX = 48;

/** Shell operators and redirections carry no meaning for a name. */
const NOISE = /^(?:&&|\|\||[|;&()]|\d*[<>]+&?\d*-?\S*|[<>].*)$/;

/**
 * `/usr/local/bin/backup.sh --full >/dev/null 2>&1` → `backup-sh-full`: words of the command,
 * paths reduced to their last part, redirections and shell operators dropped, lower case, runs of
 * anything but letters and digits as one dash, cut at a dash to at most 48 characters.
 */
export function slugFromCommand(command: string): string {
  const words = command
    .trim()
    .split(/\s+/)
    .filter((word) => word !== '' && !NOISE.test(word))
    .map((word) => (word.includes('/') ? (word.replace(/\/+$/, '').split('/').pop() ?? '') : word));
  const slug = words
    .join('-')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (slug.length <= SLUG_MAX) return slug === '' ? 'job' : slug;
  const cut = slug.slice(0, SLUG_MAX + 1);
  const dash = cut.lastIndexOf('-');
  return (dash > 0 ? cut.slice(0, dash) : slug.slice(0, SLUG_MAX)).replace(/-+$/, '');
}

/** Hands out names: the first `base` as it is, the next ones `base-2`, `base-3`, … never one already given. */
export class UniqueNames {
  private readonly taken = new Set<string>();

  constructor(private readonly prefix = '') {}

  next(base: string): string {
    const name = `${this.prefix}${base}`;
    let candidate = name;
    for (let n = 2; this.taken.has(candidate); n += 1) candidate = `${name}-${n}`;
    this.taken.add(candidate);
    return candidate;
  }
}
