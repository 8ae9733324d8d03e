// bench/RESULTS.md is written by several benches, each owning one section between its markers; what a
// person wrote around them stays.

/**
 * `text` with the section between `begin` and `end` replaced by `generated`; a section not there yet
 * goes, under `heading`, before "## Running the benchmarks" (or at the end).
 */
export function withSection(text, { begin, end, heading }, generated) {
  const body = `${begin}\n${generated.trim()}\n${end}`;
  const from = text.indexOf(begin);
  const to = text.indexOf(end);
  if (from >= 0 && to > from) return text.slice(0, from) + body + text.slice(to + end.length);
  const section = `## ${heading}\n\n${body}\n`;
  const running = text.indexOf('\n## Running the benchmarks');
  return running < 0 ? `${text.trimEnd()}\n\n${section}` : `${text.slice(0, running)}\n${section}${text.slice(running)}`;
}
