#!/usr/bin/env bash
# A whole `oni run` for SECONDS with training on and no LLM, then its throughput over the
# second half of the run, from the learner's counters (as sample-factory-side-by-side.sh
# measures): environment steps per second, samples trained per second, the median policy lag.
#
#   bash deploy/tools/run-throughput.sh NAME SECONDS [oni run options…]
#   bash deploy/tools/run-throughput.sh nethack 100 --env nethack:score
#
# ONI_BIN (default .build/release) names the build, so two builds can be timed back to back;
# the run directory is ${ONI_EXPERIMENTS:-runs/experiments}/throughput-NAME. Tools only, not CI;
# never time two at once.
set -euo pipefail
name=$1 seconds=$2
shift 2
bin=${ONI_BIN:-.build/release}
dir=${ONI_EXPERIMENTS:-runs/experiments}/throughput-$name
rm -rf "$dir"
mkdir -p "$(dirname "$dir")"
"$bin/oni" run --llm none --max-env-steps 0 --run-dir "$dir" "$@" > "$dir.log" 2>&1 &
pid=$!
sleep "$seconds"
kill -INT "$pid"
wait "$pid" || true
python3 - "$dir/metrics.jsonl" "$seconds" "$name" <<'PY'
import json, statistics, sys
path, seconds, name = sys.argv[1], float(sys.argv[2]), sys.argv[3]
rows = [json.loads(line) for line in open(path) if line.strip()]
first = rows[0]["unix_ms"]
half = [r for r in rows if seconds * 500 <= r["unix_ms"] - first <= seconds * 1000]
if len(half) < 2:
    sys.exit(f"{name}: too few metrics in the second half of the run; see {path}")
elapsed = (half[-1]["unix_ms"] - half[0]["unix_ms"]) / 1000
def series(key):
    return [r["values"][key] for r in half if key in r["values"]]
env = (half[-1]["env_steps"] - half[0]["env_steps"]) / elapsed
trained = series("learner/samples_trained")
trained_rate = (trained[-1] - trained[0]) / elapsed if len(trained) > 1 else float("nan")
lag = statistics.median(series("learner/policy_lag") or [float("nan")])
print(f"{name:24s} env steps/s {env:7.0f}  samples trained/s {trained_rate:7.0f}  policy lag {lag:5.1f}")
PY
