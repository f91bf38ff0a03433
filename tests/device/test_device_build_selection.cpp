// What a build compiles, on each GPU device (OpenCL, CUDA): the checks of
// test_build_selection.cpp for grid_sample and its backward (build_selection_check.h), with the
// tensors on the device. Every compiled variant runs and matches the reference on every layout;
// every variant left out is refused with `unsupported`, naming the option that would compile it,
// and nothing written. Unlike the other device suites, which call every variant, this one is built
// in trimmed builds too, so that a build of a few GPU kernels (for example an autoscheduler's,
// GRIDSAMPLE_DTYPES=float32) is checked on the device against the reference.
#include <gtest/gtest.h>

#include "build_selection_check.h"
#include "device_suite.h"

namespace {

using namespace gridsample_test;
using namespace gridsample_test::selection;

class DeviceBuildSelection : public DeviceSuite<gridsample::Device> {};

TEST_P(DeviceBuildSelection, ForwardVariants) {
    record(check_forward_selection(placement(), 41000));
}

TEST_P(DeviceBuildSelection, BackwardVariants) {
    record(check_backward_selection(placement(), 42000));
}

GRIDSAMPLE_INSTANTIATE_DEVICE_SUITE(DeviceBuildSelection);

}  // namespace
