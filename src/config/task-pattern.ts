/**
 * A `task_routes` pattern as Celery reads it: an exact task name, a glob (fnmatch: `*`, `?`,
 * `[...]`), or a regular expression between slashes. The schema compiles each pattern to refuse a
 * bad one; the routes compile them once to match task names.
 */
const REGEX_PATTERN = /^\/(.*)\/([a-z]*)$/s;

/** Throws a SyntaxError naming the problem when a /regex/ pattern does not compile. */
export function compilePattern(pattern: string): (task: string) => boolean {
  const regex = REGEX_PATTERN.exec(pattern);
  if (regex) {
    const re = new RegExp(regex[1] ?? '', regex[2]);
    // Celery uses re.match: anchored at the start only.
    return (task) => {
      const m = re.exec(task);
      return m !== null && m.index === 0;
    };
  }
  if (/[*?[]/.test(pattern)) {
    const re = new RegExp(`^${globToRegexSource(pattern)}$`, 's');
    return (task) => re.test(task);
  }
  return (task) => task === pattern;
}

function globToRegexSource(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i += 1) {
    const c = glob[i] ?? '';
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end === -1) out += '\\[';
      else {
        let body = glob.slice(i + 1, end);
        if (body.startsWith('!')) body = `^${body.slice(1)}`;
        out += `[${body.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else out += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return out;
}
