#!/usr/bin/env bash
# One small benchmark run: chargegrid-bench must finish with exit status 0 (no CALLERROR,
# no timeout, no connect failure, no failed target) and every target must have answered
# CALLs in its window. Usage: smoke.sh RESULT_FILE chargegrid-bench ARGS...
set -euo pipefail
result=$1
shift
rm -f "$result"
"$@" --result "$result"
python3 - "$result" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
results = report["results"]
assert results, "no target ran"
for name, r in results.items():
    assert "failed" not in r, f"{name} failed: {r.get('failed')}"
    w = r["window"]
    assert w["messages"] > 0, f"{name}: no message answered in the window"
    assert w["call_errors"] == 0 and w["call_timeouts"] == 0, f"{name}: errors in the window"
    load = r["load"]
    assert load["connect_failures"] == 0 and load["call_timeouts"] == 0, f"{name}: load errors"
print("smoke:", ", ".join(f"{n} {r['window']['messages']:.0f} msgs" for n, r in results.items()))
PY
