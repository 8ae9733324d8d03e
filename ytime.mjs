import { readFileSync } from 'node:fs';
import YAML, { LineCounter, parseDocument } from 'yaml';
const text = readFileSync('/tmp/big.yaml', 'utf8');
let t = performance.now(); YAML.parse(text, { intAsBigInt: true }); console.log('YAML.parse', Math.round(performance.now() - t), 'ms');
t = performance.now(); const lc = new LineCounter(); const d = parseDocument(text, { lineCounter: lc, intAsBigInt: true }); d.toJS(); console.log('parseDocument+toJS', Math.round(performance.now() - t), 'ms');
t = performance.now(); JSON.parse(readFileSync('/tmp/big.json','utf8')); console.log('JSON.parse', Math.round(performance.now() - t), 'ms');
