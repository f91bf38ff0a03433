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

// Whether a chunk of `batch` items and `channels` channels of `a` (channels: features only) fits
// a kernel with 32-bit indexing. Halide checks on entry that every dimension's extent x |stride|
// and the product of all extents are at most 2^31 - 1 (a dimension of extent 1 has its stride
// dropped); the kernel's element offsets, sums over the dimensions, must fit too, which an input
// with overlapping strides could break while passing Halide's checks: so the largest offset, the
// sum of (extent - 1) x stride, must also be at most 2^31 - 1.
bool fits_32bit(const KernelArg& a, int64_t batch, int64_t channels) {
    const TensorView& t = a.view;
    int64_t elements = 1, last_offset = 0;
    for (int d = 0; d < t.rank; d++) {
        int64_t extent = t.sizes[d];
        if (d == 0) extent = std::min(extent, batch);
        if (d == 1 && a.layout == ArgLayout::features) extent = std::min(extent, channels);
        if (extent > 1) {
            int64_t span = 0, step = 0;
            if (__builtin_mul_overflow(extent, t.strides[d], &span) || span > kMax32) return false;
            if (__builtin_mul_overflow(extent - 1, t.strides[d], &step) ||
                __builtin_add_overflow(last_offset, step, &last_offset) || last_offset > kMax32) {
                return false;
            }
        }
        if (__builtin_mul_overflow(elements, extent, &elements) || elements > kMax32) return false;
    }
    return true;
}

bool all_fit_32bit(const KernelArg* args, int count, int64_t batch, int64_t channels) {
    for (int i = 0; i < count; i++) {
        if (!fits_32bit(args[i], batch, channels)) return false;
    }
    return true;
}

// The largest step in [1, limit] for which fits(step) holds (fits is monotone), or 0.
template <typename Fits>
int64_t largest_fitting(int64_t limit, Fits fits) {
    if (!fits(1)) return 0;
    int64_t lo = 1, hi = std::max<int64_t>(limit, 1);
    while (lo < hi) {
        const int64_t mid = lo + (hi - lo + 1) / 2;
        if (fits(mid)) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    return lo;
}

// Narrows `plan` until every chunk fits 32-bit indexing: fewer batch items per call, then (where
// `split_channels`) fewer channels.
Status narrow_to_32bit(const KernelArg* args, int count, bool split_channels, ChunkPlan& plan) {
    // Without channel chunks, a chunk holds every channel.
    const int64_t all_channels = split_channels ? plan.channel_step : INT64_MAX;
    if (all_fit_32bit(args, count, plan.batch_step, all_channels)) return Status::Ok();
    const int64_t batch = largest_fitting(plan.batch_step, [&](int64_t b) {
        return all_fit_32bit(args, count, b, all_channels);
    });
    if (batch > 0) {
        plan.batch_step = batch;
        return Status::Ok();
    }
    plan.batch_step = 1;
    const int64_t channels =
        split_channels
            ? largest_fitting(plan.channel_step,
                              [&](int64_t k) { return all_fit_32bit(args, count, 1, k); })
            : 0;
    if (channels > 0) {
        plan.channel_step = channels;
        return Status::Ok();
    }
    for (int i = 0; i < count; i++) {
        const bool per_channel = split_channels && args[i].layout == ArgLayout::features;
        if (!fits_32bit(args[i], 1, per_channel ? 1 : INT64_MAX)) {
            return too_large(args[i],
                             std::string("needs more than 32-bit indexing within one ") +
                                 (per_channel ? "channel of one batch item" : "batch item") +
                                 " (over 2^31 - 1 elements, a size times stride over 2^31 - 1, "
                                 "or a largest element offset over 2^31 - 1), more than a "
                                 "forward kernel takes in one call");
        }
    }
    return Status(StatusCode::internal, "kernel chunks: no 32-bit plan found");
}

Status plan_wide_chunks(const KernelArg* args, int count, bool split_channels, ChunkPlan& plan);

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
                          Indexing indexing, ChunkPlan& plan) {
    if (Status s = plan_wide_chunks(args, count, split_channels, plan); !s.ok()) return s;
    if (indexing == Indexing::wide) return Status::Ok();
    bool has_features = false;
    for (int i = 0; i < count; i++) has_features |= args[i].layout == ArgLayout::features;
    return narrow_to_32bit(args, count, split_channels && has_features, plan);
}

namespace {

// The plan for kernels with 64-bit indexing (large_buffers): 32-bit strides and row counts.
Status plan_wide_chunks(const KernelArg* args, int count, bool split_channels, ChunkPlan& plan) {
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

}  // namespace

}  // namespace gridsample::detail
