/**
 * The exposition of /metrics narrowed to the entries a reader may see: every sample whose `entry`
 * label names an entry `keep` refuses is dropped, the rest (HELP and TYPE lines, the deployment's
 * own series, the per-entry series of entries kept) are passed through as prom-client wrote them.
 *
 * The text is read line by line rather than through prom-client's metric objects: the registry
 * renders once for every reader, the collect callbacks (which read Redis) run once, and the filter
 * only has to know the text format's label syntax (`name{a="v",…} value`, values escaped as
 * `\\`, `\"`, `\n`), which is fixed by the format, not by prom-client.
 */

/** The value of the `entry` label of a sample line, unescaped; undefined when the line has none (or is not a sample). */
export function entryLabelOf(line: string): string | undefined {
  const open = line.indexOf('{');
  if (open === -1 || line.startsWith('#')) return undefined;
  let at = open + 1;
  while (at < line.length && line[at] !== '}') {
    const eq = line.indexOf('=', at);
    if (eq === -1 || line[eq + 1] !== '"') return undefined;
    const name = line.slice(at, eq).trim();
    let value = '';
    let i = eq + 2;
    for (; i < line.length && line[i] !== '"'; i += 1) {
      if (line[i] === '\\' && i + 1 < line.length) {
        i += 1;
        value += line[i] === 'n' ? '\n' : line[i];
      } else value += line[i];
    }
    if (name === 'entry') return value;
    // Past the closing quote, then the comma between labels (or the closing brace).
    at = i + 1;
    if (line[at] === ',') at += 1;
  }
  return undefined;
}

/** `text` without the samples of entries `keep` refuses. */
export function entrySeriesOnly(text: string, keep: (entry: string) => boolean): string {
  const verdicts = new Map<string, boolean>();
  const lines = text.split('\n');
  const out: string[] = [];
  for (const line of lines) {
    const entry = entryLabelOf(line);
    if (entry === undefined) {
      out.push(line);
      continue;
    }
    // Several series per entry (counters by state, a histogram's buckets): one decision each.
    let kept = verdicts.get(entry);
    if (kept === undefined) {
      kept = keep(entry);
      verdicts.set(entry, kept);
    }
    if (kept) out.push(line);
  }
  return out.join('\n');
}
