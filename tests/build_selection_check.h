// The checks of what a build compiles (GRIDSAMPLE_OPERATIONS, _MODES, _PADDINGS, _DIMS, _DTYPES;
// cmake/GridsampleVariants.cmake) against what it left out, for grid_sample and its backward on
// one placement: the CPU (test_build_selection.cpp) or a GPU device
// (device/test_device_build_selection.cpp), so that a trimmed build of the GPU kernels (an
// autoscheduler experiment on float32 only, say) is checked on the device too. Every compiled
// variant runs and matches the reference (S11) on every layout; every variant left out is refused
// with `unsupported`, a message that names the variant and the option (and value) that would
// compile it, and nothing written (S8). The including target defines GRIDSAMPLE_TEST_OPERATIONS
// and the others, each as ",a,b," (tests/CMakeLists.txt).
#pragma once

#include "backward_check.h"
#include "forward_check.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace gridsample_test {
namespace selection {

namespace gs = gridsample;

// The selection this build was configured with, each as ",a,b,".
inline bool has(const char* list, const std::string& value) {
    return std::strstr(list, ("," + value + ",").c_str()) != nullptr;
}

// The options (with the value each lacks) that leave a variant out; empty when it is compiled.
inline std::vector<std::string> missing_options(const char* operation, int dims,
                                                const gs::Interpolation* mode,
                                                const gs::Padding* padding, gs::DType dtype) {
    std::vector<std::string> missing;
    auto need = [&](const char* list, const std::string& value, const char* option) {
        if (!has(list, value)) missing.push_back("add " + value + " to " + std::string(option));
    };
    need(GRIDSAMPLE_TEST_OPERATIONS, operation, "GRIDSAMPLE_OPERATIONS");
    need(GRIDSAMPLE_TEST_DIMS, std::to_string(dims), "GRIDSAMPLE_DIMS");
    if (mode != nullptr) need(GRIDSAMPLE_TEST_MODES, mode_name(*mode), "GRIDSAMPLE_MODES");
    if (padding != nullptr) need(GRIDSAMPLE_TEST_PADDINGS, padding_name(*padding), "GRIDSAMPLE_PADDINGS");
    need(GRIDSAMPLE_TEST_DTYPES, gs::to_string(dtype), "GRIDSAMPLE_DTYPES");
    return missing;
}

// A refusal for a variant left out: `unsupported`, the variant's options named in the message.
inline void expect_refused(const gs::Status& status, const std::vector<std::string>& missing,
                           const std::string& what) {
    EXPECT_EQ(status.code(), gs::StatusCode::unsupported) << what << ": " << status.message();
    const std::string message = status.message();
    EXPECT_NE(message.find("not compiled into this build"), std::string::npos) << what << ": " << message;
    for (const std::string& m : missing) {
        // "add float64 to GRIDSAMPLE_DTYPES" reads "add float64 to GRIDSAMPLE_DTYPES (this build
        // has float32)" or, after the first, "... and float64 to GRIDSAMPLE_DTYPES ...".
        const std::string tail = m.substr(4);
        EXPECT_NE(message.find(tail), std::string::npos)
            << what << ": the message does not say \"" << tail << "\": " << message;
    }
}

// A variant left out, called on `where`: refused (where the placement runs the dtype at all,
// refused for being left out), nothing written.
inline void expect_refused_on(const Placement& where, gs::DType dtype, const gs::Status& status,
                              const std::vector<std::string>& missing, const std::string& what) {
    if (where.unsupported_reason(dtype, false).empty()) {
        expect_refused(status, missing, what + " on " + where.name());
    } else {
        EXPECT_EQ(status.code(), gs::StatusCode::unsupported) << what << ": " << status.message();
    }
}

struct Counts {
    int ran = 0, refused = 0;
};

// The counts as properties of the running test (in its XML report).
inline void record(const Counts &counts) {
    ::testing::Test::RecordProperty("ran", counts.ran);
    ::testing::Test::RecordProperty("refused", counts.refused);
}

// grid_sample: every kernel family x padding x dtype; a compiled variant on every layout.
inline Counts check_forward_selection(const Placement& where, uint64_t seed) {
    Counts counts;
    for (const Kernel& kernel : kKernels) {
        for (gs::Padding padding : kPaddings) {
            for (gs::DType dtype : kDTypes) {
                const forward::Case cs = forward::random_case(kernel, padding, (seed & 1) != 0, dtype,
                                                              forward::Layout::contiguous, seed);
                ++seed;
                const std::vector<std::string> missing =
                    missing_options("forward", kernel.dims, &kernel.mode, &padding, dtype);
                if (missing.empty()) {
                    // Every layout, so that the specializations a build compiles (or, with
                    // GRIDSAMPLE_COMPACT_KERNELS, leaves to the general strided branch) are all
                    // checked against the reference.
                    for (forward::Layout layout : forward::kLayouts) {
                        const forward::Case lc = forward::random_case(
                            kernel, padding, (seed & 1) != 0, dtype, layout, seed * 8 + 1);
                        const bool ran = forward::check_random_case(lc, where).ran;
                        EXPECT_TRUE(ran || !where.unsupported_reason(dtype, false).empty())
                            << lc.describe();
                    }
                    ++counts.ran;
                    continue;
                }
                Rng rng(seed);
                const ref::Array input = forward::random_input(cs, rng);
                const ref::Array grid = forward::random_grid(cs, rng, 0.0);
                const forward::LibraryResult got = forward::run_library(cs, input, grid, where);
                expect_refused_on(where, dtype, got.status, missing, "grid_sample " + cs.describe());
                EXPECT_EQ(got.touched_inside + got.touched_outside, 0) << cs.describe();
                ++counts.refused;
            }
        }
    }
    return counts;
}

// grid_sample_backward: every kernel family x padding x dtype x gradient asked for.
inline Counts check_backward_selection(const Placement& where, uint64_t seed) {
    Counts counts;
    for (const Kernel& kernel : kKernels) {
        for (gs::Padding padding : kPaddings) {
            for (gs::DType dtype : kDTypes) {
                for (backward::Want want : backward::kWants) {
                    const backward::Case cs =
                        backward::random_case(kernel, padding, (seed & 1) != 0, dtype,
                                              backward::Layout::contiguous, want, seed);
                    ++seed;
                    const std::vector<std::string> missing =
                        missing_options("backward", kernel.dims, &kernel.mode, &padding, dtype);
                    if (missing.empty()) {
                        const bool ran = backward::check_random_case(cs, where).ran;
                        EXPECT_TRUE(ran || !where.unsupported_reason(dtype, backward::wants_input(want)).empty())
                            << cs.describe();
                        ++counts.ran;
                        continue;
                    }
                    const backward::CaseData d = backward::random_data(cs, 0.0);
                    const backward::LibraryResult got =
                        backward::run_library(cs, d.grad_output, d.input, d.grid, where);
                    expect_refused_on(where, dtype, got.status, missing,
                                      "grid_sample_backward " + cs.describe());
                    const backward::GradientResult& gi = got.grad_input;
                    const backward::GradientResult& gg = got.grad_grid;
                    EXPECT_EQ(gi.touched_inside + gi.touched_outside + gg.touched_inside +
                                  gg.touched_outside,
                              0)
                        << cs.describe();
                    ++counts.refused;
                }
            }
        }
    }
    return counts;
}

}  // namespace selection
}  // namespace gridsample_test
