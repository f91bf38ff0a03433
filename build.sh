#!/usr/bin/env bash
# Builds and runs gridsample on a fresh machine: installs what is missing (scripts/bootstrap.sh),
# configures with a CMake preset, builds, and runs what was asked for.
#
#   ./build.sh demo    warp the built-in image with every mode; PNGs land in build/demo/
#   ./build.sh test    build everything and run the whole test suite (ctest)
#   ./build.sh bench   build and run the benchmark suite (bench/)
#
# GRIDSAMPLE_PRESET picks the preset (release by default; see CMakePresets.json).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$root"
what=${1:-test}
preset=${GRIDSAMPLE_PRESET:-release}

if [[ "$what" == bench ]]; then scripts/bootstrap.sh --bench; else scripts/bootstrap.sh; fi
export PATH="$root/.venv/bin:$PATH"
cmake --preset "$preset" > /dev/null

case "$what" in
demo)
    cmake --build --preset "$preset" --target gridsample_cli
    mkdir -p build/demo
    cd build/demo
    "$root/build/$preset/tools/cli/gridsample" warp
    echo "demo images written to $root/build/demo/"
    ;;
test)
    cmake --build --preset "$preset"
    ctest --preset "$preset" --parallel "$(nproc)"
    ;;
bench)
    cmake --build --preset "$preset" --target gridsample_bench
    "$root/build/$preset/bench/gridsample_bench" "${@:2}"
    ;;
*)
    echo "usage: ./build.sh demo|test|bench" >&2
    exit 2
    ;;
esac
