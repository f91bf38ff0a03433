// Test parameters shared by the suites: every forward variant (spatial dims, mode, padding,
// dtype) the library compiles (bicubic is 2-D only, S8), and every CPU level of the dispatcher.
#pragma once

#include "gridsample/gridsample.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace gridsample_test {

struct ForwardConfig {
    int dims;
    gridsample::Interpolation mode;
    gridsample::Padding padding;
    gridsample::DType dtype;
};

// "2d_bilinear_zeros_float32": the test name suffix of a config.
inline std::string config_name(const testing::TestParamInfo<ForwardConfig>& info) {
    using gridsample::to_string;
    const ForwardConfig& c = info.param;
    return std::to_string(c.dims) + "d_" + to_string(c.mode) + "_" + to_string(c.padding) + "_" +
           to_string(c.dtype);
}

inline std::vector<ForwardConfig> all_forward_configs() {
    using gridsample::DType;
    using gridsample::Interpolation;
    using gridsample::Padding;
    std::vector<ForwardConfig> v;
    for (int dims : {2, 3}) {
        for (Interpolation mode :
             {Interpolation::bilinear, Interpolation::nearest, Interpolation::bicubic}) {
            if (dims == 3 && mode == Interpolation::bicubic) continue;
            for (Padding padding : {Padding::zeros, Padding::border, Padding::reflection}) {
                for (DType dtype : {DType::float32, DType::float64}) {
                    v.push_back({dims, mode, padding, dtype});
                }
            }
        }
    }
    return v;
}

// Every gridsample::CpuIsa, lowest first: the levels the tests force in turn.
inline std::vector<gridsample::CpuIsa> all_cpu_isas() {
    std::vector<gridsample::CpuIsa> v;
    for (int i = 0; i <= static_cast<int>(gridsample::kHighestCpuIsa); i++) {
        v.push_back(static_cast<gridsample::CpuIsa>(i));
    }
    return v;
}

}  // namespace gridsample_test
