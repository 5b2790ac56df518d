#!/usr/bin/env bash
# ONI's settings (--preset oni) against Oni's defaults on one task, seed by seed, the same env
# steps for both, the local LLM annotating; prints a metric every 10% of the steps (default:
# success over the last 100 episodes) and draws the curves with `oni plot`.
#   bash deploy/tools/preset-evidence.sh [OUT_DIR] [ENV] [STEPS] [METRIC] [SEEDS...]
#   (default: runs/preset-evidence grid:vault 1000000 env/success_rate 1 2 3)
# ONI's reward-free NetHack setting, with a uniform random policy as a third arm and a cold
# label cache per run (the script substitutes {run} in the flags after --):
#   ONI_ARMS="random oni-defaults oni-preset" bash deploy/tools/preset-evidence.sh runs/nethack \
#     nethack:score 2000000 env/episode_return 1 2 -- --extrinsic-reward-coeff 0 --annotation-cache "{run}.labels.sqlite"
# (env/episode_return is the game's own reward per episode, the score gained less the frozen-step
# penalty, whatever the learner is paid). ONI_ARMS chooses the arms (default: oni-defaults
# oni-preset); `random` is `--no-train --llm none`, `random-preset` the same with the preset's
# task rules and actions. Besides the metric, a table of the mean
# episode return (± standard error) of the episodes that ended in each fifth of the steps.
# Needs the sqlite3 shell (Debian: sqlite3) for the table.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-runs/preset-evidence}
env=${2:-grid:vault}
steps=${3:-1000000}
metric=${4:-env/success_rate}
shift $(( $# < 4 ? $# : 4 ))
seeds=()
while (( $# )) && [[ $1 != -- ]]; do seeds+=("$1"); shift; done
(( $# )) && shift
extra=("$@")
(( ${#seeds[@]} )) || seeds=(1 2 3)
oni=.build/release/oni
[[ -x $oni ]] || swift build -c release
mkdir -p "$out"
read -r -a arms <<< "${ONI_ARMS:-oni-defaults oni-preset}"
for seed in "${seeds[@]}"; do
  for arm in "${arms[@]}"; do
    dir=$out/$arm-s$seed
    [[ -f $dir/oni.sqlite ]] && continue
    case $arm in
      oni-defaults) flags=() ;;
      oni-preset) flags=(--preset oni) ;;
      random) flags=(--no-train --llm none) ;;
      random-preset) flags=(--preset oni --no-train --llm none) ;;
      *) echo "evidence: unknown arm $arm (random, random-preset, oni-defaults, oni-preset)" >&2; exit 2 ;;
    esac
    for f in "${extra[@]}"; do flags+=("${f//\{run\}/$dir}"); done
    echo "evidence: $arm, $env, seed $seed, $steps steps ($(date -u +%H:%M))"
    start=$(date +%s)
    $oni run --env "$env" --seed "$seed" --max-env-steps "$steps" --run-dir "$dir" "${flags[@]}" > "$dir.log" 2>&1
    echo "evidence: $arm seed $seed done in $(( $(date +%s) - start )) s"
  done
done
source deploy/tools/metric-windows.sh
metric_windows "$metric" "$steps" "$out"/*-s*/
episode_windows "$steps" 5 "$out"/*-s*/
dirs=(); for d in "$out"/*-s*/; do dirs+=("${d%/}"); done
$oni plot "${dirs[@]}" --metric "$metric" --output "$out/curves.svg" >/dev/null
echo "evidence: curves in $out/curves.svg"
