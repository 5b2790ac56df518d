#!/usr/bin/env bash
# Time to 0.9 success for one configuration of `oni run`, one run per seed, one after another
# (never two experiments on the machine at once), then the table of
# deploy/tools/time-to-success.py. Rerunnable evidence for Sources/OniRuntime/OniRuntime.docc/Results.md.
#
#   bash deploy/tools/learning-table.sh NAME "SEEDS" MAX_ENV_STEPS [oni run flags…]
#   bash deploy/tools/learning-table.sh keyroom "1 2 3" 1000000 --env grid:keyroom --llm none
#
# Runs go to ${ONI_EXPERIMENTS:-runs/experiments}/NAME-sSEED; ONI_BIN (default .build/release)
# names the build. Vault runs with the local LLM want a cold label cache: pass
# --annotation-cache to a fresh file per run (the script substitutes {run} in flags).
set -euo pipefail
name=$1 seeds=$2 steps=$3
shift 3
bin=${ONI_BIN:-.build/release}
out=${ONI_EXPERIMENTS:-runs/experiments}
mkdir -p "$out"
runs=()
for seed in $seeds; do
  dir="$out/$name-s$seed"
  rm -rf "$dir"
  flags=()
  for f in "$@"; do flags+=("${f//\{run\}/$dir}"); done
  start=$(date +%s)
  "$bin/oni" run --seed "$seed" --max-env-steps "$steps" --run-dir "$dir" "${flags[@]}" > "$out/$name-s$seed.log" 2>&1 || {
    echo "learning-table: $name seed $seed failed; see $out/$name-s$seed.log" >&2
    tail -5 "$out/$name-s$seed.log" >&2
  }
  echo "learning-table: $name seed $seed done in $(( $(date +%s) - start )) s" >&2
  runs+=("$dir")
done
python3 "$(dirname "$0")/time-to-success.py" --threshold "${ONI_THRESHOLD:-0.9}" "${runs[@]}"
