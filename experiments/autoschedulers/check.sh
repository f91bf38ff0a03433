#!/usr/bin/env bash
# The autoscheduler experiments' tools, checked on this machine in a few minutes (CI runs this
# after the release build, whose generators it uses):
#   - Adams2019's autotuning loop (autotune.py): one batch of 8 schedules of 2-D nearest
#     grid_sample built, timed, turned into training samples, and the cost model retrained,
#     beside the hand schedule with and without its lowering passes;
#   - the GPU kernels whose estimates work around autoscheduler failures
#     (generators/autoschedule/estimates.h) compile under those autoschedulers (sweep.py):
#     Li2018 on 2-D grid_sample_grad_input (CUDA and OpenCL), Mullapudi2016's GPU mode on 3-D
#     grid_sample (OpenCL; the workaround is the same for CUDA); and Anderson2021 on a
#     grid_sample_grad_input, whose fixed-point scale would be a scalar Func without its
#     workaround (algorithm/fixed_point.h, level3_parts). The last two take about 100 s each
#     and run side by side, one per core;
#   - the CPU kernels that the autoschedule-check build leaves out (it compiles float32 only)
#     compile under an autoscheduler too: the storage types' element conversions and 2-D nearest
#     grid_sample in float16, bfloat16 and uint8 (Mullapudi2016, a few seconds);
#   - coverage.py reads every committed sweep table against the release build's kernels;
#   - the merging of assertions inside autoscheduled GPU kernels (generators/autoschedule/
#     gpu_asserts.h): its reproduction (repro/gpu_device_asserts.cpp) builds its CUDA kernel with
#     the workaround, a few seconds.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
python="$root/.venv/bin/python"
work="$root/build/autotune-check"
rm -rf "$work"
"$python" "$here/autotune.py" grid_sample spatial_dims=2 mode=nearest padding=zeros dtype=float32 \
    --batches 1 --batch-size 8 --beam-size 4 --confirm-rounds 1 --min-time 0.1 --work "$work"
"$python" "$here/sweep.py" --autoscheduler Mullapudi2016 \
    --kernels '^(convert_elements_(f16_f32|f32_bf16)|grid_sample_2d_nearest_zeros_(f16|bf16|u8))_baseline$'
"$python" "$here/sweep.py" --autoscheduler Li2018 \
    --kernels '^grid_sample_grad_input_2d_bilinear_zeros_f32_(cuda|opencl)$'
"$python" "$here/coverage.py"
halide=$("$python" -c "import halide, os; print(os.path.dirname(halide.__file__))")
c++ -std=c++17 -O1 -I"$halide/include" -I"$root/generators" "$here/repro/gpu_device_asserts.cpp" \
    -o "$work/gpu_device_asserts" -Wl,-rpath,"$halide/lib64" "$halide/lib64/libHalide.so" -lpthread -ldl
"$work/gpu_device_asserts" workaround | tee "$work/gpu_device_asserts.log"
grep -q ": compiled" "$work/gpu_device_asserts.log"
# Side by side; each one's output is printed whole once both have finished.
"$python" "$here/sweep.py" --autoscheduler Mullapudi2016 \
    --kernels '^grid_sample_3d_bilinear_zeros_f32_opencl$' > "$work/mullapudi2016.log" 2>&1 &
mullapudi=$!
"$python" "$here/sweep.py" --autoscheduler Anderson2021 \
    --kernels '^grid_sample_grad_input_2d_nearest_zeros_f32_cuda$' > "$work/anderson2021.log" 2>&1 &
anderson=$!
status=0
wait "$mullapudi" || status=1
cat "$work/mullapudi2016.log"
wait "$anderson" || status=1
cat "$work/anderson2021.log"
exit "$status"
