# gridsample_select_cpu_isas(<spec>): keeps the CPU levels of GRIDSAMPLE_CPU_TARGETS /
# GRIDSAMPLE_CPU_TARGET_ISAS that <spec> (GRIDSAMPLE_CPU_ISAS) asks for, in the caller's scope:
#   all          every level;
#   host         the baseline plus the highest level whose target features the build machine
#                has (Halide's own host detection, through the virtual environment's Python; the
#                runtime may still ask more of the CPU, runtime/src/cpu_dispatch.cpp, and fall
#                back to the baseline);
#   <list>       those names (baseline is added when missing).

# The Halide features of a target string ("x86-64-linux-avx2-avx-..." -> "avx2;avx;...").
function(_gridsample_target_features target out)
    string(REPLACE "-" ";" parts "${target}")
    list(REMOVE_AT parts 0 1 2)  # arch, bits, os
    set(${out} "${parts}" PARENT_SCOPE)
endfunction()

# The highest entry of GRIDSAMPLE_CPU_TARGET_ISAS (listed highest first) the build machine runs.
function(_gridsample_host_isa out)
    set(${out} baseline PARENT_SCOPE)
    execute_process(COMMAND "${Python_EXECUTABLE}" -c "import halide; print(halide.get_host_target())"
                    OUTPUT_VARIABLE host RESULT_VARIABLE result ERROR_QUIET
                    OUTPUT_STRIP_TRAILING_WHITESPACE)
    if (NOT result EQUAL 0)
        message(WARNING "GRIDSAMPLE_CPU_ISAS=host: cannot ask Halide for the host target "
                        "(${Python_EXECUTABLE}); compiling the baseline only")
        return()
    endif ()
    _gridsample_target_features("${host}" host_features)
    # The host target names only the highest AVX-512 level, and these imply Zen 4's set
    # (HalideRuntime.h: "includes all of the Zen4 features").
    if ("avx512_sapphirerapids" IN_LIST host_features OR "avx512_zen5" IN_LIST host_features)
        list(APPEND host_features avx512_zen4)
    endif ()
    foreach (target isa IN ZIP_LISTS GRIDSAMPLE_CPU_TARGETS GRIDSAMPLE_CPU_TARGET_ISAS)
        _gridsample_target_features("${target}" wanted)
        list(FILTER wanted EXCLUDE REGEX "^tune_")  # tuning, not a CPU requirement
        set(missing ${wanted})
        list(REMOVE_ITEM missing ${host_features})
        if (NOT missing)
            message(STATUS "GRIDSAMPLE_CPU_ISAS=host: ${host} runs ${isa}")
            set(${out} ${isa} PARENT_SCOPE)
            return()
        endif ()
    endforeach ()
endfunction()

function(gridsample_select_cpu_isas spec)
    if (spec STREQUAL "all" OR spec STREQUAL "")
        return()
    elseif (spec STREQUAL "host")
        _gridsample_host_isa(best)
        set(keep baseline ${best})
    else ()
        set(keep baseline ${spec})
        foreach (isa IN LISTS spec)
            if (NOT isa IN_LIST GRIDSAMPLE_CPU_TARGET_ISAS)
                message(FATAL_ERROR "GRIDSAMPLE_CPU_ISAS: unknown level '${isa}' "
                                    "(known: all, host, ${GRIDSAMPLE_CPU_TARGET_ISAS})")
            endif ()
        endforeach ()
    endif ()
    set(targets "")
    set(isas "")
    foreach (target isa IN ZIP_LISTS GRIDSAMPLE_CPU_TARGETS GRIDSAMPLE_CPU_TARGET_ISAS)
        if (isa IN_LIST keep)
            list(APPEND targets ${target})
            list(APPEND isas ${isa})
        endif ()
    endforeach ()
    message(STATUS "gridsample: compiling the CPU levels ${isas} (GRIDSAMPLE_CPU_ISAS=${spec})")
    set(GRIDSAMPLE_CPU_TARGETS ${targets} PARENT_SCOPE)
    set(GRIDSAMPLE_CPU_TARGET_ISAS ${isas} PARENT_SCOPE)
endfunction()
