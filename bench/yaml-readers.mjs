// The ways the `yaml` library (the one YAML reader, issue 48) reads the same config of N mixed
// entries, in one process, alternately over the rounds (medians): what src/config/yaml.ts does
// (parseDocument without a LineCounter, errors not made pretty, then toJS), the same with the
// LineCounter a problem's line needs, `parse`, and the library's lower layers alone (its lexer, its
// CST parser, its composer), below which no use of its public API reads a value.
//
//   node bench/yaml-readers.mjs [N=20000] [--rounds 3]
import { parseArgs } from 'node:util';
import { Composer, LineCounter, Lexer, Parser, parse, parseDocument, stringify } from 'yaml';
import { mixedConfig } from './lib/entries.mjs';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { rounds: { type: 'string', default: '3' } } });
const n = Number(positionals[0] ?? 20_000);
const text = stringify(mixedConfig(n));
// As src/config/yaml.ts reads a config.
const options = { intAsBigInt: true, merge: true, resolveKnownTags: false, uniqueKeys: false };
const count = (iterable) => {
  let k = 0;
  for (const _ of iterable) k += 1;
  return k;
};
const OURS = 'parseDocument + toJS, no LineCounter (tsbeat)';
const CASES = {
  [OURS]: () => parseDocument(text, { ...options, prettyErrors: false }).toJS({ maxAliasCount: -1 }),
  'parseDocument + toJS, with a LineCounter': () =>
    parseDocument(text, { ...options, lineCounter: new LineCounter() }).toJS({ maxAliasCount: -1 }),
  'parse (default: a LineCounter for pretty errors)': () => parse(text, { ...options, maxAliasCount: -1 }),
  'Composer alone (Documents, no values)': () => count(new Composer(options).compose(new Parser().parse(text))),
  'Parser alone (the CST)': () => count(new Parser().parse(text)),
  'Lexer alone (tokens)': () => count(new Lexer().lex(text)),
};
const times = Object.fromEntries(Object.keys(CASES).map((k) => [k, []]));
for (let round = 0; round < Number(values.rounds); round += 1)
  for (const [label, run] of Object.entries(CASES)) {
    const started = performance.now();
    run();
    times[label].push(performance.now() - started);
  }
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = median(times[OURS]);
console.log(`${n} entries, ${(text.length / 1e6).toFixed(1)} MB of YAML, medians of ${values.rounds} rounds`);
console.log('| reader | ms | × tsbeat |\n|---|---|---|');
for (const [label, xs] of Object.entries(times))
  console.log(`| ${label} | ${median(xs).toFixed(0)} | ${(median(xs) / base).toFixed(2)}× |`);
