#!/usr/bin/env bash
# An LLVM crash met by AnyShape's llvm_vectorize=1 (generators/autoschedule/any_shape.h): the
# 3-D bilinear reflection affine_grid_sample kernel, scheduled by Mullapudi2016, its output loops
# left to LLVM's loop vectorizer, for the avx512_gather level (AVX-512 with tune_znver4). LLVM's
# X86 instruction encoder stops the generator with
#   X86MCCodeEmitter.cpp:174: X86OpcodePrefixHelper::setR2: Assertion `(!R2 || (Kind <= REX2 ||
#   Kind == EVEX)) && "invalid setting"' failed.
# The same kernel compiles when the target drops tune_znver4, and without llvm_vectorize=1 (the
# autoscheduler's own vectorized loops). It matches llvm/llvm-project#129740 (the same assertion
# under -march=znver4, fixed in LLVM's main branch in March 2025, after the LLVM that Halide 21
# links). Builds that use the knob leave it off for this kernel:
#   -DGRIDSAMPLE_AUTOSCHEDULER_PARAMS_FOR='^affine_grid_sample_3d_bilinear_reflection_f32_avx512_gather$:llvm_vectorize=0'
#
# Needs the release build's generators (cmake --build --preset release --target
# affine_grid_sample.generator). Prints the generator's last line with and without tune_znver4.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
halide=$("$root/.venv/bin/python" -c "import halide, os; print(os.path.dirname(halide.__file__))")
out=${1:-$root/build/autoscheduler-repro/llvm_vectorize_znver4}
mkdir -p "$out"
base=x86-64-linux-avx512_cannonlake-avx512_skylake-avx2-avx-f16c-fma-sse41
for tune in -tune_znver4 ""; do
    log="$out/log$tune.txt"
    if "$root/build/release/generators/affine_grid_sample.generator" -g affine_grid_sample \
        -f kernel -n kernel -e object -o "$out" -p "$halide/lib64/libautoschedule_mullapudi2016.so" \
        "target=$base$tune-user_context-enable_llvm_loop_opt-no_runtime" \
        spatial_dims=3 mode=bilinear padding=reflection dtype=float32 \
        autoscheduler=AnyShape autoscheduler.base=Mullapudi2016 autoscheduler.parallelism=2 \
        autoscheduler.llvm_vectorize=1 > "$log" 2>&1; then
        result=compiled
    else
        result=$(grep -v '^Warning' "$log" | tail -1 | cut -c1-160)
    fi
    echo "target${tune:-" (no tune)"}: $result"
done
