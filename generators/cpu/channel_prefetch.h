// A lowering pass of the forward CPU schedule: while a tile of a planar tensor samples channel c,
// it prefetches the input lines that channel c + 1 will read; and before the tile's first
// channel, the lines that channel reads.
//
// Why: the planar sampling loop visits a tile's channels one plane after another, and each plane
// is read at data-dependent addresses (gathers), where the hardware prefetchers find no stream:
// every line a tile needs from a new plane waits its full memory latency, a few lines at a time.
// The lines channel c + 1 needs are known, though: they are where channel c reads, one plane on.
// So before the tile's channel loop, a loop over its taps finds the bounding box of the tap
// indices, and each row of the tile's sampling first prefetches a share of that box's rows at
// the next plane, into L2 (prefetch_rows.cpp: gridsample_prefetch_rows, one call per share).
// A tile of 16 x 64 points of the bench's affine grid touches a box of about 30 rows x 5 lines:
// 150 lines per plane against 4096 gathered taps. 8x64x128x128 feature map, zeros padding,
// avx512_gather level, the generated kernel alone (Sapphire Rapids VM; median ratio of 4-8
// rounds, order shuffled each round): bilinear 0.78-0.85 of the time without it at one thread
// (all rounds faster), 0.82-0.86 at two; bicubic 0.77 at one thread; nearest 0.99 (its taps are
// few, and its time goes to the grid and output streams). A C++ prototype found spreading the
// prefetches over the rows better than one burst per plane (12.7 vs 13.8 ms).
//
// The first channel of a tile had no such lead: its lines waited on demand, a few at a time. On
// an image of 3 planes (1x3x1080x1920 through the bench's affine grid) that is a third of the
// planes (on the 8x64x128x128 feature map, one in 64), and a tile's box in a plane of that size
// is new to the caches. So the first channel's whole box is prefetched in one burst before it is
// sampled (no earlier point knows the box: the taps are computed just before): the lines are
// requested together rather than as the sampling loop reaches them. The generated kernels
// alone, against the ones without it, called in alternation in one process (median of 30 pairs,
// same bits; AMD EPYC Zen 4), at one / two threads: nearest
// zeros 0.62 / 0.61 (avx512_gather), 0.74 / 0.69 (avx512, the level the library runs nearest at
// on AMD), border 0.80 / 0.80 (avx2); bilinear zeros 0.71 / 0.72; bicubic zeros 0.85 / 0.85.
// The 8x64x128x128 feature map 0.98-1.01 (nearest, bilinear); 256 images of 28x28, one
// channel: the same minimum time.
//
// What it does, on the lowered statement: in each `consume taps` block, each loop over channels
// whose sampling nest (rows, then points) loads the input at unit stride along x gets
//   - before it: the bounds of the tile's tap indices (tap_box.h: a copy of the nest over rows
//     and points whose store is replaced by min/max updates of four int32s on the stack);
//   - before it, the whole box at the first channel (skipped above kMaxLines lines);
//   - in each row, before the loop over points: the prefetch of rows
//     [y0 + r * share, y0 + (r + 1) * share) of the box, share = ceil(box rows / tile rows), at
//     the next channel. Skipped for the last channel and for boxes larger than kMaxLines lines
//     (a random grid's box is the whole plane, which would evict the current one).
// A prefetch never faults and changes no value; the box holds clamped tap indices, so every
// prefetched element is an element of the input.
//
// Why a pass: the schedule's prefetch directive (Func::prefetch) fetches the region bounds
// inference gives a loop iteration, and for taps that come from the grid that region is the
// whole plane (the box exists only once the tile's taps are computed); it also emits only
// non-temporal prefetches, which do not fill L2 (prefetch_rows.cpp).
#pragma once

#include "Halide.h"
#include "cpu/tap_box.h"

#include <string>
#include <vector>

namespace gridsample_gen {

class NextChannelPrefetch : public Halide::Internal::IRMutator {
public:
    static constexpr int kMaxLines = 512;  // a box of 32 KiB at most

    // input: the sampled buffer; channel_loop: the name prefix of the output's loop over
    // channels ("output.s0.c"); x_taps, y_taps: the taps buffers ("taps.0", ...) holding the
    // tap indices along x and along y.
    NextChannelPrefetch(std::string input, std::string channel_loop, std::vector<std::string> x_taps,
                        std::vector<std::string> y_taps)
        : input_(std::move(input)), channel_loop_(std::move(channel_loop)),
          x_taps_(std::move(x_taps)), y_taps_(std::move(y_taps)) {}

    using IRMutator::visit;

    Halide::Internal::Stmt visit(const Halide::Internal::ProducerConsumer *op) override {
        using namespace Halide::Internal;
        if (op->is_producer || op->name != "taps") return IRMutator::visit(op);
        in_taps_ = true;
        Stmt body = mutate(op->body);
        in_taps_ = false;
        return ProducerConsumer::make(op->name, op->is_producer, body);
    }

    Halide::Internal::Stmt visit(const Halide::Internal::For *op) override {
        if (!in_taps_ || op->name.rfind(channel_loop_, 0) != 0) return IRMutator::visit(op);
        Halide::Internal::Stmt s = prefetching(op);
        return s.defined() ? s : Halide::Internal::Stmt(op);
    }

private:
    std::string input_, channel_loop_;
    std::vector<std::string> x_taps_, y_taps_;
    bool in_taps_ = false;
    int counter_ = 0;

    // The channel loop rewritten, or an undefined Stmt where its nest is not the expected one.
    Halide::Internal::Stmt prefetching(const Halide::Internal::For *channel) {
        using namespace Halide;
        using namespace Halide::Internal;
        const std::string id = input_ + ".next_plane" + std::to_string(counter_++);
        std::optional<TapBox> b = TapBox::find(channel->body, input_, x_taps_, y_taps_, id + ".box");
        if (!b) return Stmt();
        // Unit stride along x (the dense specialization).
        const Expr x_step = b->step(false), row_stride = b->step(true);
        if (!x_step.defined() || !is_const_one(x_step) || !row_stride.defined()) return Stmt();
        const Expr x_lo = Variable::make(Int(32), id + ".x_lo");
        const Expr x_hi = Variable::make(Int(32), id + ".x_hi");
        const Expr y_lo = Variable::make(Int(32), id + ".y_lo");
        const Expr y_hi = Variable::make(Int(32), id + ".y_hi");
        const Expr c = Variable::make(Int(32), channel->name);
        const Expr row = Variable::make(Int(32), b->rows->name);
        const Expr extent = b->rows->extent;

        // Row r of the tile prefetches rows [first, first + count) of the box, at plane c + 1.
        const Expr share = (y_hi - y_lo + extent) / max(extent, 1);
        const Expr first = y_lo + (row - b->rows->min) * share;
        const Expr count = max(min(share, y_hi + 1 - first), 0);
        const Expr at = b->address_at(x_lo, first, {{channel->name, c + 1}});
        if (!at.defined()) return Stmt();
        const Expr lines = (x_hi - x_lo) / (64 / b->element.bytes()) + 1;
        const Expr fits = (y_hi - y_lo + 1) * lines <= kMaxLines;
        const Expr wanted =
            c + 1 < channel->min + channel->extent && x_lo <= x_hi && count > 0 && fits;
        Stmt prefetch = IfThenElse::make(
            wanted, prefetch_rows(input_, at, count, row_stride, x_hi - x_lo + 1,
                                  b->element.bytes()));

        Stmt sampled = b->outer.wrap(For::make(
            b->rows->name, b->rows->min, extent, b->rows->for_type, b->rows->partition_policy,
            b->rows->device_api, b->middle.wrap(Block::make(prefetch, Stmt(b->points)))));
        Stmt loop = For::make(channel->name, channel->min, channel->extent, channel->for_type,
                              channel->partition_policy, channel->device_api, sampled);
        // The first channel's whole box, in one burst before its sampling starts.
        const Expr first_at = b->address_at(x_lo, y_lo, {{channel->name, channel->min}});
        if (!first_at.defined()) return Stmt();
        loop = Block::make(IfThenElse::make(x_lo <= x_hi && fits,
                                            prefetch_rows(input_, first_at, y_hi - y_lo + 1,
                                                          row_stride, x_hi - x_lo + 1,
                                                          b->element.bytes())),
                           loop);
        loop = LetStmt::make(id + ".y_hi", b->at(3), loop);
        loop = LetStmt::make(id + ".y_lo", b->at(2), loop);
        loop = LetStmt::make(id + ".x_hi", b->at(1), loop);
        loop = LetStmt::make(id + ".x_lo", b->at(0), loop);
        // The taps do not depend on the channel: the bounds are computed as for the first one.
        Stmt bounds = b->bounds({{channel->name, channel->min}});
        if (stmt_uses_var(bounds, channel->name)) return Stmt();
        return b->allocated(Block::make(bounds, loop));
    }
};

}  // namespace gridsample_gen
