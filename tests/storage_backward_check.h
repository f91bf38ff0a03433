// grid_sample_backward on float16 and bfloat16 tensors (SEMANTICS.md S10), shared by the CPU
// suite (test_storage_backward.cpp) and the device suite (device/test_device_storage.cpp): a case
// (a float32 backward Case and the storage types), its data rounded to them, and running the
// library on a Placement with the tensors in the storage types.
#pragma once

#include "backward_check.h"
#include "storage_check.h"
#include "tensor_placement.h"

#include <cmath>
#include <memory>
#include <string>
#include <vector>

namespace gridsample_test::backward {

inline constexpr gs::DType kHalfTypes[] = {gs::DType::float16, gs::DType::bfloat16};

// Bytes holding a strided tensor of `dtype`, 0xa5 wherever nothing is written.
struct Bytes {
    gs::DType dtype;
    std::vector<unsigned char> bytes;
    Bytes(gs::DType t, int64_t elements)
        : dtype(t), bytes(static_cast<size_t>(elements) * gs::element_size(t), 0xa5) {}
    unsigned char* at(int64_t pos) {
        return bytes.data() + pos * static_cast<int64_t>(gs::element_size(dtype));
    }
    bool untouched(int64_t pos) const {
        for (size_t b = 0; b < gs::element_size(dtype); ++b) {
            if (bytes[static_cast<size_t>(pos) * gs::element_size(dtype) + b] != 0xa5) return false;
        }
        return true;
    }
    gs::TensorView view(const StridedLayout& l) {
        return gs::TensorView::make(at(l.offset), dtype, static_cast<int32_t>(l.sizes.size()),
                                    l.sizes.data(), l.strides.data());
    }
    void fill(const StridedLayout& l, const ref::Array& a) {
        for_each_element(l, [&](int64_t flat, int64_t pos) {
            store_element(a.data[static_cast<size_t>(flat)], dtype, at(pos));
        });
    }
    // The view's values, and how many elements outside (inside) the view changed.
    GradientResult read(const StridedLayout& l, const std::vector<int64_t>& shape) const {
        GradientResult r;
        r.values = ref::Array(shape);
        const int64_t storage = static_cast<int64_t>(bytes.size() / gs::element_size(dtype));
        std::vector<char> inside(static_cast<size_t>(storage), 0);
        for_each_element(l, [&](int64_t flat, int64_t pos) {
            r.values.data[static_cast<size_t>(flat)] =
                load_element(bytes.data() + pos * static_cast<int64_t>(gs::element_size(dtype)),
                             dtype);
            inside[static_cast<size_t>(pos)] = 1;
            if (!untouched(pos)) ++r.touched_inside;
        });
        for (int64_t pos = 0; pos < storage; ++pos) {
            if (!inside[static_cast<size_t>(pos)] && !untouched(pos)) ++r.touched_outside;
        }
        r.bytes = bytes;
        return r;
    }
};

// A float16/bfloat16 case: `cs` holds the float32 case (its tolerances and layouts); `dtype` is
// the tensors' storage type, `grid_dtype` the grid's and grad_grid's.
struct HalfCase {
    Case cs;
    gs::DType dtype = gs::DType::float16;
    gs::DType grid_dtype = gs::DType::float32;
    std::string describe() const {
        return cs.describe() + " storage=" + storage_name(dtype) +
               " grid_dtype=" + storage_name(grid_dtype);
    }
};

inline LibraryResult run_half(const HalfCase& hc, const CaseData& d,
                              const Placement& where = host_placement()) {
    const Case& cs = hc.cs;
    const CaseLayouts l = layouts_for(cs);
    Bytes go(hc.dtype, l.grad_output.storage_size), in(hc.dtype, l.input.storage_size),
        grid(hc.grid_dtype, l.grid.storage_size), gi(hc.dtype, l.grad_input.storage_size),
        gg(hc.grid_dtype, l.grad_grid.storage_size);
    go.fill(l.grad_output, d.grad_output);
    in.fill(l.input, d.input);
    grid.fill(l.grid, d.grid);
    LibraryResult r;
    {
        const std::unique_ptr<PlacedCall> call = where.begin();
        const gs::TensorView gi_view = call->output(gi.view(l.grad_input));
        const gs::TensorView gg_view = call->output(gg.view(l.grad_grid));
        gs::Options options = cs.options();
        options.stream = call->stream();
        r.status = gs::grid_sample_backward(call->input(go.view(l.grad_output)),
                                            call->input(in.view(l.input)),
                                            call->input(grid.view(l.grid)),
                                            wants_input(cs.want) ? &gi_view : nullptr,
                                            wants_grid(cs.want) ? &gg_view : nullptr, options);
        r.isa = gs::last_dispatched_cpu_isa();
        call->finish();
    }
    r.grad_input = gi.read(l.grad_input, cs.shape.input_sizes());
    r.grad_grid = gg.read(l.grad_grid, cs.shape.grid_sizes());
    return r;
}

// Random data of a float32 case, rounded to the case's storage types. float16 values are first
// scaled by a power of two to a largest magnitude in [0.5, 1): the float32 data's scales of 1000
// and 1e-3 would make float16 gradients overflow or fall among its subnormals, whose spacing is
// not relative to the largest gradient.
inline CaseData half_data(const HalfCase& hc) {
    const double specials[] = {0.0, 0.1, 0.35};
    CaseData d = random_data(hc.cs, specials[hc.cs.seed % 3]);
    if (hc.dtype == gs::DType::float16) {
        for (ref::Array* a : {&d.grad_output, &d.input}) {
            const double m = max_abs(a->data);
            if (m == 0.0) continue;
            int e = 0;
            std::frexp(m, &e);  // m = f 2^e, f in [0.5, 1)
            for (double& v : a->data) v = std::ldexp(v, -e);
        }
    }
    for (double& v : d.grad_output.data) v = round_to_storage(v, hc.dtype);
    for (double& v : d.input.data) v = round_to_storage(v, hc.dtype);
    for (double& v : d.grid.data) v = std::isnan(v) ? v : round_to_storage(v, hc.grid_dtype);
    d.grad_output = without_nearest_near_ties(hc.cs, d.grad_output, d.grid);
    return d;
}

inline double storage_ulp(gs::DType t) { return t == gs::DType::float16 ? 0x1p-10 : 0x1p-7; }

}  // namespace gridsample_test::backward
