#!/usr/bin/env bash
# Builds and runs gridsample on a fresh machine: installs what is missing (scripts/bootstrap.sh),
# configures with a CMake preset, builds, and runs what was asked for.
#
#   ./build.sh demo    warp the built-in image with every mode; PNGs land in build/demo/
#   ./build.sh test    build everything and run the whole test suite (ctest)
#   ./build.sh bench   build and run the benchmark suite (bench/)
#   ./build.sh peers   build and run bench/peers/compare.py: every peer (PyTorch, OpenCV, ONNX
#                      Runtime, ncnn) and ours in the benchmark and through the CLI, one table
#   ./build.sh package install the build into build/<preset>-install (cmake --install), then build
#                      and run examples/consumer against the installed tree alone: the system's
#                      cmake and compiler, no Halide and no virtual environment on any path; prints
#                      the sizes of the library and of the stripped example (GRIDSAMPLE_MAX_APP_BYTES
#                      makes a larger example fail)
#   ./build.sh fuzz [SECONDS]
#                      build the fuzzer (preset asan) and fuzz the C ABI for SECONDS (default 60),
#                      starting from fuzz/corpus/c_api; a failing input lands in
#                      build/asan/fuzz-artifacts/ (add it to fuzz/corpus/c_api once fixed)
#
# GRIDSAMPLE_PRESET picks the preset (release by default; see CMakePresets.json).
# GRIDSAMPLE_PRESET=asan ./build.sh test runs the whole suite under AddressSanitizer and UBSan.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$root"
what=${1:-test}
preset=${GRIDSAMPLE_PRESET:-release}
[[ "$what" == fuzz ]] && preset=asan

bootstrap_args=()
[[ "$what" == bench || "$what" == peers ]] && bootstrap_args+=(--bench)
[[ "$preset" == asan* || "$preset" == tsan ]] && bootstrap_args+=(--sanitize)
[[ "$preset" == aarch64* ]] && bootstrap_args+=(--aarch64)
scripts/bootstrap.sh "${bootstrap_args[@]}"
export PATH="$root/.venv/bin:$PATH"
# Presets that run the generators of the release build: the ARM ones (Halide's cross-compiling
# flow: generators for this machine, kernels for the target), asan-kernels (which saves building
# them again with clang) and the autoschedule-* ones (the same generators, run with an
# autoscheduler). Preset asan links the release build's kernels themselves
# (GRIDSAMPLE_KERNELS_FROM). What is used is brought up to date first, never used stale.
if [[ "$preset" == asan ]]; then
    cmake --preset release > /dev/null
    cmake --build --preset release --target gridsample
elif [[ "$preset" == aarch64* || "$preset" == asan-kernels || "$preset" == autoschedule-* ]]; then
    cmake --preset release > /dev/null
    cmake --build --preset release --target gridsample-halide_generators
fi
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
package)
    cmake --build --preset "$preset"
    prefix="$root/build/$preset-install"
    consumer="$root/build/$preset-consumer"
    rm -rf "$prefix" "$consumer"
    cmake --install "build/$preset" --prefix "$prefix" > /dev/null
    # Cross builds: the example is built with the same toolchain and run under qemu-user.
    toolchain="" cxx=c++ runner="" strip_tool=strip
    if [[ "$preset" == aarch64* ]]; then
        toolchain="$root/cmake/toolchains/aarch64-linux-gnu.cmake"
        cxx=aarch64-linux-gnu-g++
        runner="qemu-aarch64 -L /usr/aarch64-linux-gnu"
        strip_tool=aarch64-linux-gnu-strip
    fi
    # A clean environment: only the system's tools on PATH, nothing of .venv or Halide.
    env -i PATH=/usr/bin:/bin HOME="$HOME" bash -euc '
        prefix=$1 out=$2 toolchain=$3 cxx=$4 runner=$5 strip_tool=$6
        cmake -S examples/consumer -B "$out" -DCMAKE_BUILD_TYPE=Release \
            -DCMAKE_PREFIX_PATH="$prefix" ${toolchain:+-DCMAKE_TOOLCHAIN_FILE="$toolchain"} \
            > "$out.configure.log"
        cmake --build "$out" > "$out.build.log"
        $runner "$out/warp_check"
        # pkg-config finds the same library.
        pc_dir=$(dirname "$(find "$prefix" -name gridsample.pc)")
        "$cxx" -std=c++17 -O2 examples/consumer/main.cpp -o "$out/warp_check_pc" \
            $(PKG_CONFIG_PATH="$pc_dir" pkg-config --cflags --libs --static gridsample) \
            -Wl,-rpath,"$prefix/lib"
        $runner "$out/warp_check_pc"
        "$strip_tool" -o "$out/warp_check.stripped" "$out/warp_check"' \
        _ "$prefix" "$consumer" "$toolchain" "$cxx" "$runner" "$strip_tool"
    lib=$(find "$prefix" -name 'libgridsample.a' -o -name 'libgridsample.so.*.*.*' | head -n 1)
    app_bytes=$(stat -c %s "$consumer/warp_check.stripped")
    echo "package: $(basename "$lib") $(stat -c %s "$lib") bytes;" \
         "examples/consumer stripped $app_bytes bytes"
    # GRIDSAMPLE_MAX_APP_BYTES: fail when the stripped example grows past it (CI: the trimmed ARM app).
    if [[ -n "${GRIDSAMPLE_MAX_APP_BYTES:-}" && "$app_bytes" -gt "$GRIDSAMPLE_MAX_APP_BYTES" ]]; then
        echo "package: the stripped example is $app_bytes bytes, over $GRIDSAMPLE_MAX_APP_BYTES" >&2
        exit 1
    fi
    ;;
peers)
    cmake --build --preset "$preset" --target gridsample_bench gridsample_cli
    "$root/.venv/bin/python" bench/peers/compare.py --build "build/$preset" "${@:2}"
    ;;
fuzz)
    seconds=${2:-60}
    cmake --build --preset "$preset" --target fuzz_c_api
    # New inputs go to a scratch corpus; fuzz/corpus/c_api is only read.
    mkdir -p "build/$preset/fuzz-corpus" "build/$preset/fuzz-artifacts"
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    if ! "build/$preset/fuzz/fuzz_c_api" -max_total_time="$seconds" -timeout=30 \
            -rss_limit_mb=4096 -max_len=2048 -print_final_stats=1 \
            -artifact_prefix="build/$preset/fuzz-artifacts/" \
            "build/$preset/fuzz-corpus" fuzz/corpus/c_api; then
        echo "fuzz: failure; the input is in build/$preset/fuzz-artifacts/" >&2
        exit 1
    fi
    ;;
*)
    echo "usage: ./build.sh demo|test|bench|peers|package|fuzz [SECONDS]" >&2
    exit 2
    ;;
esac
