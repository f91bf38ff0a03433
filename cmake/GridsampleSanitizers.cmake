# Sanitizers for the project's own C++ code: the runtime library, the tools, the tests and the
# fuzzers. (The Halide kernels are instrumented by Halide itself: the asan preset adds the asan
# target feature through GRIDSAMPLE_EXTRA_KERNEL_FEATURES, cmake/GridsampleVariants.cmake.)
#
# GRIDSAMPLE_SANITIZE: -fsanitize= values, e.g. "address;undefined" (preset asan) or "thread"
# (preset tsan). Every report is fatal (-fno-sanitize-recover=all), so a test that triggers one
# fails. gridsample_sanitizers carries the flags: the runtime library links it PUBLIC, so everything
# built on the library (CLI, tests, benchmarks, fuzzers) is instrumented the same way; the Halide
# generators, build-time tools, are not.
set(GRIDSAMPLE_SANITIZE "" CACHE STRING
    "Sanitizers for the runtime, tools and tests (-fsanitize= values, e.g. address;undefined)")
# GRIDSAMPLE_BUILD_FUZZERS: the libFuzzer targets of fuzz/ (clang only). Their corpus replay test
# is built by every compiler.
option(GRIDSAMPLE_BUILD_FUZZERS "Build the libFuzzer targets (needs clang)" OFF)

add_library(gridsample_sanitizers INTERFACE)
if (GRIDSAMPLE_SANITIZE)
    list(JOIN GRIDSAMPLE_SANITIZE "," sanitizers)
    target_compile_options(gridsample_sanitizers INTERFACE
                           -fsanitize=${sanitizers} -fno-sanitize-recover=all
                           -fno-omit-frame-pointer)
    target_link_options(gridsample_sanitizers INTERFACE -fsanitize=${sanitizers})
endif ()
if (GRIDSAMPLE_BUILD_FUZZERS AND NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "GRIDSAMPLE_BUILD_FUZZERS needs clang (libFuzzer); "
                        "CMAKE_CXX_COMPILER is ${CMAKE_CXX_COMPILER_ID}")
endif ()
