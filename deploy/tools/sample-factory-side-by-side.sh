#!/usr/bin/env bash
# Sample Factory 2's NetHack example against `oni run --env nethack:score`, back to back on this
# machine, each for the same wall-clock time with training on and no LLM: environment steps per
# second (the median of the second half of each run) and the policy lag each reports.
#
#   bash deploy/tools/sample-factory-side-by-side.sh SF_CHECKOUT [SECONDS] [-- ONI RUN OPTIONS…]
#
# SF_CHECKOUT is a checkout of https://github.com/alex-petrenko/sample-factory (its wheel lacks
# sf_examples and a model/utils.py the example imports). Their code is copied into a temporary
# directory and used from there, never committed; one change is made to the copy: NLE 1.3.0's
# action space gives `n` as a numpy integer, which the example's models need as an int. Sample
# Factory pins gymnasium < 1.0 while nle 1.3.0 pins 1.2.0, so its dependencies are installed by
# name into a venv of their own (ONI_SF_VENV, default ~/.cache/oni/sf-venv; PyTorch from PyPI is
# a large download). Default Oni options: --hidden 1024 (7.7 M parameters, near Sample Factory's
# example network); anything after -- replaces them. Tools only, not CI.
set -euo pipefail
checkout=${1:?usage: sample-factory-side-by-side.sh SF_CHECKOUT [SECONDS] [-- ONI RUN OPTIONS…]}
seconds=${2:-300}
shift $(( $# >= 2 ? 2 : 1 ))
[[ ${1:-} == -- ]] && shift
oni_options=("$@")
((${#oni_options[@]})) || oni_options=(--hidden 1024)
root=$(cd "$(dirname "$0")/../.." && pwd)
[[ -d $checkout/sf_examples/nethack && -d $checkout/sample_factory ]] || { echo "$checkout is not a Sample Factory checkout" >&2; exit 2; }

venv=${ONI_SF_VENV:-$HOME/.cache/oni/sf-venv}
if ! "$venv/bin/python" -c "import torch, nle, gymnasium, signal_slot, tensorboardX, cv2" 2>/dev/null; then
  echo "installing PyTorch, nle 1.3.0 and Sample Factory's dependencies into $venv (large download)..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q torch nle==1.3.0 "numpy<2" tensorboard tensorboardx psutil threadpoolctl colorlog \
    signal-slot-mp filelock huggingface-hub pandas opencv-python-headless pyglet wandb
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$checkout/sample_factory" "$checkout/sf_examples" "$work/"
sed -i 's/= obs_space\["prev_actions"\]\.n$/= int(obs_space["prev_actions"].n)/' \
  "$work/sf_examples/nethack/models/chaotic_dwarf.py" "$work/sf_examples/nethack/models/scaled.py"

cores=$(nproc)
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $cores cores; $seconds s each, one after the other"

# Sample Factory: its example's defaults, sized to this machine (2 workers × 8 envs on 2 cores, as Oni's 2 × 16).
echo "Sample Factory: python -m sf_examples.nethack.train_nethack --env nethack_score --num_workers $cores --num_envs_per_worker 8 --device cpu"
(cd "$work" && WANDB_MODE=disabled timeout --signal=INT "$seconds" "$venv/bin/python" -m sf_examples.nethack.train_nethack \
  --env=nethack_score --num_workers="$cores" --num_envs_per_worker=8 --worker_num_splits=2 --device=cpu \
  --train_dir="$work/train" --experiment=side-by-side --with_wandb=False > "$work/sf.log" 2>&1) || true

# Oni, the same time.
echo "Oni: oni run --env nethack:score --llm none ${oni_options[*]}"
(cd "$root" && swift build -c release >/dev/null)
"$root/.build/release/oni" run --env nethack:score --llm none --max-env-steps 0 --run-dir "$work/oni" "${oni_options[@]}" \
  > "$work/oni.log" 2>&1 &
oni=$!
sleep "$seconds"
kill -INT "$oni"
wait "$oni" || true

"$venv/bin/python" - "$work/sf.log" "$work/oni/metrics.jsonl" "$seconds" <<'PY'
import json, re, statistics, sys
sf_log, oni_metrics, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
text = open(sf_log, errors="replace").read()
fps = [float(m) for m in re.findall(r"Fps is \(10 sec: ([\d.]+)", text)]
lag = [float(m) for m in re.findall(r"lag: \(min: [-\d.]+, avg: ([\d.]+)", text)]
if not fps:
    sys.exit("Sample Factory reported no FPS; the end of its log:\n" + "\n".join(text.splitlines()[-30:]))
sf_fps = statistics.median(fps[len(fps) // 2:])
sf_lag = statistics.median(lag[len(lag) // 2:]) if lag else float("nan")
rows = [json.loads(line) for line in open(oni_metrics) if line.strip()]
first = rows[0]["unix_ms"]
# Env steps over the second half of the run, from the learner's counter (its per-second rate
# swings with the rollouts' arrival).
half = [r for r in rows if r["unix_ms"] - first >= seconds * 500 and r["unix_ms"] - first <= seconds * 1000]
oni_fps = (half[-1]["env_steps"] - half[0]["env_steps"]) / ((half[-1]["unix_ms"] - half[0]["unix_ms"]) / 1000)
lags = [r["values"]["learner/policy_lag"] for r in half if "learner/policy_lag" in r["values"]]
oni_lag = statistics.median(lags) if lags else float("nan")
print(f"Sample Factory: {sf_fps:7.0f} env steps/s, policy lag {sf_lag:.1f}")
print(f"Oni:            {oni_fps:7.0f} env steps/s, policy lag {oni_lag:.1f}")
print(f"Oni runs {oni_fps / sf_fps:.2f}x Sample Factory's env steps per second")
PY
