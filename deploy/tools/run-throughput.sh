#!/usr/bin/env bash
# A whole `oni run` for SECONDS with training on and no LLM, then its throughput over the
# second half of the run, from the learner's counters (as sample-factory-side-by-side.sh
# measures): environment steps per second, samples trained per second, the median policy lag,
# and the CPU time the workers and the learner spent per env step (from /proc).
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
# CPU time of this run's workers and learner (clock ticks, every thread; `oni run` starts them
# as its children) and the env steps counted so far: less at the mercy of the neighbours than
# steps per second on a shared VM.
cpu() {
  local role=$1 total=0 p fields
  for p in $(pgrep -P "$pid" -x "oni-$role"); do
    read -ra fields < <(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null) || continue
    total=$((total + fields[11] + fields[12]))
  done
  echo "$total"
}
snapshot() { echo "$(cpu worker) $(cpu learner) $(tail -n 1 "$dir/metrics.jsonl" | grep -o '"env_steps":[0-9]*' | cut -d: -f2)"; }
sleep "$((seconds / 2))"
first=$(snapshot)
sleep "$((seconds - seconds / 2))"
last=$(snapshot)
kill -INT "$pid"
wait "$pid" || true
python3 - "$dir/metrics.jsonl" "$seconds" "$name" "$(getconf CLK_TCK)" $first $last <<'PY'
import json, statistics, sys
path, seconds, name = sys.argv[1], float(sys.argv[2]), sys.argv[3]
tick = 1e6 / float(sys.argv[4])
w0, l0, s0, w1, l1, s1 = map(float, sys.argv[5:11])
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
steps = max(s1 - s0, 1)
print(f"{name:24s} env steps/s {env:7.0f}  samples trained/s {trained_rate:7.0f}  policy lag {lag:5.1f}"
      f"  CPU µs per env step: workers {(w1 - w0) * tick / steps:5.1f}, learner {(l1 - l0) * tick / steps:5.1f}")
PY
