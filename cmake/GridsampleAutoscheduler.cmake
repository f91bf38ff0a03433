# Kernels scheduled by one of Halide's autoschedulers instead of the hand schedules of
# generators/cpu and generators/gpu (cache variables; empty, the default, keeps the hand schedules):
#
#   GRIDSAMPLE_AUTOSCHEDULER             the CPU kernels: Mullapudi2016, Li2018 or Adams2019
#   GRIDSAMPLE_AUTOSCHEDULER_PARAMS      its parameters, key=value;... (e.g. parallelism=2;beam_size=32)
#   GRIDSAMPLE_GPU_AUTOSCHEDULER         the GPU kernels: Mullapudi2016 (its experimental GPU mode,
#                                        switched on here), Li2018 or Anderson2021
#   GRIDSAMPLE_GPU_AUTOSCHEDULER_PARAMS  its parameters
#   GRIDSAMPLE_AUTOSCHEDULER_PARAMS_FOR  per-kernel parameters, CPU and GPU: a list of
#                                        REGEX:key=value,key=value,... entries; a kernel whose
#                                        name (<variant>_<level or backend>) matches REGEX takes
#                                        those parameters over the ones above, later entries over
#                                        earlier ones. For example, Adams2019's beam search for the
#                                        2-D bilinear forward and its greedy search elsewhere:
#   -DGRIDSAMPLE_AUTOSCHEDULER_PARAMS="parallelism=2;beam_size=1"
#   -DGRIDSAMPLE_AUTOSCHEDULER_PARAMS_FOR="^(affine_)?grid_sample_2d_bilinear_:beam_size=32"
#
# The algorithm is the same either way; the generators only skip their schedules
# (using_autoscheduler()). Each kernel runs through the AnyShape wrapper
# (generators/autoschedule/any_shape.h), which lets the chosen autoscheduler schedule it and then
# guards every split's tail, so that the kernels accept every shape as the hand-scheduled ones
# do. Beside each kernel the build keeps what an experimenter reads, in build/<preset>/generators/:
# <kernel>.schedule.h (the schedule, as C++), <kernel>.stmt (Halide's lowered statement) and, for
# Adams2019 and Anderson2021, <kernel>.featurization (the cost model's input).
#
# GRIDSAMPLE_RUNGEN (on in the autoschedule-* presets) adds, for every CPU kernel, a target
# <kernel>.rungen: Halide's RunGen driver (Halide::RunGenMain) around that one kernel, for quick
# experiments on one variant, for example
#   cmake --build --preset autoschedule-adams2019 --target grid_sample_2d_bilinear_zeros_f32_avx2.rungen
#   build/autoschedule-adams2019/generators/grid_sample_2d_bilinear_zeros_f32_avx2.rungen \
#       --benchmarks=all --estimate_all --parsable_output
# which times the kernel on random data of the generator's estimated shapes. The targets are
# built only when asked for.
set(GRIDSAMPLE_AUTOSCHEDULER "" CACHE STRING
    "Autoscheduler for the CPU kernels (Mullapudi2016, Li2018, Adams2019; empty: hand schedules)")
set(GRIDSAMPLE_AUTOSCHEDULER_PARAMS "" CACHE STRING
    "Parameters of GRIDSAMPLE_AUTOSCHEDULER, key=value;...")
set(GRIDSAMPLE_GPU_AUTOSCHEDULER "" CACHE STRING
    "Autoscheduler for the GPU kernels (Mullapudi2016, Li2018, Anderson2021; empty: hand schedules)")
set(GRIDSAMPLE_GPU_AUTOSCHEDULER_PARAMS "" CACHE STRING
    "Parameters of GRIDSAMPLE_GPU_AUTOSCHEDULER, key=value;...")
set(GRIDSAMPLE_AUTOSCHEDULER_PARAMS_FOR "" CACHE STRING
    "Per-kernel autoscheduler parameters, REGEX:key=value,...;... (over the _PARAMS above)")
# Per-kernel parameters, a list of REGEX:key=value,... entries (GRIDSAMPLE_AUTOSCHEDULER_PARAMS_FOR
# here, GRIDSAMPLE_GPU_GENERATOR_PARAMS_FOR in generators/CMakeLists.txt): a malformed entry of
# list variable `option` is a configure error.
function(gridsample_check_params_for option)
    foreach (entry IN LISTS ${option})
        if (NOT entry MATCHES "^.+:[A-Za-z0-9_.]+=[^,]+(,[A-Za-z0-9_.]+=[^,]+)*$")
            message(FATAL_ERROR "${option}: '${entry}' is not REGEX:key=value,key=value,...")
        endif ()
    endforeach ()
endfunction()

# <out>: the key=value list `pairs` with the pairs of every entry of list variable `option` whose
# REGEX matches kernel `name` applied in order, a key given again replacing the earlier one.
function(gridsample_params_for option name pairs out)
    foreach (entry IN LISTS ${option})
        string(FIND "${entry}" ":" colon REVERSE)
        string(SUBSTRING "${entry}" 0 ${colon} regex)
        math(EXPR start "${colon} + 1")
        string(SUBSTRING "${entry}" ${start} -1 own)
        if (name MATCHES "${regex}")
            string(REPLACE "," ";" own "${own}")
            foreach (pair IN LISTS own)
                string(REGEX REPLACE "=.*" "" key "${pair}")
                list(FILTER pairs EXCLUDE REGEX "^${key}=")
                list(APPEND pairs "${pair}")
            endforeach ()
        endif ()
    endforeach ()
    set(${out} "${pairs}" PARENT_SCOPE)
endfunction()

gridsample_check_params_for(GRIDSAMPLE_AUTOSCHEDULER_PARAMS_FOR)
option(GRIDSAMPLE_RUNGEN "A RunGen benchmark driver target (<kernel>.rungen) for every CPU kernel" OFF)

set(GRIDSAMPLE_CPU_AUTOSCHEDULERS Mullapudi2016 Li2018 Adams2019)
set(GRIDSAMPLE_GPU_AUTOSCHEDULERS Mullapudi2016 Li2018 Anderson2021)
foreach (kind IN ITEMS CPU GPU)
    set(option GRIDSAMPLE_AUTOSCHEDULER)
    if (kind STREQUAL "GPU")
        set(option GRIDSAMPLE_GPU_AUTOSCHEDULER)
    endif ()
    if (${option} AND NOT ${option} IN_LIST GRIDSAMPLE_${kind}_AUTOSCHEDULERS)
        message(FATAL_ERROR "${option}: unknown or unsupported autoscheduler '${${option}}' "
                            "(for ${kind} kernels: ${GRIDSAMPLE_${kind}_AUTOSCHEDULERS})")
    endif ()
    if (${option})
        if (NOT TARGET Halide::${${option}})
            message(FATAL_ERROR "${option}: Halide's plugin Halide::${${option}} was not found")
        endif ()
        message(STATUS "gridsample: ${kind} kernels scheduled by ${${option}} "
                       "(${option}_PARAMS: ${${option}_PARAMS})")
    endif ()
endforeach ()

# The extra add_halide_library() arguments of kernel `name` on `kind` (CPU or GPU), under the
# autoscheduler: <out>_params, the generator parameters that run AnyShape (to add to PARAMS), and
# <out>_args, the plugin and the outputs kept for study. Both empty under the hand schedules.
function(gridsample_autoschedule_args kind name out)
    set(option GRIDSAMPLE_AUTOSCHEDULER)
    if (kind STREQUAL "GPU")
        set(option GRIDSAMPLE_GPU_AUTOSCHEDULER)
    endif ()
    set(scheduler "${${option}}")
    if (NOT scheduler)
        set(${out}_params "" PARENT_SCOPE)
        set(${out}_args "" PARENT_SCOPE)
        return()
    endif ()
    set(params autoscheduler=AnyShape autoscheduler.base=${scheduler})
    if (kind STREQUAL "GPU" AND scheduler STREQUAL "Mullapudi2016")
        list(APPEND params autoscheduler.experimental_gpu_schedule=1)
    endif ()
    # key=value pairs, the kernel's own (GRIDSAMPLE_AUTOSCHEDULER_PARAMS_FOR) replacing the
    # build's, each key given once.
    gridsample_params_for(GRIDSAMPLE_AUTOSCHEDULER_PARAMS_FOR ${name} "${${option}_PARAMS}" pairs)
    foreach (param IN LISTS pairs)
        list(APPEND params autoscheduler.${param})
    endforeach ()
    set(args PLUGINS Halide::${scheduler} SCHEDULE ${name}_schedule STMT ${name}_stmt)
    if (scheduler MATCHES "^(Adams2019|Anderson2021)$")
        list(APPEND args FEATURIZATION ${name}_featurization)
    endif ()
    set(${out}_params "${params}" PARENT_SCOPE)
    set(${out}_args "${args}" PARENT_SCOPE)
endfunction()
