#!/usr/bin/env bash
# Builds what a machine with an NVIDIA GPU needs to test and benchmark gridsample's CUDA kernels,
# and packs it into build/gpu-bundle/ and build/gpu-bundle.tar.xz. Runs on the build machine (no
# GPU needed); the GPU machine needs no compiler, CMake or network, only Python 3 with PyTorch
# (CUDA) for the benchmark and the differential test.
#
#   scripts/gpu/prepare.sh [--no-build]
#       --no-build   pack the existing build as it is
#
# Then, on the GPU machine:
#   tar xJf gpu-bundle.tar.xz && cd gpu-bundle && scripts/gpu/run_on_gpu.sh [OUTPUT_DIR]
#   (without xz there: python3 -m tarfile -e gpu-bundle.tar.xz .)
#
# What it builds: by default the release preset in its own tree, build/gpu, with the CUDA backend
# only and the baseline CPU level only (GRIDSAMPLE_GPU_BACKENDS=cuda, GRIDSAMPLE_CPU_ISAS=baseline,
# no benchmark suite). Every executable links every compiled kernel, and the release build's five
# CPU levels make each one several times larger: the executables of build/release do not fit in
# the bundle. The baseline level is what the CUDA tests need on the CPU side (references, CPU
# results to compare with). GRIDSAMPLE_PRESET=<preset> builds and packs build/<preset> instead, as
# ./build.sh does (it must compile the cuda backend).
#
# The bundle mirrors the repository's layout, so the bundled scripts find everything at the paths
# they use in a checkout:
#   build/<tree>/tests/.../test_*        the test executables that have CUDA tests (stripped)
#   build/<tree>/tools/cli/gridsample    the command-line tool (stripped)
#   build/<tree>/runtime/libgridsample_c.so   the C ABI (stripped), for bench_gpu.py
#   lib/                                 shared libraries the executables link beyond the C and C++
#                                        runtimes (the OpenCL ICD loader of the device tests, ...),
#                                        found through LD_LIBRARY_PATH; libcuda comes with the driver
#   tests/data/                          golden data, when a bundled test reads it
#   bench/gpu/bench_gpu.py, scripts/gpu/run_on_gpu.sh
#   tools/torch_diff.py                  the differential test against PyTorch (the one the README's
#                                        Tests section runs, ../shared/tools/torch_diff.py beside the
#                                        checkout, or GRIDSAMPLE_TORCH_DIFF): bundled when present,
#                                        otherwise run_on_gpu.sh skips that step
#   bundle.env, BUILD_INFO               the build's paths, commit, compiler and library needs
#
# The test executables were compiled with absolute paths: GRIDSAMPLE_TEST_DATA_DIR (this checkout's
# tests/data) and test_cli's GRIDSAMPLE_CLI (this build's CLI). bundle.env records the checkout and
# run_on_gpu.sh links those paths to the bundle's copies on the GPU machine when they do not exist
# there.
#
# GRIDSAMPLE_GPU_SCHEDULE_VARIANTS: schedule experiments to time beside the library there, a
# space-separated list of NAME=REGEX:key=value,... (entries of GRIDSAMPLE_GPU_GENERATOR_PARAMS_FOR,
# generators/CMakeLists.txt). Each is built as build/gpu-variant-NAME: the float32 forward only
# (CUDA kernels with those generator parameters, the baseline CPU level), and its
# libgridsample_c.so goes into the bundle as variants/NAME/libgridsample_c.so, which
# run_on_gpu.sh times beside PyTorch after the main benchmark. For example
#   GRIDSAMPLE_GPU_SCHEDULE_VARIANTS="unroll2=^grid_sample_:gpu_channel_unroll=2" scripts/gpu/prepare.sh
#
# GRIDSAMPLE_GPU_AUTOSCHEDULE_VARIANTS: the same for Halide's GPU autoschedulers, a space-separated
# list of AUTOSCHEDULER[:key=value,...] (Li2018, Mullapudi2016 or Anderson2021, with that
# autoscheduler's parameters, as GRIDSAMPLE_GPU_AUTOSCHEDULER and ..._PARAMS take them). Each is
# built as build/gpu-variant-<autoscheduler in lower case> and bundled and timed as the schedule
# variants are, so that one run on the GPU compares the hand schedules with each autoscheduler's.
# Building takes minutes (Anderson2021's search, 15 kernels: about 9 minutes here). For example
#   GRIDSAMPLE_GPU_AUTOSCHEDULE_VARIANTS="Li2018 Mullapudi2016:parallelism=128 Anderson2021:parallelism=80"
#
# GRIDSAMPLE_BUNDLE_LIMIT_MB (default 60, in MB of 10^6 bytes) is the most build/gpu-bundle.tar.xz,
# the file to copy, may weigh. GRIDSAMPLE_GPU_TEST_FILTER (default *Cuda*:*cuda*, the names of the
# CUDA tests) picks the tests: the executables bundled and the tests run_on_gpu.sh runs.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
preset=${GRIDSAMPLE_PRESET:-}
tree=${preset:-gpu}
limit_mb=${GRIDSAMPLE_BUNDLE_LIMIT_MB:-60}
build=${1:-}
case "$build" in
"") build=yes ;;
--no-build) build=no ;;
*) echo "usage: scripts/gpu/prepare.sh [--no-build]" >&2; exit 2 ;;
esac

# The CUDA trees' options (the main tree's and each schedule variant's, below).
gpu_tree_options=(-DGRIDSAMPLE_GPU_BACKENDS=cuda -DGRIDSAMPLE_CPU_ISAS=baseline -DGRIDSAMPLE_BUILD_BENCH=OFF)

if [[ $build == yes ]]; then
    # As ./build.sh does: install what is missing, configure, build everything.
    scripts/bootstrap.sh
    export PATH="$root/.venv/bin:$PATH"
    if [[ -n "$preset" ]]; then
        cmake --preset "$preset" > /dev/null
        cmake --build --preset "$preset"
    else
        cmake --preset release -B "build/$tree" "${gpu_tree_options[@]}" > /dev/null
        cmake --build "build/$tree"
    fi
fi

# The variants: each one's name and what it is (the bundle's variants/NAME/PARAMS), built by
# build_variant NAME ABOUT OPTION... as build/gpu-variant-NAME, the float32 forward only.
variant_names=()
variant_about=()
build_variant() {
    local vname=$1 about=$2 vdir=build/gpu-variant-$1
    shift 2
    if [[ " ${variant_names[*]} " == *" $vname "* ]]; then
        echo "prepare: two variants are named $vname" >&2
        exit 2
    fi
    if [[ $build == yes ]]; then
        cmake --preset release -B "$vdir" "${gpu_tree_options[@]}" -DGRIDSAMPLE_OPERATIONS=forward \
            -DGRIDSAMPLE_DTYPES=float32 "$@" > /dev/null
        cmake --build "$vdir" --target gridsample_c_shared
    fi
    [[ -f "$vdir/runtime/libgridsample_c.so" ]] || {
        echo "prepare: $vdir/runtime/libgridsample_c.so is missing (build without --no-build)" >&2
        exit 1
    }
    variant_names+=("$vname")
    variant_about+=("$about")
}
variants=${GRIDSAMPLE_GPU_SCHEDULE_VARIANTS:-}
for spec in $variants; do
    vname=${spec%%=*}
    entry=${spec#*=}
    if [[ "$spec" != *=*:*=* || ! "$vname" =~ ^[A-Za-z0-9_-]+$ ]]; then
        echo "prepare: GRIDSAMPLE_GPU_SCHEDULE_VARIANTS: '$spec' is not NAME=REGEX:key=value,..." >&2
        exit 2
    fi
    build_variant "$vname" "generator parameters $entry" "-DGRIDSAMPLE_GPU_GENERATOR_PARAMS_FOR=$entry"
done
autoschedule_variants=${GRIDSAMPLE_GPU_AUTOSCHEDULE_VARIANTS:-}
for spec in $autoschedule_variants; do
    scheduler=${spec%%:*}
    params=""
    [[ $spec == *:* ]] && params=${spec#*:}
    case "$scheduler" in
    Li2018 | Mullapudi2016 | Anderson2021) ;;
    *)
        echo "prepare: GRIDSAMPLE_GPU_AUTOSCHEDULE_VARIANTS: '$spec' is not" \
            "Li2018|Mullapudi2016|Anderson2021[:key=value,...]" >&2
        exit 2
        ;;
    esac
    build_variant "${scheduler,,}" "autoscheduler $scheduler${params:+ ($params)}" \
        "-DGRIDSAMPLE_GPU_AUTOSCHEDULER=$scheduler" "-DGRIDSAMPLE_GPU_AUTOSCHEDULER_PARAMS=${params//,/;}"
done

bdir="build/$tree"
[[ -f "$bdir/CMakeCache.txt" ]] || { echo "prepare: $bdir is not configured" >&2; exit 1; }
backends=$(sed -n 's/^GRIDSAMPLE_GPU_BACKENDS:[A-Z]*=//p' "$bdir/CMakeCache.txt")
if [[ ";$backends;" != *";cuda;"* ]]; then
    echo "prepare: $bdir does not compile the cuda backend (GRIDSAMPLE_GPU_BACKENDS='$backends')" >&2
    exit 1
fi
lib="$bdir/runtime/libgridsample_c.so"
cli="$bdir/tools/cli/gridsample"
for f in "$lib" "$cli"; do
    [[ -f "$f" ]] || { echo "prepare: $f is missing (build target $(basename "$f"))" >&2; exit 1; }
done

out=build/gpu-bundle
rm -rf "$out" build/gpu-bundle.tar.gz build/gpu-bundle.tar.xz
mkdir -p "$out"

# Copies a build output into the bundle at the same relative path, stripped.
add_binary() {
    mkdir -p "$out/$(dirname "$1")"
    cp "$1" "$out/$1"
    strip --strip-unneeded "$out/$1"
}

# The test executables: every test_* under the build's tests/ that lists at least one CUDA test.
cuda_filter=${GRIDSAMPLE_GPU_TEST_FILTER:-'*Cuda*:*cuda*'}
tests=()
while IFS= read -r -d '' t; do
    if ! listing=$(timeout 120 "$t" --gtest_list_tests --gtest_filter="$cuda_filter" 2> /dev/null); then
        echo "prepare: $t --gtest_list_tests failed; bundling it anyway"
        tests+=("$t")
        continue
    fi
    n=$(grep -c '^  ' <<< "$listing" || true)
    if ((n > 0)); then
        echo "prepare: $t: $n CUDA tests"
        tests+=("$t")
    fi
done < <(find "$bdir/tests" -type f -name 'test_*' -perm -u+x -print0 | sort -z)
if ((${#tests[@]} == 0)); then
    echo "prepare: no test executable in $bdir/tests has tests matching $cuda_filter" >&2
    exit 1
fi
for t in "${tests[@]}"; do add_binary "$t"; done
add_binary "$cli"
add_binary "$lib"

# Golden data, if a bundled test reads it (the path is compiled into the executable).
data_dir="$root/tests/data"
needs_data=no
for t in "${tests[@]}"; do
    if grep -qF "$data_dir" "$t"; then needs_data=yes; fi
done
if [[ $needs_data == yes ]]; then
    mkdir -p "$out/tests"
    cp -r tests/data "$out/tests/data"
fi

# Shared libraries beyond the C/C++ runtimes that the GPU machine may lack.
mkdir -p "$out/lib"
for f in "${tests[@]}" "$cli" "$lib"; do
    ldd "$f" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}'
done | sort -u | while read -r name path; do
    case "$name" in
    linux-vdso* | ld-linux* | libc.so* | libm.so* | libstdc++.so* | libgcc_s.so* | libpthread.so* | \
        libdl.so* | librt.so* | libcuda.so*) ;;
    *) cp -L "$path" "$out/lib/$name" ;;
    esac
done
rmdir "$out/lib" 2> /dev/null || true

for i in "${!variant_names[@]}"; do
    vname=${variant_names[$i]}
    mkdir -p "$out/variants/$vname"
    cp "build/gpu-variant-$vname/runtime/libgridsample_c.so" "$out/variants/$vname/"
    strip --strip-unneeded "$out/variants/$vname/libgridsample_c.so"
    echo "${variant_about[$i]}" > "$out/variants/$vname/PARAMS"
done

mkdir -p "$out/bench/gpu" "$out/scripts/gpu"
cp bench/gpu/bench_gpu.py "$out/bench/gpu/"
cp scripts/gpu/run_on_gpu.sh "$out/scripts/gpu/"
chmod +x "$out/scripts/gpu/run_on_gpu.sh" "$out/bench/gpu/bench_gpu.py"
torch_diff=${GRIDSAMPLE_TORCH_DIFF:-../shared/tools/torch_diff.py}
if [[ -f "$torch_diff" ]]; then
    mkdir -p "$out/tools"
    cp "$torch_diff" "$out/tools/torch_diff.py"
else
    echo "prepare: no differential test at $torch_diff; the bundle runs without it" >&2
fi

{
    echo "# Written by scripts/gpu/prepare.sh; read by scripts/gpu/run_on_gpu.sh."
    echo "BUILD_TREE=$tree"
    echo "BUILD_SOURCE_DIR=$root"
    echo "BUNDLED_TEST_DATA=$needs_data"
    echo "TEST_FILTER='$cuda_filter'"
} > "$out/bundle.env"

{
    if commit=$(git rev-parse HEAD 2> /dev/null); then
        git diff --quiet HEAD 2> /dev/null || commit+=" with uncommitted changes"
    fi
    echo "commit: ${commit:-unknown}"
    echo "built: $(date -u '+%Y-%m-%d %H:%M UTC') on $(uname -n), $bdir: CPU levels" \
        "'$(sed -n 's/^GRIDSAMPLE_CPU_ISAS:[A-Z]*=//p' "$bdir/CMakeCache.txt")', GPU backends '$backends'"
    cxx=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$bdir/CMakeCache.txt")
    echo "compiler: $cxx $("${cxx:-c++}" -dumpfullversion 2> /dev/null || echo '?')"
    # The newest glibc and libstdc++ symbol versions the binaries need: the GPU machine must have
    # at least these.
    echo "needs: $(for f in "${tests[@]}" "$cli" "$lib"; do objdump -T "$f"; done |
        grep -oE '(GLIBC|GLIBCXX)_[0-9.]+' | sort -t_ -k1,1 -k2,2V -u |
        awk -F_ '{v[$1] = $0} END {for (k in v) printf "%s ", v[k]}')"
    echo "tests: ${tests[*]#"$bdir/tests/"}"
    for i in "${!variant_names[@]}"; do
        echo "schedule variant ${variant_names[$i]}: ${variant_about[$i]}"
    done
} > "$out/BUILD_INFO"

# xz with a 64 MiB dictionary: every executable links the same kernels, and a window wider than
# one executable stores them about once (gzip's 32 KiB window gave 60 MB where this gives 10).
tar -C build -cf - gpu-bundle | xz -9 -T2 > build/gpu-bundle.tar.xz
dir_bytes=$(du -sb "$out" | cut -f1)
tar_bytes=$(stat -c %s build/gpu-bundle.tar.xz)
mb() { awk -v b="$1" 'BEGIN {printf "%.1f MB", b / 1e6}'; }
echo "prepare: build/gpu-bundle.tar.xz: $(mb "$tar_bytes") (limit $limit_mb MB); unpacked" \
    "$(mb "$dir_bytes") in $(find "$out" -type f | wc -l) files"
if ((tar_bytes > limit_mb * 1000000)); then
    echo "prepare: the bundle exceeds ${limit_mb} MB; its largest files:" >&2
    find "$out" -type f -printf '%s %p\n' | sort -rn | head -8 >&2 || true
    exit 1
fi
echo "prepare: on the GPU machine: tar xJf gpu-bundle.tar.xz && cd gpu-bundle && scripts/gpu/run_on_gpu.sh [OUTPUT_DIR]"
