#!/usr/bin/env bash
# Reruns the reward comparison of Sources/OniRuntime/OniRuntime.docc/Results.md on grid:vault: each reward type (none, retrieval,
# classification, ranking) for each seed, 1M env steps, the local LLM annotating (none runs
# without it), then prints success over the last 100 episodes every 100k steps and draws
# the curves with `oni plot`. About 7 minutes per run on 2 cores. Needs the sqlite3 shell
# (Debian: sqlite3) for the table.
#   bash deploy/tools/reward-evidence.sh [OUT_DIR] [SEEDS...]      (default: runs/evidence 1 2 3)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-runs/evidence}
shift || true
seeds=("${@:-1 2 3}")
seeds=(${seeds[*]})
oni=.build/release/oni
[[ -x $oni ]] || swift build -c release
mkdir -p "$out"
for seed in "${seeds[@]}"; do
  for reward in none retrieval classification ranking; do
    dir=$out/$reward-s$seed
    [[ -f $dir/oni.sqlite ]] && continue
    llm=(); [[ $reward == none ]] && llm=(--llm none)
    echo "evidence: $reward, seed $seed"
    $oni run --env grid:vault --reward "$reward" --seed "$seed" --max-env-steps 1000000 --run-dir "$dir" "${llm[@]}" > "$dir.log" 2>&1
  done
done
source deploy/tools/metric-windows.sh
metric_windows env/success_rate 1000000 "$out"/*-s*/
for reward in none retrieval classification ranking; do
  runs=("$out"/$reward-s*)
  [[ -d ${runs[0]} ]] && $oni plot "${runs[@]}" --metric env/success_rate --output "$out/$reward.svg" >/dev/null
done
$oni plot "$out"/*-s1 --metric env/success_rate --output "$out/seed1.svg" >/dev/null
echo "evidence: curves in $out/*.svg"
