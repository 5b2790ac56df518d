#!/usr/bin/env bash
# Installs what the tests need, builds every product and test (the
# integration tests start the real executables), and runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/setup.sh
# The checkpoint format is checked against the reference safetensors reader (tests only).
python3 -m pip install --quiet --disable-pip-version-check safetensors numpy
swift build --build-tests
swift test --skip-build "$@"
