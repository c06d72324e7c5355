#!/usr/bin/env python3
"""validate_schema.py — every hints file we ship or pin (hints/examples, test/analyzer/golden)
and a fresh hmt-analyze run validate against hints/tier_hints.schema.json, and a few broken
files do not. Exit 77 (skip) only when the jsonschema module is not installed.
usage: validate_schema.py SOURCE_DIR HMT_ANALYZE OUT_DIR"""
import glob
import json
import os
import subprocess
import sys

try:
    import jsonschema
except ImportError:
    print("skip: python3 jsonschema not installed")
    sys.exit(77)

src, tool, out = sys.argv[1:4]
schema = json.load(open(os.path.join(src, "hints/tier_hints.schema.json")))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
fresh = os.path.join(out, "schema-fresh.json")
subprocess.run([tool, "-q", "-o", fresh, "--per", "module",
                os.path.join(src, "test/data/nanogpt-small/ckpt.pt")], check=True)
files = sorted(glob.glob(os.path.join(src, "hints/examples/*.json")) +
               glob.glob(os.path.join(src, "test/analyzer/golden/*.json"))) + [fresh]
bad = 0
for f in files:
    errs = list(v.iter_errors(json.load(open(f))))
    if errs:
        print(f"FAIL {f}: {errs[0].message}")
        bad += 1
doc = json.load(open(fresh))
broken = []
for mutate in (lambda d: d.pop("tensors"),
               lambda d: d["tensors"][0].update(tier="GPU"),
               lambda d: d["tensors"][0]["fingerprints"].update(F32="XYZ"),
               lambda d: d.update(version=2),
               lambda d: d["modules"].update(x="fast")):
    d = json.loads(json.dumps(doc))
    mutate(d)
    broken.append(d)
for i, d in enumerate(broken):
    if v.is_valid(d):
        print(f"FAIL broken document {i} validated")
        bad += 1
print(f"{'ok' if not bad else 'FAIL'}: {len(files)} files valid, {len(broken)} broken ones refused")
sys.exit(1 if bad else 0)
