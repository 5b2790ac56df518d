#!/usr/bin/env bash
# Installs what the tests need, builds every product and test (the
# integration tests start the real executables), and runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/setup.sh
# iproute2: the multi-host test puts each role in its own network namespace. ttyrec and
# asciinema: recordings are read back by the players people use (ttyplay, asciinema cat). gdb:
# a child that outlives its stop deadline has its threads' stacks printed before it is killed.
missing=()
command -v gdb >/dev/null || missing+=(gdb)
command -v ip >/dev/null || missing+=(iproute2)
command -v ttyplay >/dev/null || missing+=(ttyrec)
command -v asciinema >/dev/null || missing+=(asciinema)
command -v script >/dev/null || missing+=(bsdutils)
if ((${#missing[@]})); then
  sudo=$([ "$(id -u)" -eq 0 ] || echo sudo)
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Python, for the tests only, in a venv: the checkpoint format is checked against the
# reference safetensors reader, the NetHack environment step for step against NLE's package,
# the TensorBoard event files with TensorBoard's own reader.
venv=${ONI_TEST_VENV:-$HOME/.cache/oni/test-venv}
if ! "$venv/bin/python" -c "import nle, safetensors.numpy, tensorboard, prometheus_client, sys; sys.exit(nle.__version__ != '1.3.0')" 2>/dev/null; then
  echo "test: installing nle==1.3.0, safetensors, numpy, tensorboard and prometheus_client into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check nle==1.3.0 safetensors numpy tensorboard prometheus_client
fi
export ONI_TEST_PYTHON=$venv/bin/python
if [[ ${1:-} == --tsan ]]; then
  # The learner's and workers' threads under ThreadSanitizer, in a build of their own: the
  # trainer thread, the data-parallel update and its Adam step, and a learner with its trainer
  # thread and a worker with --worker-threads as real (sanitized) processes over sockets, which
  # exit 66 on a race.
  swift build --build-tests --sanitize=thread --scratch-path .build-tsan
  exec swift test --skip-build --sanitize=thread --scratch-path .build-tsan \
    --filter 'TrainerThreadTests|DataParallelUpdateTests|AdamTests|WorkerThreadsTests'
fi
swift build --build-tests
if [ $# -eq 0 ]; then
  # The integration tests wait for their child processes on the test runner's threads, which
  # are Swift's concurrency pool, as wide as the machine's cores: on 2 cores two of them at once
  # held it for minutes, and the in-process tests that need it (the annotator labels in its
  # tasks) ran out of time. So they run after the rest, on their own.
  swift test --skip-build --skip OniIntegrationTests
  swift test --skip-build --filter OniIntegrationTests
else
  swift test --skip-build "$@"
fi
# With no filter given: the deployments. Slurm for real (a one-machine cluster of Debian's
# slurm-wlm, the batch scripts run to the end and requeued), then the Kubernetes manifests and
# the compose file (API schemas, and every flag and port against the executables just built).
if [ $# -eq 0 ]; then
  ONI_BIN=.build/debug bash deploy/slurm/test-slurm.sh
  bash deploy/k8s/validate.sh .build/debug
  # The reference articles build, with no broken link or other warning.
  docs=$(mktemp -d)
  swift package generate-documentation --target OniRuntime --warnings-as-errors --output-path "$docs" >/dev/null
  rm -rf "$docs"
  echo "docs: Sources/OniRuntime/OniRuntime.docc builds without warnings"
  # Last, a seeded grid task must still be learnt within a stated number of env steps…
  bash deploy/learning-regression.sh
  # …and the learner's steady-state update must allocate no more than it did when this bar was
  # set (counted by ordo-one's malloc interposer; the Benchmarks article,
  # Sources/OniRuntime/OniRuntime.docc/Performance.md): a ratchet, lowered as the remaining
  # allocations go.
  swift build -c release --product oni-allocations >/dev/null
  .build/release/oni-allocations --max-per-update 460 --max-kib-per-update 8192
  .build/release/oni-allocations --core gru --max-per-update 460 --max-kib-per-update 8192
fi
