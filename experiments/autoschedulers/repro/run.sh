#!/usr/bin/env bash
# Builds and runs the minimal reproductions of the Halide 21 autoscheduler failures that the
# generators work around, each without and with its workaround. Needs the project's .venv
# (scripts/bootstrap.sh). The failures print the autoscheduler's error; the workarounds print
# "scheduled".
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
halide=$("$root/.venv/bin/python" -c "import halide, os; print(os.path.dirname(halide.__file__))")
out=${1:-$root/build/autoscheduler-repro}
mkdir -p "$out"
for repro in strict_float_bounds anderson2021_tuple anderson2021_scalar_func li2018_gpu_reduction \
    li2018_var_names mullapudi2016_gpu_loop_of_one opencl_atomics64 opencl_count_leading_zeros \
    gpu_thread_loops gpu_thread_slices gpu_device_asserts; do
    c++ -std=c++17 -O1 -I"$halide/include" -I"$root/generators" "$here/$repro.cpp" -o "$out/$repro" \
        -Wl,-rpath,"$halide/lib64" "$halide/lib64/libHalide.so" -lpthread -ldl || exit 1
done
plugin() { echo "$halide/lib64/libautoschedule_$1.so"; }
# run <repro> <plugin name> [args...]: the reproduction without, then with, its workaround.
run() {
    local repro=$1 name=$2
    shift 2
    for mode in "" workaround; do
        "$out/$repro" "$(plugin "$name")" "$@" $mode 2>&1 | tr '\n' ' ' | head -c 400
        echo
    done
}
run strict_float_bounds li2018 Li2018
run strict_float_bounds adams2019 Adams2019
run anderson2021_tuple anderson2021
run anderson2021_scalar_func anderson2021
run li2018_gpu_reduction li2018
run li2018_var_names li2018
run mullapudi2016_gpu_loop_of_one mullapudi2016
# No autoscheduler plugin: the schedules are written out.
for mode in "" workaround; do
    "$out/gpu_device_asserts" $mode 2>&1 | tr '\n' ' ' | head -c 400
    echo
done
# Need an OpenCL device (PoCL here); no autoscheduler plugin.
for repro in opencl_atomics64 opencl_count_leading_zeros; do
    for mode in "" workaround; do
        "$out/$repro" $mode 2>&1 | tr '\n' ' ' | head -c 400
        echo
    done
done
# The heap corruption ends the process (a glibc heap error and SIGABRT, or SIGSEGV): its exit
# status is printed too.
for mode in "" at_thread workaround; do
    "$out/gpu_thread_loops" $mode > "$out/gpu_thread_loops.log" 2>&1
    status=$?
    echo "gpu_thread_loops ${mode:-(as scheduled)}: $(tr '\n' ' ' < "$out/gpu_thread_loops.log" | head -c 300)(exit $status)"
done
for mode in "" narrow workaround; do
    "$out/gpu_thread_slices" $mode > "$out/gpu_thread_slices.log" 2>&1
    status=$?
    echo "gpu_thread_slices ${mode:-(as scheduled)}: $(tr '\n' ' ' < "$out/gpu_thread_slices.log" | head -c 300)(exit $status)"
done
