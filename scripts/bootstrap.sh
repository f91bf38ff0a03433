#!/usr/bin/env bash
# Installs whatever this machine lacks to build and test gridsample. Idempotent: a second run
# only checks and returns within a second or two.
#   - Debian packages listed in scripts/apt-packages.txt (apt-get, only those missing);
#   - a project-local Python virtual environment (.venv) with the pinned packages of
#     scripts/requirements.txt (Halide 21, CMake, ninja).
# Usage: scripts/bootstrap.sh [--dev] [--bench] [--sanitize] [--aarch64]
#   --dev       adds PyTorch and NumPy for Python (the golden-data scripts and the differential test)
#   --bench     adds the benchmark peers: libtorch (PyTorch's C++ library) and OpenCV from Debian,
#               and into .venv the Python-only ones of bench/peers/compare.py (ONNX Runtime, ncnn;
#               scripts/requirements-bench.txt)
#   --sanitize  adds clang 14 with its sanitizer and libFuzzer runtimes and llvm-symbolizer (the
#               asan and tsan presets, ./build.sh fuzz)
#   --aarch64   adds the 64-bit ARM cross toolchain and qemu-user (preset aarch64), and the
#               GoogleTest sources to build the tests for ARM
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

packages=$(grep -v '^\s*#' scripts/apt-packages.txt | xargs)
bench_peers=0
for arg in "$@"; do
  case "$arg" in
    --dev) packages="$packages python3-torch python3-numpy" ;;
    --bench) packages="$packages libtorch-dev libopencv-dev"; bench_peers=1 ;;
    --sanitize) packages="$packages clang-14 libclang-rt-14-dev llvm-14" ;;
    --aarch64) packages="$packages g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user googletest" ;;
    *) echo "usage: scripts/bootstrap.sh [--dev] [--bench] [--sanitize] [--aarch64]" >&2; exit 2 ;;
  esac
done

missing=()
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) != 0 ]] && sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The Python used for the virtual environment: it needs headers (Halide's CMake package asks
# for Python Development.Module) and the venv module.
python=${GRIDSAMPLE_PYTHON:-python3}
venv="$root/.venv"
stamp="$venv/.requirements.sha256"
want_hash=$(sha256sum scripts/requirements.txt | cut -d' ' -f1)
if [[ ! -x "$venv/bin/python" || ! -f "$stamp" || "$(cat "$stamp")" != "$want_hash" ]]; then
  echo "bootstrap: creating the virtual environment in .venv"
  if ! "$python" -m venv "$venv" 2>/dev/null; then
    sudo_cmd=()
    [[ $(id -u) != 0 ]] && sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends python3-venv python3-dev
    "$python" -m venv "$venv"
  fi
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet -r scripts/requirements.txt
  echo "$want_hash" > "$stamp"
fi

# The Python-only benchmark peers, pinned, into the same environment (--bench).
if ((bench_peers)); then
  bench_stamp="$venv/.requirements-bench.sha256"
  bench_hash=$(sha256sum scripts/requirements-bench.txt | cut -d' ' -f1)
  if [[ ! -f "$bench_stamp" || "$(cat "$bench_stamp")" != "$bench_hash" ]]; then
    echo "bootstrap: installing the Python benchmark peers into .venv"
    "$venv/bin/python" -m pip install --quiet -r scripts/requirements-bench.txt
    echo "$bench_hash" > "$bench_stamp"
  fi
fi
