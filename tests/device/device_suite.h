// The fixture and naming of the device suites. Every suite is instantiated twice, with the prefix
// OpenCL for the OpenCL devices and Cuda for the CUDA devices, and parameter names that start
// with the device (opencl0, cuda0), so that a GoogleTest filter (--gtest_filter='OpenCL/*') or,
// with GRIDSAMPLE_CTEST_PER_CASE=ON, a ctest regex (-R opencl0) selects one backend or device.
// Where a device is missing (no driver, no such device, the backend not compiled) its tests skip
// and say why.
#pragma once

#include "check_common.h"
#include "device_buffers.h"

#include <gtest/gtest.h>

#include <iostream>
#include <memory>
#include <string>
#include <tuple>

namespace gridsample_test {

inline gridsample::Device device_of(const gridsample::Device& d) { return d; }
template <typename... Rest>
gridsample::Device device_of(const std::tuple<gridsample::Device, Rest...>& t) {
    return std::get<0>(t);
}

// A test on one device. SetUp skips the test where the device cannot run here, and otherwise
// requires gridsample to agree that it can (device_status ok).
template <typename Param>
class DeviceSuite : public ::testing::TestWithParam<Param> {
protected:
    void SetUp() override {
        device_ = device_of(this->GetParam());
        const std::string reason = device_unavailable_reason(device_);
        if (!reason.empty()) GTEST_SKIP() << reason;
        const gridsample::Status status = gridsample::device_status(device_);
        ASSERT_TRUE(status.ok()) << "device_status(" << gridsample::to_string(device_)
                                 << ") on a device present here: " << status.message();
        placement_ = std::make_unique<DevicePlacement>(device_);
        this->RecordProperty("device", device_description(device_));
        if (!device_has_fp64(device_)) {
            std::cout << "[   NOTE   ] " << device_description(device_)
                      << " has no float64: float64 calls must be refused as unsupported\n";
        }
    }

    gridsample::Device device() const { return device_; }
    const DevicePlacement& placement() const { return *placement_; }
    // Why calls in `dtype` cannot run on the device ("" when they can).
    std::string unsupported_reason(gridsample::DType dtype, bool int64_atomics = false) const {
        return placement_->unsupported_reason(dtype, int64_atomics);
    }

private:
    gridsample::Device device_;
    std::unique_ptr<DevicePlacement> placement_;
};

// A test on one device for one kernel family: the family, and seeds that differ per family, as
// in the CPU suites.
class DeviceKernelSuite : public DeviceSuite<std::tuple<gridsample::Device, Kernel>> {
protected:
    Kernel kernel() const { return std::get<1>(GetParam()); }
    uint64_t seed_base(uint64_t base) const {
        return base + 10u * static_cast<uint64_t>(kernel().dims) + static_cast<uint64_t>(kernel().mode);
    }
};

inline std::string device_param_name(const ::testing::TestParamInfo<gridsample::Device>& info) {
    return test_device_name(info.param);
}

inline std::string device_kernel_name(
    const ::testing::TestParamInfo<std::tuple<gridsample::Device, Kernel>>& info) {
    return test_device_name(std::get<0>(info.param)) + "_" + kernel_name(std::get<1>(info.param));
}

}  // namespace gridsample_test

// Instantiates a suite whose parameter is a gridsample::Device for every OpenCL and CUDA test
// device.
#define GRIDSAMPLE_INSTANTIATE_DEVICE_SUITE(suite)                                                  \
    INSTANTIATE_TEST_SUITE_P(OpenCL, suite,                                                        \
                             ::testing::ValuesIn(::gridsample_test::opencl_test_devices()),        \
                             ::gridsample_test::device_param_name);                                \
    INSTANTIATE_TEST_SUITE_P(Cuda, suite, ::testing::ValuesIn(::gridsample_test::cuda_test_devices()), \
                             ::gridsample_test::device_param_name)

// The same for a suite whose parameter is (gridsample::Device, Kernel): every device x every
// compiled kernel family.
#define GRIDSAMPLE_INSTANTIATE_DEVICE_KERNEL_SUITE(suite)                                           \
    INSTANTIATE_TEST_SUITE_P(                                                                      \
        OpenCL, suite,                                                                             \
        ::testing::Combine(::testing::ValuesIn(::gridsample_test::opencl_test_devices()),          \
                           ::testing::ValuesIn(::gridsample_test::kKernels)),                      \
        ::gridsample_test::device_kernel_name);                                                    \
    INSTANTIATE_TEST_SUITE_P(                                                                      \
        Cuda, suite,                                                                               \
        ::testing::Combine(::testing::ValuesIn(::gridsample_test::cuda_test_devices()),            \
                           ::testing::ValuesIn(::gridsample_test::kKernels)),                      \
        ::gridsample_test::device_kernel_name)
