#!/usr/bin/env bash
# Tests and benchmarks gridsample's CUDA kernels. Run on a machine with an NVIDIA GPU, from the
# bundle that scripts/gpu/prepare.sh makes (it needs no compiler, CMake or network there; Python 3
# with PyTorch built for CUDA for steps 2 and 3):
#
#   tar xJf gpu-bundle.tar.xz && cd gpu-bundle && scripts/gpu/run_on_gpu.sh [OUTPUT_DIR]
#   (without xz there: python3 -m tarfile -e gpu-bundle.tar.xz .)
#
# Steps, each under a timeout, all within a total budget of 8 minutes; a failed step does not stop
# the others:
#   1. each bundled test executable with its CUDA tests only (GoogleTest filter *Cuda*:*cuda*),
#      split into GRIDSAMPLE_GPU_TEST_SHARDS shards (default 4) that run side by side, at most
#      GRIDSAMPLE_GPU_TEST_JOBS processes at a time (default: the cores), 4 minutes for all;
#   2. the differential test of the CLI on CUDA against PyTorch (tools/torch_diff.py), when the
#      bundle has it, at most 90 seconds;
#   3. bench/gpu/bench_gpu.py, gridsample vs PyTorch CUDA, with the time left (gpu_latest.md,
#      gpu_latest.json; --quick when less than 150 seconds are left);
#   4. for each schedule variant in the bundle (prepare.sh's GRIDSAMPLE_GPU_SCHEDULE_VARIANTS and
#      GRIDSAMPLE_GPU_AUTOSCHEDULE_VARIANTS: other generator parameters, or an autoscheduler's
#      schedules), the float32 forward workloads of bench_gpu.py on that variant's library,
#      beside PyTorch (variant_NAME.md), GRIDSAMPLE_GPU_VARIANT_S seconds each (default 50, kept
#      from step 3).
# Every step's log goes to OUTPUT_DIR (default ./gpu-results), and summary.md lists every step
# with its result. Exit status: 0 when every step passed, 1 otherwise.
#
# It also runs from a checkout, on the build tree of prepare.sh (build/gpu, or build/$GRIDSAMPLE_PRESET),
# with every test_* executable there.
# Environment:
#   PYTHON                    the Python with PyTorch (default python3)
#   GRIDSAMPLE_CUDA_DEVICE    the CUDA device index (default 0)
#   GRIDSAMPLE_GPU_BUDGET_S   the total time budget in seconds (default 480)
#   GRIDSAMPLE_BENCH_ARGS     extra arguments for bench_gpu.py (e.g. --quick)
#   GRIDSAMPLE_GPU_TEST_FILTER  the GoogleTest filter of step 1 (default: the bundle's, *Cuda*:*cuda*)
#   GRIDSAMPLE_GPU_TEST_SHARDS, GRIDSAMPLE_GPU_TEST_JOBS  step 1's shards per executable (4) and
#                             processes at a time (the cores)
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=${1:-./gpu-results}
mkdir -p "$out" || exit 1
out=$(cd "$out" && pwd)
cd "$root" || exit 1

budget=${GRIDSAMPLE_GPU_BUDGET_S:-480}
python=${PYTHON:-python3}
dev=${GRIDSAMPLE_CUDA_DEVICE:-0}
deadline=$((SECONDS + budget - 5))  # the last seconds write the summary
remaining() { echo $((deadline - SECONDS)); }
min() { echo $(($1 < $2 ? $1 : $2)); }

# bundle.env (written by prepare.sh): the build tree, and the checkout the executables were built
# in.
BUILD_TREE=${GRIDSAMPLE_PRESET:-gpu}
BUILD_SOURCE_DIR=$root
if [[ -f bundle.env ]]; then
    # shellcheck source=/dev/null
    source bundle.env
fi
bdir=build/$BUILD_TREE
filter=${GRIDSAMPLE_GPU_TEST_FILTER:-${TEST_FILTER:-'*Cuda*:*cuda*'}}
cli=$bdir/tools/cli/gridsample
lib=$bdir/runtime/libgridsample_c.so
[[ -d lib ]] && export LD_LIBRARY_PATH="$root/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# The driver's JIT cache keeps the PTX it compiles for this GPU across the test processes.
export CUDA_CACHE_MAXSIZE=${CUDA_CACHE_MAXSIZE:-4294967296}
mapfile -t tests < <(find "$bdir/tests" -type f -name 'test_*' -perm -u+x 2> /dev/null | sort)
# With a GPU here, CUDA tests that all skip (no driver, no device for the library) are a failure.
gpu_present=no
timeout 30 nvidia-smi -L 2> /dev/null | grep -q '^GPU' && gpu_present=yes

summary=()  # the rows of summary.md's table
failed=0
record() {  # record STEP RESULT SECONDS LOG
    summary+=("| $1 | $2 | $3 | ${4:+$(basename "$4")} |")
    echo "== $1: $2 ($3 s)"
    [[ $2 == passed* || $2 == skipped* ]] || failed=1
}

# run_cmd LOG LIMIT CMD...: runs CMD under `timeout` with its output in LOG; sets step_result and
# step_secs.
run_cmd() {
    local log=$1 limit=$2 start=$SECONDS rc
    shift 2
    if ((limit < 5)); then
        echo "not run: no time left in the ${budget} s budget" > "$log"
        step_result="FAILED (not run: out of time)" step_secs=0
        return
    fi
    echo "== up to ${limit} s: $*"
    timeout -k 10 "$limit" "$@" > "$log" 2>&1
    rc=$?
    step_secs=$((SECONDS - start))
    if ((rc == 0)); then
        step_result=passed
    elif ((rc == 124 || rc == 137)); then
        step_result="FAILED (timed out after $limit s)"
    else
        step_result="FAILED (exit $rc)"
    fi
}

# The machine.
{
    echo "bundle: $root"
    [[ -f BUILD_INFO ]] && cat BUILD_INFO
    echo
    uname -a
    command -v nvidia-smi > /dev/null && timeout 30 nvidia-smi
    echo
    timeout 60 "$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda,
        "available", torch.cuda.is_available(), "devices", torch.cuda.device_count())'
    echo
    for f in "$cli" "$lib" "${tests[@]}"; do
        [[ -f "$f" ]] || { echo "missing: $f"; continue; }
        if ldd "$f" 2>&1 | grep -q 'not found'; then
            echo "$f: missing libraries:"
            ldd "$f" | grep 'not found'
        fi
    done
} > "$out/environment.log" 2>&1

# The test executables were compiled with absolute paths into the build machine's checkout: the
# golden data (BUILD_SOURCE_DIR/tests/data) and test_cli's CLI (BUILD_SOURCE_DIR/build/<tree>/
# tools/cli/gridsample). Where those do not exist here, link the highest missing directory of the
# path to its counterpart in the bundle, which has the same layout; the links go at exit.
made=()
# shellcheck disable=SC2317 # called by the trap
cleanup() {
    local i
    for ((i = ${#made[@]} - 1; i >= 0; i--)); do
        if [[ -L "${made[i]}" ]]; then rm -f "${made[i]}"; else rmdir "${made[i]}" 2> /dev/null; fi
    done
}
trap cleanup EXIT
link_if_missing() {  # link_if_missing PATH_RELATIVE_TO_THE_CHECKOUT
    local want=$BUILD_SOURCE_DIR/$1 p d dirs=()
    [[ -e "$want" || ! -e "$root/$1" ]] && return 0
    p=$want
    while [[ "$p" != "$BUILD_SOURCE_DIR" && ! -e "$(dirname "$p")" ]]; do p=$(dirname "$p"); done
    # The checkout's parent directories, where missing, are created (and removed at exit).
    d=$(dirname "$p")
    while [[ ! -e "$d" ]]; do dirs=("$d" "${dirs[@]}"); d=$(dirname "$d"); done
    if ((${#dirs[@]})); then mkdir -p "$(dirname "$p")" 2> /dev/null && made+=("${dirs[@]}"); fi
    if ln -s "$root${p#"$BUILD_SOURCE_DIR"}" "$p" 2> /dev/null; then
        made+=("$p")
        echo "linked $p -> $root${p#"$BUILD_SOURCE_DIR"}" >> "$out/environment.log"
    else
        echo "warning: cannot create $want; the tests that read it will fail" | tee -a "$out/environment.log"
    fi
}
if [[ "$BUILD_SOURCE_DIR" != "$root" ]]; then
    link_if_missing tests/data
    link_if_missing "$cli"
fi
# Read by the tests if they take the data directory from the environment.
export GRIDSAMPLE_TEST_DATA_DIR=$root/tests/data

# 1. The CUDA tests. Each executable is split into shards (GoogleTest's GTEST_TOTAL_SHARDS) and
# the shards of all of them run at once, at most test_jobs processes at a time, within 4 minutes
# in all: the CPU references and the driver's first compilation of each kernel spread over the
# cores. Each executable's shard logs are joined into one log.
test_jobs=${GRIDSAMPLE_GPU_TEST_JOBS:-$(nproc 2> /dev/null || echo 4)}
shards=${GRIDSAMPLE_GPU_TEST_SHARDS:-4}
tests_end=$((SECONDS + $(min 240 "$(remaining)")))
if ((${#tests[@]} == 0)); then
    echo "no test executables under $root/$bdir/tests" > "$out/tests.log"
    record "CUDA tests" "FAILED (no test executables)" 0 "$out/tests.log"
fi
echo "== CUDA tests: ${#tests[@]} executables x $shards shards, $test_jobs at a time, up to $((tests_end - SECONDS)) s"
for t in "${tests[@]}"; do
    name=$(basename "$t")
    for ((s = 0; s < shards; s++)); do
        while (($(jobs -rp | wc -l) >= test_jobs)); do wait -n; done
        left=$((tests_end - SECONDS))
        if ((left < 5)); then
            echo "not run: no time left for the tests" > "$out/$name.shard$s.log"
            echo "125 0" > "$out/$name.shard$s.rc"
            continue
        fi
        (
            begin=$SECONDS
            GTEST_TOTAL_SHARDS=$shards GTEST_SHARD_INDEX=$s timeout -k 10 "$left" "$t" \
                --gtest_filter="$filter" --gtest_output="xml:$out/$name.shard$s.xml" \
                --gtest_color=no > "$out/$name.shard$s.log" 2>&1
            echo "$? $((SECONDS - begin))" > "$out/$name.shard$s.rc"
        ) &
    done
done
wait
for t in "${tests[@]}"; do
    name=$(basename "$t")
    log="$out/$name.log"
    : > "$log"
    ran=0 passed=0 skipped=0 failed_tests=0 worst=0 step_secs=0
    for ((s = 0; s < shards; s++)); do
        shard_log="$out/$name.shard$s.log"
        read -r rc secs < "$out/$name.shard$s.rc" 2> /dev/null || { rc=125 secs=0; }
        { echo "===== shard $s of $shards: exit $rc, $secs s"; cat "$shard_log" 2> /dev/null; } >> "$log"
        rm -f "$shard_log" "$out/$name.shard$s.rc"
        ((secs > step_secs)) && step_secs=$secs
        # A timeout outranks any other failure.
        if ((rc == 124 || rc == 137)); then worst=124; elif ((rc != 0 && worst != 124)); then worst=$rc; fi
    done
    # GoogleTest's closing counts of every shard, e.g. "12 tests ran: 11 passed, 1 skipped".
    sum() { sed -nE "s/$1/\1/p" "$log" | awk '{n += $1} END {print n + 0}'; }
    ran=$(sum '^\[==========\] ([0-9]+) tests? from .* ran\..*')
    passed=$(sum '^\[  PASSED  \] ([0-9]+) tests?.*')
    skipped=$(sum '^\[  SKIPPED \] ([0-9]+) tests?.*')
    failed_tests=$(sum '^\[  FAILED  \] ([0-9]+) tests?.*')
    if ((worst == 0)); then
        step_result=passed
    elif ((worst == 124)); then
        step_result="FAILED (timed out)"
    elif ((worst == 125)); then
        step_result="FAILED (not run: out of time)"
    else
        step_result="FAILED (exit $worst)"
    fi
    if ((ran == 0)); then
        detail="; no CUDA tests"
    else
        detail="; $ran tests ran: $passed passed, $skipped skipped, $failed_tests failed"
    fi
    if [[ $gpu_present == yes && $step_result == passed ]] && ((ran != 0 && passed == 0)); then
        step_result="FAILED (every CUDA test skipped, with a GPU present)"
    fi
    record "$name (CUDA tests)" "$step_result$detail" "$step_secs" "$log"
done

# 2. The differential test against PyTorch, through the CLI on CUDA.
if [[ -f tools/torch_diff.py ]]; then
    limit=$(min 90 "$(remaining)")
    run_cmd "$out/torch_diff.log" "$limit" "$python" tools/torch_diff.py "$cli" \
        --device "cuda:$dev" --cases 300 --seconds $((limit > 40 ? limit - 20 : limit / 2))
    record "torch_diff (cuda:$dev)" "$step_result" "$step_secs" "$out/torch_diff.log"
else
    echo "skipped: the bundle has no tools/torch_diff.py" > "$out/torch_diff.log"
    record "torch_diff" "skipped (not in the bundle)" 0 "$out/torch_diff.log"
fi

# Schedule variants (prepare.sh, GRIDSAMPLE_GPU_SCHEDULE_VARIANTS and
# GRIDSAMPLE_GPU_AUTOSCHEDULE_VARIANTS): the bundle's
# variants/NAME/libgridsample_c.so, or in a checkout build/gpu-variant-NAME/runtime/. Step 4 gives
# each variant_s seconds, kept back from step 3.
mapfile -t variant_libs < <({
    find variants -mindepth 2 -maxdepth 2 -name libgridsample_c.so
    find build -mindepth 3 -maxdepth 3 -path 'build/gpu-variant-*/runtime/libgridsample_c.so'
} 2> /dev/null | sort)
variant_s=${GRIDSAMPLE_GPU_VARIANT_S:-50}

# 3. The benchmark, with the time left. It stops starting workloads when its own budget is spent
# and still writes its report.
limit=$(($(remaining) - ${#variant_libs[@]} * variant_s))
bench_args=(--device cuda --device-index "$dev" --output "$out/gpu_latest.md" --json "$out/gpu_latest.json"
    --budget-s $((limit > 60 ? limit - 30 : limit / 2)))
[[ -f BUILD_INFO ]] && bench_args+=(--build-info BUILD_INFO)
((limit < 150)) && bench_args+=(--quick)
# shellcheck disable=SC2086
run_cmd "$out/bench_gpu.log" "$limit" "$python" bench/gpu/bench_gpu.py "$lib" "${bench_args[@]}" \
    ${GRIDSAMPLE_BENCH_ARGS:-}
record "bench_gpu" "$step_result" "$step_secs" "$out/bench_gpu.log"

# 4. Each schedule variant's float32 forward workloads (the variant builds compile no other
# kernels), PyTorch timed beside it in the same run as in step 3, so that its ratios compare
# with step 3's rows of the same workloads.
forward_f32='^(feat|image|batch|volume64|volume96|small)_[a-z]+_[a-z]+(_ac)?$'
for v in "${variant_libs[@]}"; do
    name=$(basename "$(dirname "$v")")
    [[ $name == runtime ]] && name=$(basename "$(dirname "$(dirname "$v")")") && name=${name#gpu-variant-}
    run_cmd "$out/variant_$name.log" "$(min "$variant_s" "$(remaining)")" "$python" bench/gpu/bench_gpu.py \
        "$v" --device cuda --device-index "$dev" --only "$forward_f32" --output "$out/variant_$name.md" \
        --budget-s $((variant_s > 30 ? variant_s - 15 : variant_s / 2))
    record "variant $name (forward float32)" "$step_result" "$step_secs" "$out/variant_$name.log"
done

{
    echo "# gridsample on CUDA: tests and benchmark ($(date -u '+%Y-%m-%d %H:%M UTC'))"
    echo
    [[ -f BUILD_INFO ]] && sed 's/^/- /' BUILD_INFO && echo
    echo "| step | result | seconds | log |"
    echo "|---|---|---|---|"
    printf '%s\n' "${summary[@]}"
    echo
    if [[ -f "$out/gpu_latest.md" ]]; then
        echo "Benchmark (gpu_latest.md):"
        sed -n '/^- forward:/,/^Notes:/p' "$out/gpu_latest.md" | grep -v '^Notes:'
    fi
    for v in "$out"/variant_*.md; do
        [[ -f "$v" ]] || continue
        echo
        vname=$(basename "$v" .md | sed 's/^variant_//')
        about=""
        [[ -f "variants/$vname/PARAMS" ]] && about=": $(cat "variants/$vname/PARAMS")"
        echo "Schedule variant $vname$about ($(basename "$v")), against the same PyTorch rows:"
        grep -E '^- forward:' "$v"
    done
    echo "Overall: $( ((failed == 0)) && echo passed || echo FAILED)"
} > "$out/summary.md"
echo
cat "$out/summary.md"
exit $failed
