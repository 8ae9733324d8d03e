/**
 * The exposition of /metrics narrowed to the entries a reader may see: every sample whose `entry`
 * label names an entry `keep` refuses is dropped, and every sample without one whose `queue` label
 * names a queue `keepQueue` refuses (a queue none of the reader's entries publishes to: another
 * team's queue names are theirs too); the rest (HELP and TYPE lines, the deployment's own series,
 * the series of entries and queues kept) are passed through as prom-client wrote them.
 *
 * The text is read line by line rather than through prom-client's metric objects: the registry
 * renders once for every reader, the collect callbacks (which read Redis) run once, and the filter
 * only has to know the text format's label syntax (`name{a="v",…} value`, values escaped as
 * `\\`, `\"`, `\n`), which is fixed by the format, not by prom-client.
 */

/** The value of the `entry` label of a sample line, unescaped; undefined when the line has none (or is not a sample). */
export function entryLabelOf(line: string): string | undefined {
  return labelOf(line, 'entry');
}

/** The value of the label `wanted` of a sample line, unescaped; undefined when the line has none (or is not a sample). */
export function labelOf(line: string, wanted: string): string | undefined {
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
    if (name === wanted) return value;
    // Past the closing quote, then the comma between labels (or the closing brace).
    at = i + 1;
    if (line[at] === ',') at += 1;
  }
  return undefined;
}

/** `text` without the samples of entries `keep` refuses, nor those of queues `keepQueue` refuses. */
export function entrySeriesOnly(
  text: string,
  keep: (entry: string) => boolean,
  keepQueue: (queue: string) => boolean = () => true,
): string {
  // Several series per entry (counters by state, a histogram's buckets): one decision each.
  const verdicts = { entry: new Map<string, boolean>(), queue: new Map<string, boolean>() };
  const decided = (kind: 'entry' | 'queue', value: string): boolean => {
    let kept = verdicts[kind].get(value);
    if (kept === undefined) {
      kept = kind === 'entry' ? keep(value) : keepQueue(value);
      verdicts[kind].set(value, kept);
    }
    return kept;
  };
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const entry = entryLabelOf(line);
    const queue = entry === undefined ? labelOf(line, 'queue') : undefined;
    if (entry !== undefined ? decided('entry', entry) : queue === undefined || decided('queue', queue)) out.push(line);
  }
  return out.join('\n');
}
