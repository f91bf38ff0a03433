# The one list of compiled kernel variants, and the targets they are compiled for.
#
# A variant is "<generator>:<name>:<generator params>" where params are comma-separated
# key=value pairs passed to the generator. The runtime's dispatch table is generated from this
# list (runtime/CMakeLists.txt), so adding a variant here is all it takes to compile it and
# make it reachable.

# CPU targets: every variant is compiled for each, and the runtime calls the best one the CPU
# supports (runtime/src/cpu_dispatch.cpp). GRIDSAMPLE_CPU_TARGET_ISAS names the gridsample::CpuIsa
# each entry of GRIDSAMPLE_CPU_TARGETS stands for (same order); it is also the suffix of the
# compiled functions (<variant>_<isa>). runtime/src/cpu_dispatch.cpp holds the CPU features each
# level requires. GRIDSAMPLE_TARGET_TRIPLE is Halide's arch-bits-os of the library's target.
if (CMAKE_SYSTEM_NAME STREQUAL "Android")
    set(gridsample_os android)
elseif (CMAKE_SYSTEM_NAME STREQUAL "Darwin")
    set(gridsample_os osx)
elseif (CMAKE_SYSTEM_NAME STREQUAL "iOS")
    set(gridsample_os ios)
else ()
    set(gridsample_os linux)
endif ()
if (CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64|ARM64)$")
    # 64-bit ARM: one level, NEON, which every AArch64 CPU has (it is the baseline there). Halide
    # 21's SVE2 code generation fails on these generators, and its SVE code is tied to one vector
    # length; the float kernels use neither dot products nor fp16 arithmetic.
    set(GRIDSAMPLE_TARGET_TRIPLE arm-64-${gridsample_os})
    set(GRIDSAMPLE_CPU_TARGETS arm-64-${gridsample_os})
    set(GRIDSAMPLE_CPU_TARGET_ISAS baseline)
else ()
    set(GRIDSAMPLE_TARGET_TRIPLE x86-64-${gridsample_os})
    # x86-64: features are spelled out in full because the CPU check tests exactly the listed bits.
    #
    # Two AVX-512 levels, because of gathers. Halide tells LLVM to avoid hardware gathers unless the
    # target's tuning says they are fast. avx512_gather is for CPUs whose gathers are fast: the
    # runtime picks it where the CPU has the AVX-512 extensions of AMD Zen 4 / Intel Sapphire Rapids
    # (BF16, VNNI, VBMI2, BITALG), which Skylake-SP to Ice Lake, whose gathers are slow since the
    # Gather Data Sampling microcode, lack. It is compiled for the Ice Lake feature set
    # (avx512_cannonlake) tuned for Zen 4 (tune_znver4: gathers allowed), not with Halide's
    # avx512_zen4 feature, which selects LLVM's znver4 CPU and lets it emit AMD-only instructions
    # (SSE4a's insertq crashed on Sapphire Rapids). avx512 is the Skylake-SP level without gathers.
    # Forward bilinear on the 8x64x128x128 workload, one thread of a Sapphire Rapids VM: 20-28 ms
    # with gathers, 36 ms without.
    set(GRIDSAMPLE_CPU_TARGETS
        x86-64-${gridsample_os}-avx512_cannonlake-avx512_skylake-avx2-avx-f16c-fma-sse41-tune_znver4
        x86-64-${gridsample_os}-avx512_skylake-avx2-avx-f16c-fma-sse41
        x86-64-${gridsample_os}-avx2-avx-f16c-fma-sse41
        x86-64-${gridsample_os}-sse41
        x86-64-${gridsample_os})
    set(GRIDSAMPLE_CPU_TARGET_ISAS avx512_gather avx512 avx2 sse41 baseline)
endif ()

# Which of these levels are compiled (a cache variable; the presets set it): "all", the default
# and what a release ships; "host", the baseline plus the highest level the build machine runs
# (the sanitizer presets, which compile every kernel again, instrumented: 2 of the 5 levels keep
# that build to about a third of the time); or a list of names from GRIDSAMPLE_CPU_TARGET_ISAS.
# The baseline is always compiled. The runtime runs the highest compiled level the CPU supports,
# up to set_max_cpu_isa() (runtime/src/cpu_dispatch.cpp).
set(GRIDSAMPLE_CPU_ISAS all CACHE STRING
    "CPU levels to compile: all, host (baseline + the build machine's best), or a list")
# Halide target features added to every kernel and to the Halide runtime (a cache variable; the
# presets set it), e.g. asan: Halide instruments the generated code for AddressSanitizer.
set(GRIDSAMPLE_EXTRA_KERNEL_FEATURES "" CACHE STRING
    "Halide features added to every kernel target and the runtime (e.g. asan)")
# Every level, lowest first: the order of gridsample::CpuIsa (runtime/CMakeLists.txt generates
# the per-level function tables from it).
set(GRIDSAMPLE_ALL_CPU_ISAS baseline sse41 avx2 avx512 avx512_gather)
include(GridsampleCpuIsas)
gridsample_select_cpu_isas("${GRIDSAMPLE_CPU_ISAS}")

# GPU backends: every variant is also compiled for each backend listed here (a cache variable; the
# presets set it), as <variant>_<backend>, from the same generators with their GPU schedules
# (generators/gpu/). The runtime runs them on tensors that live on that kind of device.
#   cuda    PTX for compute capability 7.5 (Turing) and newer: the PTX is JIT-compiled by the
#           driver for the GPU at hand (Halide 21's newest capability is 8.6). libcuda is loaded
#           at run time, so the build needs no CUDA toolkit and the library runs where no driver
#           is installed (a CUDA call then returns `unsupported`).
#   opencl  OpenCL 1.2 C, compiled by the device's driver at first use; float64 variants need
#           cl_khr_fp64 (cl_doubles), the deterministic grad_input 64-bit integer atomics
#           (cl_atomics64).
# The host side of a GPU kernel (argument checks, the launch) is plain x86-64 code.
set(GRIDSAMPLE_GPU_BACKENDS "cuda;opencl" CACHE STRING "GPU backends to compile: cuda, opencl, both or none")
set(GRIDSAMPLE_KNOWN_GPU_BACKENDS cuda opencl)
foreach (backend IN LISTS GRIDSAMPLE_GPU_BACKENDS)
    if (NOT backend IN_LIST GRIDSAMPLE_KNOWN_GPU_BACKENDS)
        message(FATAL_ERROR "GRIDSAMPLE_GPU_BACKENDS: unknown backend '${backend}' (known: cuda, opencl)")
    endif ()
endforeach ()
message(STATUS "gridsample: compiling the GPU backends '${GRIDSAMPLE_GPU_BACKENDS}' (GRIDSAMPLE_GPU_BACKENDS)")
set(GRIDSAMPLE_GPU_TARGET_cuda ${GRIDSAMPLE_TARGET_TRIPLE}-cuda-cuda_capability_75)
set(GRIDSAMPLE_GPU_TARGET_opencl ${GRIDSAMPLE_TARGET_TRIPLE}-opencl)
# The GPU target of one variant: the backend's target and what the variant needs of the device.
function(gridsample_gpu_target backend generator params out)
    set(target ${GRIDSAMPLE_GPU_TARGET_${backend}})
    if (backend STREQUAL "opencl")
        if (params MATCHES "dtype=float64")
            string(APPEND target "-cl_doubles")
        endif ()
        if (params MATCHES "dtype=float16")
            string(APPEND target "-cl_half")  # cl_khr_fp16; devices without it refuse (S13)
        endif ()
        if (generator STREQUAL "grid_sample_grad_input")
            string(APPEND target "-cl_atomics64")
        endif ()
    endif ()
    set(${out} ${target} PARENT_SCOPE)
endfunction()

# Features every kernel is compiled with. user_context carries per-call state (the error
# message buffer) into the runtime's error handler.
set(GRIDSAMPLE_KERNEL_FEATURES user_context)
# large_buffers: 64-bit indexing, so that a kernel call's tensors may span more than 2^31 - 1
# elements. halide_dimension_t still holds 32-bit extents and strides, and runtime/src/
# kernel_chunks.cpp splits calls that do not fit into batch items and channels.
#
# The backward and affine_grid kernels have it: no cost measurable (gathers take 64-bit indices
# either way). Kernels compiled both ways (one thread, Sapphire Rapids VM, min of 21 calls, two
# runs, 32-bit -> large_buffers, ms): grad_input feat bilinear zeros 23.8 -> 23.4, 23.9 -> 22.8;
# grad_grid 16.3 -> 16.8, 16.9 -> 16.5.
#
# The forward kernels (grid_sample, affine_grid_sample) do not: with 64-bit index arithmetic LLVM's
# loop vectorizer gives up on the channels-last RGB/RGBA loop (its stride-3 stores and loads) and
# runs it scalar. Image 1x3x1080x1920 bilinear zeros, channels-last, avx512_gather level, ms
# (min of 15 calls; 1 thread, 2 threads): 32-bit 25.1, 9.7; large_buffers 39.7, 25.0. Planar is
# the same either way (23.2 vs 23.0). The runtime keeps every forward kernel call within 32-bit
# indexing instead (kernel_chunks.cpp: each chunk's tensors hold at most 2^31 - 1 elements and
# span at most 2^31 - 1 elements per dimension), which leaves one limit: a forward call whose
# single channel plane (D x H x W of one batch item) exceeds 2^31 - 1 elements is refused.
# The forward kernels' lowering pass Int32GatherIndices (generators/cpu/gather_indices.h, 32-bit
# gather indices) relies on this too; it leaves out targets with large_buffers.
set(GRIDSAMPLE_WIDE_INDEXING_GENERATORS grid_sample_grad_input grid_sample_grad_grid affine_grid)
foreach (generator IN LISTS GRIDSAMPLE_WIDE_INDEXING_GENERATORS)
    list(APPEND GRIDSAMPLE_FEATURES_${generator} large_buffers)
endforeach ()
# Extra features per generator. The forward schedules leave the innermost sampling loop scalar
# for LLVM's loop vectorizer (enable_llvm_loop_opt), which emits hardware gathers where the
# target has fast ones; see generators/cpu/forward_schedule.h.
list(APPEND GRIDSAMPLE_FEATURES_grid_sample enable_llvm_loop_opt)
list(APPEND GRIDSAMPLE_FEATURES_affine_grid_sample enable_llvm_loop_opt)

# What is compiled (cache variables): a build for one app leaves out what the app never calls.
# The runtime answers a call for a variant left out with `unsupported`, naming the variant and the
# option that would compile it (runtime/src/build_options.cpp). The defaults compile everything.
#   GRIDSAMPLE_OPERATIONS  forward (grid_sample), fused (affine_grid_sample), affine_grid,
#                          backward (grid_sample_backward: grad_input and grad_grid)
#   GRIDSAMPLE_MODES       bilinear (trilinear in 3-D), nearest, bicubic (2-D only)
#   GRIDSAMPLE_PADDINGS    zeros, border, reflection
#   GRIDSAMPLE_DIMS        2, 3 (spatial dimensions: 4-D and 5-D tensors)
#   GRIDSAMPLE_DTYPES      float32, float64, and the storage types float16, bfloat16, uint8 (S10)
# GRIDSAMPLE_CPU_ISAS (above) picks the CPU levels and GRIDSAMPLE_GPU_BACKENDS the GPU backends.
set(GRIDSAMPLE_ALL_OPERATIONS forward fused affine_grid backward)
set(GRIDSAMPLE_ALL_MODES bilinear nearest bicubic)
set(GRIDSAMPLE_ALL_PADDINGS zeros border reflection)
set(GRIDSAMPLE_ALL_DIMS 2 3)
set(GRIDSAMPLE_ALL_DTYPES float32 float64 float16 bfloat16 uint8)
set(GRIDSAMPLE_OPERATIONS "${GRIDSAMPLE_ALL_OPERATIONS}" CACHE STRING
    "Operations to compile: forward, fused, affine_grid, backward")
set(GRIDSAMPLE_MODES "${GRIDSAMPLE_ALL_MODES}" CACHE STRING
    "Interpolation modes to compile: bilinear, nearest, bicubic")
set(GRIDSAMPLE_PADDINGS "${GRIDSAMPLE_ALL_PADDINGS}" CACHE STRING
    "Padding modes to compile: zeros, border, reflection")
set(GRIDSAMPLE_DIMS "${GRIDSAMPLE_ALL_DIMS}" CACHE STRING "Spatial dimensions to compile: 2, 3")
set(GRIDSAMPLE_DTYPES "${GRIDSAMPLE_ALL_DTYPES}" CACHE STRING
    "Element types to compile: float32, float64, float16, bfloat16, uint8")
# GRIDSAMPLE_TRIMMED: true when any of these leaves something out (tests/ then builds only the
# suite that checks the selection, since the others call every variant).
set(GRIDSAMPLE_TRIMMED FALSE)
foreach (option IN ITEMS OPERATIONS MODES PADDINGS DIMS DTYPES)
    if (NOT GRIDSAMPLE_${option})
        message(FATAL_ERROR "GRIDSAMPLE_${option} is empty (known: ${GRIDSAMPLE_ALL_${option}})")
    endif ()
    foreach (value IN LISTS GRIDSAMPLE_${option})
        if (NOT value IN_LIST GRIDSAMPLE_ALL_${option})
            message(FATAL_ERROR "GRIDSAMPLE_${option}: unknown value '${value}' "
                                "(known: ${GRIDSAMPLE_ALL_${option}})")
        endif ()
    endforeach ()
    foreach (value IN LISTS GRIDSAMPLE_ALL_${option})
        if (NOT value IN_LIST GRIDSAMPLE_${option})
            set(GRIDSAMPLE_TRIMMED TRUE)
        endif ()
    endforeach ()
endforeach ()
if (GRIDSAMPLE_TRIMMED)
    message(STATUS "gridsample: compiling operations ${GRIDSAMPLE_OPERATIONS}, modes "
                   "${GRIDSAMPLE_MODES}, paddings ${GRIDSAMPLE_PADDINGS}, dims ${GRIDSAMPLE_DIMS}, "
                   "dtypes ${GRIDSAMPLE_DTYPES}")
endif ()

# The generators of each operation.
set(GRIDSAMPLE_GENERATORS_forward grid_sample)
set(GRIDSAMPLE_GENERATORS_fused affine_grid_sample)
set(GRIDSAMPLE_GENERATORS_affine_grid affine_grid)
set(GRIDSAMPLE_GENERATORS_backward grid_sample_grad_input grid_sample_grad_grid)

# The storage types (S10: float16, bfloat16, uint8 tensors, float32 arithmetic) and which
# generators compile them. The sampling kernels take a float32 grid (theta for the fused ones);
# on the CPU the runtime converts a float16 or bfloat16 grid to float32 first (exact), with the
# convert_elements kernels, and runs the fused call, affine_grid and the backward through
# grid_sample's kernels and float32 ones. The GPU backends compile all of them, and
# float16/bfloat16 kernels that read a grid (theta) of their own type, <variant>_grid<dtype>: a
# GPU kernel costs a fraction of a second to compile, and conversions on the device would need
# device scratch memory. uint8 is forward only (S10), and has no affine_grid.
set(GRIDSAMPLE_STORAGE_DTYPES float16 bfloat16 uint8)
set(GRIDSAMPLE_STORAGE_GENERATORS grid_sample affine_grid_sample affine_grid
                                  grid_sample_grad_input grid_sample_grad_grid)
set(GRIDSAMPLE_STORAGE_CPU_GENERATORS grid_sample)
# The CPU levels that compile the storage types. A CPU between two of them runs the lower one's
# kernels for these dtypes (runtime/src/cpu_dispatch.cpp): sse41 the baseline's, avx512 (Skylake
# to Ice Lake) avx2's. Every storage variant compiled at every level would add about as much
# build time as the float32 and float64 kernels together; these three keep the two levels where
# most CPUs run (AVX2, and AVX-512 with fast gathers, where the float32 kernels they are measured
# against run too) and the baseline every x86-64 CPU runs.
set(GRIDSAMPLE_STORAGE_CPU_ISAS baseline avx2 avx512_gather)
# The CPU levels that compile float64, every generator, for the same reason: float64 is the
# dtype of exact comparisons rather than of speed, and its kernels at sse41 and avx512 took 14
# minutes of the release build's 160 minutes of compile jobs on 2 cores (ninja's log). An SSE4.1
# CPU runs the baseline's float64 kernels (on an AMD EPYC, 2-D bilinear 8x64x128x128, one
# thread: 56.9 / 57.7 ms baseline, 54.6 / 55.5 ms sse41, two runs), an AVX-512 CPU without fast
# gathers AVX2's. The same levels as the storage types (the tests' check_common.h assumes one set).
set(GRIDSAMPLE_FLOAT64_CPU_ISAS ${GRIDSAMPLE_STORAGE_CPU_ISAS})
# The short name of a dtype in variant names: f32, f64, f16, bf16, u8.
function(gridsample_dtype_suffix dtype out)
    set(suffix_float32 f32)
    set(suffix_float64 f64)
    set(suffix_float16 f16)
    set(suffix_bfloat16 bf16)
    set(suffix_uint8 u8)
    set(${out} ${suffix_${dtype}} PARENT_SCOPE)
endfunction()
# Whether a variant (an entry of GRIDSAMPLE_VARIANTS) is compiled at CPU level `isa`, or for
# the GPU backends (isa "gpu"). The GPUs compile every sampling variant, storage types included;
# the CPU levels the storage types at GRIDSAMPLE_STORAGE_CPU_ISAS, with a float32 grid only, and
# float64 at GRIDSAMPLE_FLOAT64_CPU_ISAS; the element conversions run on the CPU only.
function(gridsample_variant_at variant isa out)
    set(result TRUE)
    string(REGEX MATCH "^[^:]+" generator "${variant}")
    if (isa STREQUAL "gpu")
        if (generator STREQUAL "convert_elements" OR variant MATCHES "scattered_grid=true")
            set(result FALSE)
        endif ()
    else ()
        if (variant MATCHES "scattered_grid=true" AND NOT isa IN_LIST GRIDSAMPLE_SCATTERED_CPU_ISAS)
            set(result FALSE)
        endif ()
        if (variant MATCHES "grid_dtype=same")
            set(result FALSE)
        endif ()
        if (variant MATCHES "[:,]dtype=float64(,|$)" AND NOT isa IN_LIST GRIDSAMPLE_FLOAT64_CPU_ISAS)
            set(result FALSE)
        endif ()
        foreach (dtype IN LISTS GRIDSAMPLE_STORAGE_DTYPES)
            if (variant MATCHES "[:,](dtype|from|to)=${dtype}(,|$)"
                AND (NOT isa IN_LIST GRIDSAMPLE_STORAGE_CPU_ISAS
                     OR NOT (generator IN_LIST GRIDSAMPLE_STORAGE_CPU_GENERATORS
                             OR generator STREQUAL "convert_elements")))
                set(result FALSE)
            endif ()
        endforeach ()
    endif ()
    set(${out} ${result} PARENT_SCOPE)
endfunction()

# GRIDSAMPLE_COMPACT_KERNELS: size over speed for the forward's CPU kernels: the `compact`
# generator parameter (no channels-last RGB/RGBA specializations: such images take the general
# strided branch, same results, about 32 KB less per aarch64 forward kernel), and no
# scattered-grid variants (below). On by default in MinSizeRel builds (the trimmed presets).
if (CMAKE_BUILD_TYPE STREQUAL "MinSizeRel")
    set(compact_default ON)
else ()
    set(compact_default OFF)
endif ()
option(GRIDSAMPLE_COMPACT_KERNELS "Forward CPU kernels without the RGB/RGBA specializations"
       ${compact_default})
# The x86 baseline level (CPUs without SSE4.1, and virtual machines whose CPU model hides it: the
# fallback every variant has, for correctness everywhere rather than speed) compiles its forward
# kernels compact in every build: their channels-last RGB/RGBA images take the general strided
# branch there, with the same results. The specializations were 25-45% of a baseline forward
# kernel's compile time (2-D bilinear float32 5.0 s -> 3.1 s, bicubic 12.2 -> 9.1, uint8 bicubic
# 13.0 -> 7.1). What it costs there (gridsample_bench, image 1x3x1080x1920, one thread, AMD EPYC,
# two runs, ms, planar / channels-last): baseline (compact) bilinear 62.8-65.2 / 72.8-76.9,
# nearest 33.8-35.3 / 31.7-31.8, bicubic 199.7-200.8 / 166.5-183.1; sse41 (specialized) bilinear
# 47.1-51.1 / 40.1-42.6, nearest 23.9-26.7 / 17.2-20.2, bicubic 173.7-177.1 / 128.6-131.7.
set(GRIDSAMPLE_COMPACT_BASELINE FALSE)
if (NOT GRIDSAMPLE_TARGET_TRIPLE MATCHES "^arm")
    set(GRIDSAMPLE_COMPACT_BASELINE TRUE)
endif ()

# Scattered grids: 2-D bilinear float32 and float64 grid_sample has a second CPU kernel, with the
# schedule for grids whose points scatter over the input (generators/cpu/forward_schedule.h,
# kScatteredRows: channels-last blocks of V channels in L2, else taller tiles; 2-4x faster on a
# random grid, 7-15% slower on a smooth one), which the runtime
# calls for such grids (runtime/src/grid_sample.cpp). x86 only (ARM samples 2-D bilinear
# channels-last, unmeasured there), at the levels below (a CPU between two runs the lower one's),
# and not in compact or autoscheduled builds.
set(GRIDSAMPLE_SCATTERED_CPU_ISAS baseline avx2 avx512_gather)
set(gridsample_scattered_variants FALSE)
if (NOT GRIDSAMPLE_TARGET_TRIPLE MATCHES "^arm" AND NOT GRIDSAMPLE_COMPACT_KERNELS
    AND NOT GRIDSAMPLE_AUTOSCHEDULER)
    set(gridsample_scattered_variants TRUE)
endif ()

# The dtypes each generator compiles: those of the operations selected that use it. On the CPU
# the storage types' fused call, affine_grid and backward run through other kernels (above), so
# selecting them compiles those too: the fused call grid_sample's storage-type kernels and
# affine_grid in float32, affine_grid its float32 kernels, the backward its float32 kernels. The
# runtime still answers only what was selected (runtime/src/build_options.cpp: check_selected),
# so a build's interface is its selection, whatever its kernels.
set(GRIDSAMPLE_ALL_GENERATORS grid_sample affine_grid_sample affine_grid grid_sample_grad_input
                              grid_sample_grad_grid)
foreach (generator IN LISTS GRIDSAMPLE_ALL_GENERATORS)
    set(gridsample_dtypes_${generator} "")
endforeach ()
foreach (operation IN LISTS GRIDSAMPLE_OPERATIONS)
    foreach (generator IN LISTS GRIDSAMPLE_GENERATORS_${operation})
        list(APPEND gridsample_dtypes_${generator} ${GRIDSAMPLE_DTYPES})
    endforeach ()
endforeach ()
foreach (halide_type IN LISTS GRIDSAMPLE_DTYPES)
    if (NOT halide_type IN_LIST GRIDSAMPLE_STORAGE_DTYPES)
        continue()
    endif ()
    if ("fused" IN_LIST GRIDSAMPLE_OPERATIONS)
        list(APPEND gridsample_dtypes_grid_sample ${halide_type})
        list(APPEND gridsample_dtypes_affine_grid float32)
    endif ()
    if (NOT halide_type STREQUAL "uint8")
        if ("affine_grid" IN_LIST GRIDSAMPLE_OPERATIONS)
            list(APPEND gridsample_dtypes_affine_grid float32)
        endif ()
        if ("backward" IN_LIST GRIDSAMPLE_OPERATIONS)
            list(APPEND gridsample_dtypes_grid_sample_grad_input float32)
            list(APPEND gridsample_dtypes_grid_sample_grad_grid float32)
        endif ()
    endif ()
endforeach ()

# Every variant: the sampling operations in 2-D bilinear, nearest, bicubic and 3-D trilinear
# ("bilinear") and nearest, every padding, every dtype; affine_grid per dims and dtype.
# align_corners is a run-time argument of each variant. The backward (S9) is two kernels:
# grid_sample_grad_input (the scatter-add into grad_input) and grid_sample_grad_grid (the gather
# that gives grad_grid); the caller's choice of gradients picks which run.
set(GRIDSAMPLE_VARIANTS "")
set(GRIDSAMPLE_COMPILED_GENERATORS "")
foreach (generator IN LISTS GRIDSAMPLE_ALL_GENERATORS)
    if (NOT gridsample_dtypes_${generator})
        continue()
    endif ()
    list(APPEND GRIDSAMPLE_COMPILED_GENERATORS ${generator})
    # In GRIDSAMPLE_ALL_DTYPES' order.
    set(dtypes "")
    foreach (halide_type IN LISTS GRIDSAMPLE_ALL_DTYPES)
        if (halide_type IN_LIST gridsample_dtypes_${generator})
            list(APPEND dtypes ${halide_type})
        endif ()
    endforeach ()
    foreach (halide_type IN LISTS dtypes)
        gridsample_dtype_suffix(${halide_type} dtype)
        set(grid_dtype "")
        if (halide_type IN_LIST GRIDSAMPLE_STORAGE_DTYPES)
            if (NOT generator IN_LIST GRIDSAMPLE_STORAGE_GENERATORS
                OR (halide_type STREQUAL "uint8" AND NOT generator MATCHES
                                                      "^(grid_sample|affine_grid_sample)$"))
                continue()
            endif ()
            set(grid_dtype ",grid_dtype=float32")
        endif ()
        foreach (dims IN LISTS GRIDSAMPLE_DIMS)
            if (generator STREQUAL "affine_grid")
                # theta and the grid share the dtype (a storage type: GPU only).
                list(APPEND GRIDSAMPLE_VARIANTS
                     "affine_grid:affine_grid_${dims}d_${dtype}:spatial_dims=${dims},dtype=${halide_type}")
                continue()
            endif ()
            foreach (mode IN LISTS GRIDSAMPLE_MODES)
                if (dims EQUAL 3 AND mode STREQUAL "bicubic")
                    continue()
                endif ()
                foreach (padding IN LISTS GRIDSAMPLE_PADDINGS)
                    set(stem "${generator}_${dims}d_${mode}_${padding}_${dtype}")
                    set(params "spatial_dims=${dims},mode=${mode},padding=${padding},dtype=${halide_type}")
                    list(APPEND GRIDSAMPLE_VARIANTS "${generator}:${stem}:${params}${grid_dtype}")
                    if (grid_dtype AND NOT halide_type STREQUAL "uint8")
                        list(APPEND GRIDSAMPLE_VARIANTS
                             "${generator}:${stem}_grid${dtype}:${params},grid_dtype=same")
                    endif ()
                    if (gridsample_scattered_variants AND generator STREQUAL "grid_sample"
                        AND dims EQUAL 2 AND mode STREQUAL "bilinear" AND NOT grid_dtype)
                        list(APPEND GRIDSAMPLE_VARIANTS
                             "${generator}:${stem}_scattered:${params},scattered_grid=true")
                    endif ()
                endforeach ()
            endforeach ()
        endforeach ()
    endforeach ()
endforeach ()
# The conversions the runtime runs around the storage-type kernels (generators/
# convert_elements_generator.cpp): a float16 or bfloat16 grid or theta to float32, and float32
# results (affine_grid's grid) rounded to float16 or bfloat16.
foreach (halide_type IN ITEMS float16 bfloat16)
    if (halide_type IN_LIST GRIDSAMPLE_DTYPES)
        gridsample_dtype_suffix(${halide_type} dtype)
        list(APPEND GRIDSAMPLE_VARIANTS
             "convert_elements:convert_elements_${dtype}_f32:from=${halide_type},to=float32"
             "convert_elements:convert_elements_f32_${dtype}:from=float32,to=${halide_type}")
        if (NOT "convert_elements" IN_LIST GRIDSAMPLE_COMPILED_GENERATORS)
            list(APPEND GRIDSAMPLE_COMPILED_GENERATORS convert_elements)
        endif ()
    endif ()
endforeach ()
