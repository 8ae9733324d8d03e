// One YAML reader? (issue 48) The `yaml` library's layers, each alone, against js-yaml's whole read
// of the same config of N mixed entries, in one process, alternately over the rounds (medians):
// its lexer (tokens only), its parser (the CST), its composer (Documents, no JS values) and
// parseDocument + toJS. If even the lexer is slower than js-yaml's whole read, no lower-level use of
// `yaml` makes it the one fast reader.
//
//   node bench/yaml-readers.mjs [N=20000] [--rounds 3]
import { parseArgs } from 'node:util';
import jsyaml from 'js-yaml';
import { Composer, Lexer, Parser, parseDocument, stringify } from 'yaml';
import { mixedConfig } from './lib/entries.mjs';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { rounds: { type: 'string', default: '3' } } });
const n = Number(positionals[0] ?? 20_000);
const text = stringify(mixedConfig(n));
const count = (iterable) => {
  let k = 0;
  for (const _ of iterable) k += 1;
  return k;
};
const CASES = {
  'js-yaml load (the whole read)': () => jsyaml.load(text),
  'yaml: Lexer alone (tokens)': () => count(new Lexer().lex(text)),
  'yaml: Parser (CST)': () => count(new Parser().parse(text)),
  'yaml: Composer (Documents)': () => count(new Composer({ uniqueKeys: false }).compose(new Parser().parse(text))),
  'yaml: parseDocument + toJS': () => parseDocument(text, { uniqueKeys: false }).toJS(),
};
const times = Object.fromEntries(Object.keys(CASES).map((k) => [k, []]));
for (let round = 0; round < Number(values.rounds); round += 1)
  for (const [label, run] of Object.entries(CASES)) {
    const started = performance.now();
    run();
    times[label].push(performance.now() - started);
  }
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = median(times['js-yaml load (the whole read)']);
console.log(`${n} entries, ${(text.length / 1e6).toFixed(1)} MB of YAML, medians of ${values.rounds} rounds`);
console.log('| reader | ms | × js-yaml |\n|---|---|---|');
for (const [label, xs] of Object.entries(times))
  console.log(`| ${label} | ${median(xs).toFixed(0)} | ${(median(xs) / base).toFixed(1)}× |`);
