// Kernel calls for tensors whose strides or row counts do not fit Halide's 32-bit
// halide_dimension_t and loop counters: the call is cut into chunks of batch items, or of
// channels; see internal.h.
#include "internal.h"

#include <climits>

namespace gridsample::detail {
namespace {

constexpr int64_t kMax32 = INT32_MAX;

// The product of sizes[from, to), saturating at INT64_MAX.
int64_t product(const int64_t* sizes, int from, int to) {
    int64_t p = 1;
    for (int i = from; i < to; i++) {
        if (__builtin_mul_overflow(p, sizes[i], &p)) return INT64_MAX;
    }
    return p;
}

// The rows of one batch item: the product of every dimension but the batch and the innermost
// (x; for points, x and the components). The kernels fuse these into 32-bit loop counters.
int64_t rows_per_item(const KernelArg& a) {
    const int inner = a.layout == ArgLayout::features ? 1 : 2;
    return product(a.view.sizes, 1, a.view.rank - inner);
}

// The rows of one channel of one batch item (features).
int64_t rows_per_channel(const KernelArg& a) { return product(a.view.sizes, 2, a.view.rank - 1); }

// A dimension of size 0 or 1 is never stepped along; HalideBuffer drops its stride.
bool stride_fits(const TensorView& t, int dim) {
    return t.sizes[dim] <= 1 || t.strides[dim] <= kMax32;
}

Status too_large(const KernelArg& a, const std::string& problem) {
    return unsupported(std::string(a.name) + ": tensor of shape " + shape_string(a.view) +
                       " and strides " + shape_string(a.view.strides, a.view.rank) + " " +
                       problem);
}

}  // namespace

TensorView narrow(const TensorView& t, int dim, int64_t start, int64_t size) {
    TensorView r = t;
    // An empty tensor is never read, and its strides are not validated: keep its address.
    if (t.numel() > 0) {
        r.data = static_cast<unsigned char*>(t.data) + start * t.strides[dim] * element_size(t.dtype);
    }
    r.sizes[dim] = size;
    return r;
}

Status plan_kernel_chunks(const KernelArg* args, int count, bool split_channels,
                          ChunkPlan& plan) {
    plan = ChunkPlan{};
    plan.batch = args[0].view.sizes[0];
    bool has_features = false;
    for (int i = 0; i < count; i++) {
        if (args[i].layout == ArgLayout::features) {
            has_features = true;
            plan.channels = std::max<int64_t>(args[i].view.sizes[1], 1);
        }
    }
    split_channels = split_channels && has_features;
    if (!split_channels) plan.channels = 1;
    plan.channel_step = plan.channels;

    // Every dimension but the batch (and the channels, where they can be split) needs a 32-bit
    // stride: the kernels index each with its own.
    for (int i = 0; i < count; i++) {
        const KernelArg& a = args[i];
        for (int d = 1; d < a.view.rank; d++) {
            if (d == 1 && split_channels && a.layout == ArgLayout::features) continue;
            if (!stride_fits(a.view, d)) {
                return too_large(a, "has a stride above 2^31 - 1 in dimension " +
                                        std::to_string(d) +
                                        "; the kernels take 32-bit strides, and only the batch " +
                                        (split_channels ? "and channel dimensions" : "dimension") +
                                        " can be split into separate calls");
            }
        }
    }

    // Whole batch items, as many per call as the 32-bit row counters and strides allow.
    bool items_fit = true;
    for (int i = 0; i < count; i++) {
        const KernelArg& a = args[i];
        if (rows_per_item(a) > kMax32) items_fit = false;
        if (a.layout == ArgLayout::features && !stride_fits(a.view, 1)) items_fit = false;
    }
    if (items_fit) {
        int64_t step = std::max<int64_t>(plan.batch, 1);
        for (int i = 0; i < count; i++) {
            const KernelArg& a = args[i];
            if (!stride_fits(a.view, 0)) step = 1;
            step = std::min(step, kMax32 / std::max<int64_t>(rows_per_item(a), 1));
        }
        plan.batch_step = std::max<int64_t>(step, 1);
        return Status::Ok();
    }

    // One batch item at a time, in chunks of channels: only kernels whose channels are
    // independent allow it (not grad_grid, a sum over channels).
    for (int i = 0; i < count && !split_channels; i++) {
        if (rows_per_item(args[i]) > kMax32) {
            return too_large(args[i],
                             "has more than 2^31 - 1 rows per batch item (every dimension but "
                             "the batch and the innermost), more than one kernel call can take");
        }
    }
    plan.batch_step = 1;
    int64_t step = plan.channels;
    for (int i = 0; i < count; i++) {
        const KernelArg& a = args[i];
        if (a.layout == ArgLayout::points) {
            if (rows_per_item(a) > kMax32) {
                return too_large(a, "has more than 2^31 - 1 rows per batch item (every "
                                    "dimension but the batch, x and the last), more than one "
                                    "kernel call can take");
            }
            continue;
        }
        const int64_t rows = rows_per_channel(a);
        if (rows > kMax32) {
            return too_large(a, "has more than 2^31 - 1 rows per channel (every spatial "
                                "dimension but x), more than one kernel call can take");
        }
        if (!stride_fits(a.view, 1)) step = 1;
        step = std::min(step, kMax32 / std::max<int64_t>(rows, 1));
    }
    plan.channel_step = std::max<int64_t>(step, 1);
    return Status::Ok();
}

}  // namespace gridsample::detail
