# The one list of compiled kernel variants, and the targets they are compiled for.
#
# A variant is "<generator>:<name>:<generator params>" where params are comma-separated
# key=value pairs passed to the generator. The runtime's dispatch table is generated from this
# list (runtime/CMakeLists.txt), so adding a variant here is all it takes to compile it and
# make it reachable.

# x86-64 targets: every variant is compiled for each, and the runtime calls the best one the CPU
# supports (runtime/src/cpu_dispatch.cpp). Features are spelled out in full because the CPU check
# tests exactly the listed bits.
#
# Two AVX-512 levels, because of gathers: Halide tells LLVM to avoid hardware gathers unless the
# target implies a CPU where they are fast. avx512_zen4 (AMD Zen 4 and later, Intel Sapphire Rapids
# and later) has them; avx512 (Skylake-SP to Ice Lake, whose gathers are slow since the Gather
# Data Sampling microcode) does not. Forward bilinear on the feature-map workload, one thread of
# a Sapphire Rapids VM: 20-28 ms with gathers, 36 ms without.
set(GRIDSAMPLE_X86_TARGETS
    x86-64-linux-avx512_zen4-avx512_cannonlake-avx512_skylake-avx2-avx-f16c-fma-sse41
    x86-64-linux-avx512_skylake-avx2-avx-f16c-fma-sse41
    x86-64-linux-avx2-avx-f16c-fma-sse41
    x86-64-linux-sse41
    x86-64-linux)
# The gridsample::CpuIsa each entry of GRIDSAMPLE_X86_TARGETS stands for (same order); it is also
# the suffix of the compiled functions (<variant>_<isa>).
set(GRIDSAMPLE_X86_TARGET_ISAS avx512_zen4 avx512 avx2 sse41 baseline)

# Features every kernel is compiled with. user_context carries per-call state (the error
# message buffer) into the runtime's error handler.
set(GRIDSAMPLE_KERNEL_FEATURES user_context)
# Extra features per generator. The forward schedules leave the innermost sampling loop scalar
# for LLVM's loop vectorizer (enable_llvm_loop_opt), which emits hardware gathers where the
# target has fast ones; see generators/grid_sample_forward.h.
set(GRIDSAMPLE_FEATURES_grid_sample enable_llvm_loop_opt)

set(GRIDSAMPLE_VARIANTS "")
foreach (dtype IN ITEMS f32 f64)
    if (dtype STREQUAL "f32")
        set(halide_type float32)
    else ()
        set(halide_type float64)
    endif ()
    # grid_sample forward: 2-D bilinear, nearest, bicubic; 3-D trilinear ("bilinear") and
    # nearest; every padding. align_corners is a run-time argument of each variant.
    foreach (dims IN ITEMS 2 3)
        if (dims EQUAL 2)
            set(modes bilinear nearest bicubic)
        else ()
            set(modes bilinear nearest)
        endif ()
        foreach (mode IN LISTS modes)
            foreach (padding IN ITEMS zeros border reflection)
                list(APPEND GRIDSAMPLE_VARIANTS
                     "grid_sample:grid_sample_${dims}d_${mode}_${padding}_${dtype}:spatial_dims=${dims},mode=${mode},padding=${padding},dtype=${halide_type}")
            endforeach ()
        endforeach ()
        list(APPEND GRIDSAMPLE_VARIANTS
             "affine_grid:affine_grid_${dims}d_${dtype}:spatial_dims=${dims},dtype=${halide_type}")
    endforeach ()
endforeach ()

# grid_sample backward (S9), the same modes, paddings and dtypes as the forward, as two kernels:
# grid_sample_grad_input (the scatter-add into grad_input) and grid_sample_grad_grid (the gather
# that gives grad_grid). The caller's choice of gradients picks which run.
foreach (dtype IN ITEMS f32 f64)
    if (dtype STREQUAL "f32")
        set(halide_type float32)
    else ()
        set(halide_type float64)
    endif ()
    foreach (dims IN ITEMS 2 3)
        if (dims EQUAL 2)
            set(modes bilinear nearest bicubic)
        else ()
            set(modes bilinear nearest)
        endif ()
        foreach (mode IN LISTS modes)
            foreach (padding IN ITEMS zeros border reflection)
                foreach (generator IN ITEMS grid_sample_grad_input grid_sample_grad_grid)
                    list(APPEND GRIDSAMPLE_VARIANTS
                         "${generator}:${generator}_${dims}d_${mode}_${padding}_${dtype}:spatial_dims=${dims},mode=${mode},padding=${padding},dtype=${halide_type}")
                endforeach ()
            endforeach ()
        endforeach ()
    endforeach ()
endforeach ()
