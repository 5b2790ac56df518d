#!/usr/bin/env bash
# Sample Factory 2's NetHack example against `oni run --env nethack:score`, back to back on this
# machine, each for the same wall-clock time with training on and no LLM: environment steps per
# second over the second half of each run (Sample Factory's reported rate, median; Oni's from the
# learner's counters, by run-throughput.sh) and the policy lag each reports.
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

# Oni, the same time, measured as run-throughput.sh measures any run.
echo "Oni: oni run --env nethack:score --llm none ${oni_options[*]}"
(cd "$root" && swift build -c release >/dev/null)
oni_line=$(cd "$root" && ONI_BIN="$root/.build/release" ONI_EXPERIMENTS="$work" \
  bash deploy/tools/run-throughput.sh oni "$seconds" --env nethack:score "${oni_options[@]}")

"$venv/bin/python" - "$work/sf.log" "$oni_line" <<'PY'
import re, statistics, sys
sf_log, oni_line = sys.argv[1], sys.argv[2]
text = open(sf_log, errors="replace").read()
fps = [float(m) for m in re.findall(r"Fps is \(10 sec: ([\d.]+)", text)]
lag = [float(m) for m in re.findall(r"lag: \(min: [-\d.]+, avg: ([\d.]+)", text)]
if not fps:
    sys.exit("Sample Factory reported no FPS; the end of its log:\n" + "\n".join(text.splitlines()[-30:]))
sf_fps = statistics.median(fps[len(fps) // 2:])
sf_lag = statistics.median(lag[len(lag) // 2:]) if lag else float("nan")
oni = re.search(r"env steps/s +([\d.]+) .*policy lag +([\d.na]+)", oni_line)
if not oni:
    sys.exit("Oni's run gave no figure: " + oni_line)
oni_fps, oni_lag = float(oni.group(1)), float(oni.group(2))
print(f"Sample Factory: {sf_fps:7.0f} env steps/s, policy lag {sf_lag:.1f}")
print(f"Oni:            {oni_fps:7.0f} env steps/s, policy lag {oni_lag:.1f}")
print(f"Oni runs {oni_fps / sf_fps:.2f}x Sample Factory's env steps per second")
PY
