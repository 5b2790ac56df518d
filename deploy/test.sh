#!/usr/bin/env bash
# Installs what the tests need, builds every product and test (the
# integration tests start the real executables), and runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/setup.sh
# The checkpoint format is checked against the reference safetensors reader (tests only).
python3 -m pip install --quiet --disable-pip-version-check safetensors numpy
# The NetHack environment is checked step for step against NLE's own Python package (tests only).
nle_venv=${ONI_NLE_VENV:-$HOME/.cache/oni/nle-venv}
if ! "$nle_venv/bin/python" -c "import nle, sys; sys.exit(nle.__version__ != '1.3.0')" 2>/dev/null; then
  python3 -m venv "$nle_venv"
  "$nle_venv/bin/pip" install --quiet --disable-pip-version-check nle==1.3.0
fi
export ONI_NLE_PYTHON=$nle_venv/bin/python
swift build --build-tests
swift test --skip-build "$@"
