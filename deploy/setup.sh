#!/usr/bin/env bash
# Installs the system libraries Oni builds against (Debian/Ubuntu):
# libzmq3-dev (ZeroMQ), libopenblas-dev (BLAS), libsqlite3-dev (SQLite), libzstd-dev (stored rollouts);
# NetHack for the nethack:* environments: libnethack.so and its data
# from the nle==1.3.0 wheel on PyPI (checked against its sha256), unpacked
# to ONI_NLE_DIR (default ~/.local/share/oni/nle-1.3.0); and the local LLM
# `oni run` annotates with (deploy/setup-llm.sh: llama-server built from
# source with cmake/ninja/g++, and a 1.1 GB model; ONI_SKIP_LLM=1 skips it).
# No Python runs with Oni; pip only fetches packages. Swift 6 itself must
# already be installed. Safe to run again: it only installs what is missing.
set -euo pipefail

packages=(libzmq3-dev libopenblas-dev libsqlite3-dev libzstd-dev pkg-config)
# To build llama-server (deploy/setup-llm.sh).
[[ ${ONI_SKIP_LLM:-0} == 1 ]] || packages+=(cmake ninja-build g++ curl ca-certificates)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# pip fetches the NetHack wheel; the tests' venv needs venv/ensurepip.
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3 python3-pip)
python3 -c "import venv, ensurepip" >/dev/null 2>&1 || missing+=(python3-venv)

if ((${#missing[@]})); then
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

nle_dir=${ONI_NLE_DIR:-$HOME/.local/share/oni/nle-1.3.0}
nle_wheel=nle-1.3.0-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl
nle_sha256=68b151d2b114f44dd4b8bf044bcb73e6f7e4e9e7e7a93c4a8310792a91967b8f
if [[ $(uname -m) != x86_64 ]]; then
  echo "setup: NetHack (nethack:* environments) is available for x86_64 only; skipped on $(uname -m)"
elif [[ ! -f $nle_dir/nle/libnethack.so || ! -f $nle_dir/nle/nethackdir/nhdat ]]; then
  echo "setup: fetching NetHack (the nle==1.3.0 wheel) into $nle_dir"
  download=$(mktemp -d)
  python3 -m pip download --quiet --disable-pip-version-check nle==1.3.0 --no-deps --only-binary=:all: \
    --platform manylinux2014_x86_64 --python-version 3.11 -d "$download"
  echo "$nle_sha256  $download/$nle_wheel" | sha256sum --check --quiet \
    || { echo "setup: $nle_wheel does not have the expected sha256" >&2; exit 1; }
  mkdir -p "$nle_dir"
  python3 - "$download/$nle_wheel" "$nle_dir" <<'PY'
import sys, zipfile
wheel = zipfile.ZipFile(sys.argv[1])
for name in wheel.namelist():
    if name == "nle/libnethack.so" or name.startswith("nle/nethackdir/"):
        wheel.extract(name, sys.argv[2])
PY
  rm -rf "$download"
fi

bash "$(dirname "$0")/setup-llm.sh"

command -v swift >/dev/null || { echo "setup: swift not found on PATH; install Swift 6 from swift.org" >&2; exit 1; }
echo "setup: system libraries and NetHack ($nle_dir) present; $(swift --version 2>&1 | head -1)"
