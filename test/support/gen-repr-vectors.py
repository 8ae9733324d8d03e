"""Regenerates test/unit/fixtures/saferepr-vectors.json with Celery's own saferepr.

Each case is JSON text as tsbeat sends it (JSON.stringify output: integers below 1e21 as digits),
decoded the way a worker decodes it. Empty args are the tuple () because beat's as_task_v2 does
`args or ()`. Run: /usr/bin/python3 test/support/gen-repr-vectors.py
"""
import json
import pathlib

from celery.utils.saferepr import saferepr

CASES = [
    '[2,3]',
    '[]',
    '[null,true,false,0,-1,1.5,0.1,0.00001,0.0001,10000000000000000,1e+21,123456789.123,9007199254740991,-9007199254740991,1e-7,-0.5,100.25]',
    '["it\'s","say \\"hi\\"","back\\\\slash","new\\nline","w\\u00f6rld \\u2603","emoji \\ud83d\\ude00","","both \' and \\""]',
    '[[1,[2,[3,[4,[5]]]]],{"a":{"b":{"c":{"d":1}}}}]',
    '{"k":"v","n":[1,2],"e":{},"l":[],"it\'s":1}',
    json.dumps(["word " * 300]),
    json.dumps(["a" * 1023]),
    json.dumps(["a" * 1022]),
    json.dumps(["a" * 2000, 1, [2, 3]]),
    json.dumps([list(range(500))]),
    json.dumps([{"k%d" % i: "v" * 20 for i in range(60)}]),
    json.dumps([[["x" * 1100]], 5]),
    json.dumps(["\U0001F600" * 1100]),
]

out = []
for text in CASES:
    value = json.loads(text)
    if isinstance(value, list) and not value:
        value = ()
    out.append({"json": text, "repr": saferepr(value, 1024)})
target = pathlib.Path(__file__).resolve().parent.parent / "unit" / "fixtures" / "saferepr-vectors.json"
target.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
print(f"wrote {len(out)} vectors to {target}")
