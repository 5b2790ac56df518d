#!/usr/bin/env bash
# The chaos soak at length: the CI test ChaosSoakTests (a whole `oni run` with two workers, the
# annotator and a fake LLM server that fails for stretches, while a seeded schedule SIGKILLs
# workers, the annotator and the learner, which comes back with `oni run --resume`) run with
# many more events, then a quiet stretch in which the roles' resident memory is sampled; prints
# the figures and fails on any broken invariant (store check, conflicting or lost labels, step
# counter or policy version below what was committed or checkpointed before a kill).
#
#   bash deploy/tools/chaos.sh [EVENTS=150] [SEED=1] [QUIET_SECONDS=120]
#
# Tens of minutes with the defaults (2–5 s between events, ~10 s per learner resume).
set -euo pipefail
cd "$(dirname "$0")/../.."
events=${1:-150}
seed=${2:-1}
quiet=${3:-120}
swift build --build-tests >/dev/null
log=$(mktemp)
status=0
ONI_CHAOS_EVENTS=$events ONI_CHAOS_SEED=$seed ONI_CHAOS_QUIET=$quiet \
  swift test --skip-build --filter ChaosSoakTests > "$log" 2>&1 || status=$?
grep -E "^chaos:|✘|✔ Test run|recorded an issue|↳" "$log" || tail -30 "$log"
rm -f "$log"
exit $status
