#!/usr/bin/env bash
# Installs the system libraries Oni builds against (Debian/Ubuntu):
# libzmq3-dev (ZeroMQ), libopenblas-dev (BLAS), libsqlite3-dev (SQLite).
# Swift 6 itself must already be installed. Safe to run again: it only
# installs what is missing.
set -euo pipefail

packages=(libzmq3-dev libopenblas-dev libsqlite3-dev pkg-config)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

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

command -v swift >/dev/null || { echo "setup: swift not found on PATH; install Swift 6 from swift.org" >&2; exit 1; }
echo "setup: system libraries present; $(swift --version 2>&1 | head -1)"
