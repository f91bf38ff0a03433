// A Placement (tensor_placement.h) that hands the library copies of the host tensors placed
// against inaccessible pages: each tensor's span (its first to its last element) gets memory of its
// own from mmap, with a PROT_NONE page on either side, and lies flush against the page after it
// (GuardSide::after) or the page before it (GuardSide::before). A kernel that reads or writes even
// one byte past the end, or before the start, of any tensor it is given faults, and the test
// process dies (ctest reports the crash). This checks the kernels' own loads and stores, which the
// sanitizer build (preset asan) does not instrument, at every CPU level; strided views keep their
// strides, so gaps inside a span are readable, as in a real caller's tensor.
#pragma once

#include "tensor_placement.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace gridsample_test {

enum class GuardSide { after, before };

inline const char* guard_side_name(GuardSide side) { return side == GuardSide::after ? "after" : "before"; }

// Memory for one view's span between two inaccessible pages.
class GuardedSpan {
public:
    GuardedSpan(const gridsample::TensorView& host, GuardSide side) : host_(host) {
        bytes_ = static_cast<size_t>(span_elements(host) * gridsample::element_size(host.dtype));
        const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
        const size_t data_pages = (bytes_ + page - 1) / page;
        mapped_ = (data_pages + 2) * page;
        void* m = mmap(nullptr, mapped_, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) throw std::runtime_error("GuardedSpan: mmap failed");
        base_ = static_cast<unsigned char*>(m);
        if (data_pages > 0 &&
            mprotect(base_ + page, data_pages * page, PROT_READ | PROT_WRITE) != 0) {
            munmap(base_, mapped_);
            throw std::runtime_error("GuardedSpan: mprotect failed");
        }
        // The data's first byte right after the first guard page, or its last byte right before
        // the second one.
        data_ = side == GuardSide::before ? base_ + page : base_ + page + data_pages * page - bytes_;
        if (bytes_ > 0) std::memcpy(data_, host.data, bytes_);
    }
    ~GuardedSpan() { munmap(base_, mapped_); }
    GuardedSpan(const GuardedSpan&) = delete;
    GuardedSpan& operator=(const GuardedSpan&) = delete;

    gridsample::TensorView view() const {
        gridsample::TensorView v = host_;
        // A view with no elements keeps a pointer into the guarded memory all the same.
        v.data = data_;
        return v;
    }
    void copy_back() const {
        if (bytes_ > 0) std::memcpy(host_.data, data_, bytes_);
    }

private:
    gridsample::TensorView host_;
    size_t bytes_ = 0;
    size_t mapped_ = 0;
    unsigned char* base_ = nullptr;
    unsigned char* data_ = nullptr;
};

class GuardedPlacement final : public Placement {
public:
    explicit GuardedPlacement(GuardSide side) : side_(side) {}
    std::string name() const override { return std::string("cpu, guard pages ") + guard_side_name(side_); }
    std::string unsupported_reason(gridsample::DType, bool) const override { return {}; }
    std::unique_ptr<PlacedCall> begin() const override {
        class Call final : public PlacedCall {
        public:
            explicit Call(GuardSide side) : side_(side) {}
            gridsample::TensorView input(const gridsample::TensorView& host) override {
                inputs_.push_back(std::make_unique<GuardedSpan>(host, side_));
                return inputs_.back()->view();
            }
            gridsample::TensorView output(const gridsample::TensorView& host) override {
                outputs_.push_back(std::make_unique<GuardedSpan>(host, side_));
                return outputs_.back()->view();
            }
            gridsample::Stream stream() const override { return {}; }
            void finish() override {
                for (const auto& o : outputs_) o->copy_back();
            }

        private:
            GuardSide side_;
            std::vector<std::unique_ptr<GuardedSpan>> inputs_, outputs_;
        };
        return std::make_unique<Call>(side_);
    }

private:
    GuardSide side_;
};

}  // namespace gridsample_test
