// A lowering pass of the forward CPU schedule: software prefetch of the input lines a tile of
// channels-last samples will read, issued just before the tile is sampled.
//
// Why: with the channels of a point sampled together (schedule_forward_cpu's interleaved RGB/RGBA
// specializations), the vectorized sampling loop is long per point (taps x channels gathers), so
// the CPU holds few points in flight, and a rotated or warped grid walks the input diagonally,
// where the hardware prefetchers find no stream: each new input line waits its full memory
// latency. A scalar loop of prefetches over the tile's taps (already computed, on the stack)
// puts many line fetches in flight at once. Image 1x3x1080x1920 -> 1080x1920 through the bench's
// affine grid, channels-last, float32, avx512_gather level, one thread, ms (the generated kernel
// alone, min of 15 calls; Sapphire Rapids VM):
//                       no prefetch   prefetch every 2nd point   every 4th point
//   bilinear zeros         23.3-26.1        17.7                    17.0-18.1
//   nearest zeros          12.2-12.7        10.5-11.1               10.7
//   bicubic zeros          43.2-46.2        51.5                    44.0-46.7
// (Those prefetches were Halide's non-temporal ones. Since then: 2-D bilinear and bicubic tiles
// prefetch their tap box into L2 instead (TileBoxPrefetch below), and nearest prefetches into L2
// point by point (to_l2).) Planar tensors sample one channel plane per loop: prefetching the
// same plane just before sampling gained nothing on the image (23.3 vs 23.9 ms bilinear) and
// cost 40% on the 8x64x128x128 feature map; what pays there is prefetching the next plane
// (channel_prefetch.h).
//
// What it does, on the lowered statement: in each `consume taps` block whose sampling nest has no
// loop over channels (the interleaved specializations unroll it), it inserts a copy of the nest
// before it in which the innermost loop visits every kPrefetchStep-th point and each store of an
// output value becomes prefetches of the input elements that value loads, one per cache line
// (loads within a line of an earlier one at the same point, such as the other channels and the
// x + 1 tap, are skipped); into L2 (nearest), the copy instead writes each row's addresses into a
// list on the stack and calls gridsample_prefetch_list once per row. A prefetch never faults and
// changes no value; the copy reads the taps the sampling reads, at the same points.
#pragma once

#include "Halide.h"
#include "cpu/tap_box.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace gridsample_gen {

// Whether `s` has a loop named `name`, or with `prefix` one whose name starts with it.
inline bool has_loop(const Halide::Internal::Stmt &s, const std::string &name, bool prefix) {
    struct Finder : Halide::Internal::IRVisitor {
        const std::string &name;
        bool prefix, found = false;
        Finder(const std::string &n, bool p) : name(n), prefix(p) {}
        using IRVisitor::visit;
        void visit(const Halide::Internal::For *op) override {
            found = found || (prefix ? op->name.rfind(name, 0) == 0 : op->name == name);
            IRVisitor::visit(op);
        }
    } finder(name, prefix);
    s.accept(&finder);
    return finder.found;
}

// A sampling nest turned into its prefetches (TilePrefetch, BlockPrefetch): the innermost loop
// visits every `step`-th point, and the first store of each point becomes prefetches of the
// elements of `input` its value loads, one per cache line; with `vector_loads`, a dense vector
// load counts too, as its first element.
class NestPrefetches : public Halide::Internal::IRMutator {
public:
    // span (where defined): the elements from each listed one that are prefetched, every line
    // of them (gridsample_prefetch_spans), instead of the listed element's line alone.
    NestPrefetches(std::string input, bool to_l2, std::string list, int step,
                   bool vector_loads = false, Halide::Expr span = Halide::Expr())
        : input_(std::move(input)), to_l2_(to_l2), list_(std::move(list)), step_size_(step),
          vector_loads_(vector_loads), span_(std::move(span)) {}
    using IRMutator::visit;

    // `prefetch` (what mutate() made of a nest) with the address list allocated around it, where
    // it uses one.
    Halide::Internal::Stmt allocated(const Halide::Internal::Stmt &prefetch) const {
        using namespace Halide::Internal;
        if (list_size_ == 0) return prefetch;
        return Allocate::make(list_, Halide::Int(32), Halide::MemoryType::Stack, {list_size_},
                              const_true(), Block::make(prefetch, Free::make(list_)));
    }

    Halide::Internal::Stmt visit(const Halide::Internal::Store *op) override {
        using namespace Halide;
        using namespace Halide::Internal;
        std::vector<Stmt> prefetches;
        // The first store of a point reads what the others (its other channels) read, a few
        // elements on.
        if (stored_) return Evaluate::make(0);
        stored_ = true;
        // The value's loads, then those of the lets it reads (a value rounded to a 16-bit
        // storage type is bound to one), lets expanded: the let statements stay around the
        // prefetches, the let expressions do not.
        std::vector<Expr> values{op->value};
        for (auto it = lets_.rbegin(); it != lets_.rend(); ++it) {
            for (const Expr &v : values) {
                if (expr_uses_var(v, it->first)) {
                    values.push_back(substitute_in_all_lets(it->second));
                    break;
                }
            }
        }
        for (const auto &[index, type] : element_loads(values)) {
            const int bytes = type.bytes();
            const int line = 64 / bytes;  // elements per cache line
            bool near = false;
            for (const Expr &k : kept_) {
                const std::optional<int64_t> d = as_const_int(simplify(index - k));
                near = near || (d && *d > -line && *d < line);
            }
            if (near) continue;
            kept_.push_back(index);
            if (listing_) {
                // Slot: the step of the point, in the block of this prefetch of a point.
                const int j = static_cast<int>(kept_.size()) - 1;
                bytes_ = bytes;
                per_point_ = std::max(per_point_, j + 1);
                prefetches.push_back(Store::make(list_, index,
                                                 Variable::make(Int(32), step_) + j * steps_,
                                                 Parameter(), const_true(), ModulusRemainder()));
                continue;
            }
            prefetches.push_back(
                to_l2_ ? prefetch_rows(input_, index, 1, 0, span_.defined() ? span_ : 1, bytes)
                       : Evaluate::make(Call::make(
                             type, Call::prefetch,
                             {Variable::make(Handle(), input_), index, 1, 1}, Call::Intrinsic)));
        }
        return prefetches.empty() ? Evaluate::make(0) : Block::make(prefetches);
    }

    Halide::Internal::Stmt visit(const Halide::Internal::LetStmt *op) override {
        lets_.emplace_back(op->name, op->value);
        Halide::Internal::Stmt s = IRMutator::visit(op);
        lets_.pop_back();
        return s;
    }

    // The innermost loop (over x) steps by `step` points; the others are kept.
    Halide::Internal::Stmt visit(const Halide::Internal::For *op) override {
        using namespace Halide;
        using namespace Halide::Internal;
        struct AnyLoop : IRVisitor {
            bool found = false, branch = false;
            using IRVisitor::visit;
            void visit(const For *) override { found = true; }
            void visit(const IfThenElse *op) override {
                branch = true;
                IRVisitor::visit(op);
            }
        } inner;
        op->body.accept(&inner);
        const Expr steps = simplify((op->extent + step_size_ - 1) / step_size_);
        const std::optional<int64_t> constant_steps = as_const_int(steps);
        const std::string step = op->name + ".prefetch";
        kept_.clear();  // the stores are in the innermost loop: one list per point
        stored_ = false;
        // A list only where every step writes its slots: a constant count, no branch.
        listing_ = to_l2_ && !inner.found && !inner.branch && constant_steps &&
                   *constant_steps > 0;
        step_ = step;
        steps_ = listing_ ? static_cast<int>(*constant_steps) : 0;
        per_point_ = 0;
        Stmt body = mutate(op->body);
        const bool listed = listing_ && per_point_ > 0;
        listing_ = false;
        if (inner.found) {
            return For::make(op->name, op->min, op->extent, ForType::Serial,
                             op->partition_policy, op->device_api, body);
        }
        body = substitute(op->name, op->min + Variable::make(Int(32), step) * step_size_, body);
        Stmt loop = For::make(step, 0, steps, ForType::Serial, op->partition_policy,
                              op->device_api, body);
        if (!listed) return loop;
        // One call for the row's list.
        const int count = steps_ * per_point_;
        list_size_ = std::max(list_size_, count);
        std::vector<Expr> args{Variable::make(Handle(), input_), Variable::make(Handle(), list_),
                               count, bytes_};
        Stmt call = Evaluate::make(Call::make(Int(32), "gridsample_prefetch_list", args,
                                              Call::Extern));
        if (span_.defined()) {
            // Spans of one line or less: the listed line alone, without the loop over lines
            // (1x16x64^3 trilinear NDHWC, where each span is 64 bytes: the spans call 1.04x
            // the kernel's time, two calls in alternation, median of 20).
            args.push_back(span_);
            call = IfThenElse::make(
                span_ * bytes_ <= 64, call,
                Evaluate::make(Call::make(Int(32), "gridsample_prefetch_spans", args,
                                          Call::Extern)));
        }
        return Block::make(loop, call);
    }

private:
    std::string input_;
    bool to_l2_;
    std::string list_;      // the stack buffer of a row's addresses
    int step_size_;         // points per step of the innermost loop
    bool vector_loads_;     // dense vector loads are prefetched too
    Halide::Expr span_;     // elements prefetched from each listed one (undefined: its line)
    bool listing_ = false;  // this innermost loop fills the list
    std::string step_;      // its loop variable
    int steps_ = 0, per_point_ = 0, bytes_ = 0, list_size_ = 0;
    std::vector<Halide::Expr> kept_;                          // prefetched at this point
    std::vector<std::pair<std::string, Halide::Expr>> lets_;  // around the node visited
    bool stored_ = false;                                     // a store of this point seen

    // The first element of every load of `input_` in `values`, with its type: a scalar load's
    // index, and with vector_loads_ a dense vector load's base.
    std::vector<std::pair<Halide::Expr, Halide::Type>> element_loads(
        const std::vector<Halide::Expr> &values) const {
        using namespace Halide::Internal;
        struct Loads : IRVisitor {
            const std::string &name;
            bool vectors;
            std::vector<std::pair<Halide::Expr, Halide::Type>> found;
            Loads(const std::string &n, bool v) : name(n), vectors(v) {}
            using IRVisitor::visit;
            void visit(const Load *op) override {
                IRVisitor::visit(op);
                if (op->name != name) return;
                const Halide::Type element = op->type.element_of();
                if (op->index.type().is_scalar()) {
                    found.emplace_back(op->index, element);
                } else if (const Ramp *r = op->index.as<Ramp>(); r && vectors) {
                    if (is_const_one(r->stride)) found.emplace_back(r->base, element);
                }
            }
        } loads(input_, vector_loads_);
        for (const Halide::Expr &v : values) v.accept(&loads);
        return loads.found;
    }
};

class TilePrefetch : public Halide::Internal::IRMutator {
public:
    static constexpr int kPrefetchStep = 4;

    // input: the name of the sampled input buffer; channel_loop: the name of the output's loop
    // over channels (e.g. "output.s0.c"), present in the planar nests only.
    // to_l2: prefetch into L2 through prefetch_rows.cpp instead of Halide's prefetch intrinsic
    // (non-temporal), only where the taps are few: nearest, 0.63-0.73 of its time with the
    // intrinsic (image channels-last, one thread, median of 6 shuffled rounds, all faster);
    // bilinear was unchanged (0.98-1.00) and bicubic, with up to eight lines per point, 1.22-1.27
    // slower. Each row's addresses are collected in a list on the stack and handed to one call
    // of gridsample_prefetch_list; a call per line (gridsample_prefetch_rows with one row), as
    // first done, spent a third of the prefetching time in the calls: the list made the kernel
    // 0.79x (one thread) and 0.82x (two) of that time (image channels-last nearest border,
    // avx512_gather level, calls of the two kernels alternated in one process, median ratio of
    // 40 and 100 pairs; fastest call 4.57 -> 3.77 ms and 2.39 -> 1.97 ms). Where a row's count
    // of points is not a constant (a tile at the right edge), the call per line remains.
    TilePrefetch(std::string input, std::string channel_loop, bool to_l2)
        : input_(std::move(input)), channel_loop_(std::move(channel_loop)), to_l2_(to_l2) {}

    using IRMutator::visit;

    Halide::Internal::Stmt visit(const Halide::Internal::ProducerConsumer *op) override {
        using namespace Halide::Internal;
        Stmt body = mutate(op->body);
        if (!op->is_producer && op->name == "taps" && !has_channel_loop(body)) {
            const std::string list = input_ + ".prefetch_list" + std::to_string(counter_++);
            NestPrefetches prefetches(input_, to_l2_, list, kPrefetchStep);
            body = Block::make(prefetches.allocated(prefetches.mutate(body)), body);
        }
        return ProducerConsumer::make(op->name, op->is_producer, body);
    }

private:
    std::string input_, channel_loop_;
    bool to_l2_;
    int counter_ = 0;

    bool has_channel_loop(const Halide::Internal::Stmt &s) const {
        return has_loop(s, channel_loop_, true);
    }
};

// The same purpose for the 3-D channels-last tiles (trilinear: schedule_forward_cpu samples a
// channels-last copy of the batch item, per block of V channels inside each tile): at the start
// of each block of a tile, a copy of the block's sampling nest whose innermost loop visits every
// kStep-th point and lists the copy's element of each of the point's taps (one V-channel vector
// load each), then one call of gridsample_prefetch_list per row prefetches them into L2. The copy
// of a 1x16x64^3 volume (16 MiB) is far past L2, and a rotated grid walks it diagonally, where
// the hardware prefetchers find no stream: without this, half the kernel's time was spent waiting
// on its corner loads (a profile, AMD Zen 4). 1x16x64^3 trilinear border, the bench's affine grid,
// the generated kernel alone (its copy allocated afresh by each call), the two kernels called in
// alternation in one process (same bits), ratio of the medians of 30 calls, 2-3 runs, AMD EPYC
// Zen 4: avx512_gather level 0.54-0.56 at one thread, 0.57-0.62 at two; avx2 0.68-0.69 and
// 0.65-0.68. In the library (the kernel swapped into the benchmark, 3 alternating rounds, median
// of 5, ms at one / two threads): 12.8-16.3 / 8.2-9.0 before, 6.9-9.5 / 4.4-4.8 after, in a noisy
// hour; the peers tables before and after (bench/results), 9.4 / 4.4 and 6.8 / 3.8. Every point
// (kStep 1) measured the same as every second; every fourth, 0.90 (a point's taps are 2 x 2 x 2
// lines and the grid advances 0.86 of a point a step along x: four points on, lines are
// skipped). Prefetching each next row while sampling a row instead of the whole tile first: no
// better (0.56-0.59). The 2-D channels-last kernels sample a block copy that L2 holds
// (schedule_forward_cpu, `blocked`): the same prefetch made the 8x64x128x128 bicubic 1.09-1.10x
// slower; not applied there.
// Why a pass: the schedule's prefetch directive (Func::prefetch) fetches the region of a buffer
// that bounds inference gives a loop iteration, and for taps that come from the grid that region
// is the whole copy; it also emits only non-temporal prefetches (prefetch_rows.cpp).
class BlockPrefetch : public TapsConsumerMutator {
public:
    static constexpr int kStep = 2;

    // copy: the sampled buffer; taps: the tile's taps Func; block_loop: the loop over blocks of
    // channels (e.g. "output.s0.c.co").
    BlockPrefetch(std::string copy, const std::string &taps, std::string block_loop)
        : TapsConsumerMutator(taps), copy_(std::move(copy)), block_loop_(std::move(block_loop)) {}

    using TapsConsumerMutator::visit;

    Halide::Internal::Stmt visit(const Halide::Internal::For *op) override {
        using namespace Halide;
        using namespace Halide::Internal;
        if (!in_taps() || op->name != block_loop_) return IRMutator::visit(op);
        const TapBox::Lets lets(op->body);
        const std::string list = copy_ + ".prefetch_list" + std::to_string(counter_++);
        NestPrefetches prefetches(copy_, true, list, kStep, true);
        // simplify() drops what the prefetches do not use (the output's loop, its lets).
        const Stmt prefetch = prefetches.allocated(simplify(prefetches.mutate(lets.inner)));
        return For::make(op->name, op->min, op->extent, op->for_type, op->partition_policy,
                         op->device_api, lets.wrap(Block::make(prefetch, lets.inner)));
    }

private:
    std::string copy_, block_loop_;
    int counter_ = 0;
};

// The same purpose for the channels-innermost tiles (schedule_forward_cpu: channels-last input
// and output with at least V channels, sampled in place, V channels a vector): before a tile is
// sampled, a copy of its nest reduced to the first vector of channels, whose innermost loop (over
// x) visits every kStep-th point, lists the first element of each of the point's taps, and one
// call per row prefetches into L2 every line of the taps' channels (gridsample_prefetch_spans;
// gridsample_prefetch_list where the channels fit in a line). Why, and why a pass: as for
// BlockPrefetch, which does the same on the planar kernel's channels-last copy; without it a
// profile of the 1x16x64^3 NDHWC trilinear call (AMD Zen 4, one thread) had two thirds of its
// samples on the instruction after the corner loads.
// The generated kernels with and without it, the same kernel on channels-last input and output,
// called in alternation in one process (same bits), ratio of the medians of 10-30 calls, at one /
// two threads (AMD EPYC Zen 4; avx512_gather level, nearest at the avx512 level, as the library
// picks them there; zeros padding but where said):
//   1x16x64^3 trilinear border          0.51-0.54 / 0.46-0.80 (5.9 ms against 11.0-11.6)
//   1xCx64^3 trilinear border           C = 17, 32, 64: 0.65 / 0.61, 0.96 / 0.96 and
//                                       1.01 / 1.00 with the first line of each tap alone,
//                                       then every line 0.95 / 0.99, 0.59-0.62 / 0.59-0.63 and
//                                       0.70-0.74 / 0.73-0.77 of that
//   1x16x64^3 nearest                   0.86 / 0.84
//   8x64x128x128 bilinear               0.59 / 0.65 (C = 16: 0.69 / 0.97; 2x256x128x128: 0.84 / 0.90)
//   8x64x128x128 bicubic                0.86 / 0.83 (C = 16: 0.65 / 0.82; 2x256x128x128: 0.92 / 0.90)
//   8x64x128x128 nearest                0.97 / 0.99 (C = 17: 0.72 / 0.90)
//   AVX2 level: 2-D bilinear 0.65 / 0.68, bicubic 0.71 / 0.74, 3-D trilinear 0.45 / 0.56
// With the first line of each tap alone, 8x64x128x128 bilinear took 0.95-0.97 / 0.91-0.95 of
// the time without prefetch.
class InnermostChannelsPrefetch : public Halide::Internal::IRMutator {
public:
    static constexpr int kStep = 2;

    // input: the sampled buffer; taps: the tile's taps Func; channel_loop: the output's loop over
    // channels (e.g. "output.s0.c"), whose split into vectors has the outer loop `vector_loop`.
    InnermostChannelsPrefetch(std::string input, std::string taps, std::string channel_loop,
                              std::string vector_loop, Halide::Expr channels)
        : input_(std::move(input)), taps_(std::move(taps)), channel_loop_(std::move(channel_loop)),
          vector_loop_(std::move(vector_loop)), channels_(std::move(channels)) {}

    using IRMutator::visit;

    Halide::Internal::Stmt visit(const Halide::Internal::ProducerConsumer *op) override {
        using namespace Halide::Internal;
        if (op->is_producer || op->name != taps_ || !has_vector_loop(op->body)) {
            return IRMutator::visit(op);
        }
        // The nest at the first vector of channels; the scalar loop of the last channels (the
        // tail of the split) and its guard dropped.
        struct FirstVector : IRMutator {
            const std::string &vectors, &channels;
            FirstVector(const std::string &v, const std::string &c) : vectors(v), channels(c) {}
            using IRMutator::visit;
            Stmt visit(const For *op) override {
                if (op->name == vectors) return mutate(substitute(op->name, op->min, op->body));
                if (op->name.rfind(channels + ".", 0) == 0) return Evaluate::make(0);
                return IRMutator::visit(op);
            }
        } first(vector_loop_, channel_loop_);
        const std::string list = input_ + ".innermost_prefetch_list" + std::to_string(counter_++);
        NestPrefetches prefetches(input_, true, list, kStep, true, channels_);
        const Stmt nest = simplify(first.mutate(op->body));
        const Stmt prefetch = prefetches.allocated(simplify(prefetches.mutate(nest)));
        return ProducerConsumer::make(op->name, op->is_producer, Block::make(prefetch, op->body));
    }

private:
    std::string input_, taps_, channel_loop_, vector_loop_;
    Halide::Expr channels_;
    int counter_ = 0;

    bool has_vector_loop(const Halide::Internal::Stmt &s) const {
        return has_loop(s, vector_loop_, false);
    }
};

// The same purpose for 2-D channels-last tiles, bilinear and bicubic: before a tile is sampled,
// one call prefetches into L2 every row of the bounding box of its taps (tap_box.h), instead of
// a prefetch per line per point. Image 1x3x1080x1920 channels-last, zeros padding,
// avx512_gather level, one thread, the generated kernel alone, median ratio of 5-6 shuffled
// rounds (all faster) to the per-point non-temporal prefetch above: bilinear 0.58, bicubic 0.71.
// For nearest it was 1.62x slower than TilePrefetch with to_l2 (its per-point prefetches are
// few, one line per point, and come closer to their use).
class TileBoxPrefetch : public Halide::Internal::IRMutator {
public:
    static constexpr int kMaxLines = 1024;  // a box of 64 KiB at most

    TileBoxPrefetch(std::string input, std::vector<std::string> x_taps,
                    std::vector<std::string> y_taps)
        : input_(std::move(input)), x_taps_(std::move(x_taps)), y_taps_(std::move(y_taps)) {}

    using IRMutator::visit;

    Halide::Internal::Stmt visit(const Halide::Internal::ProducerConsumer *op) override {
        using namespace Halide;
        using namespace Halide::Internal;
        if (op->is_producer || op->name != "taps") return IRMutator::visit(op);
        const std::string id = input_ + ".tile_box" + std::to_string(counter_++);
        // A planar nest (with a loop over channels) is not of this shape: find() refuses it.
        std::optional<TapBox> b = TapBox::find(op->body, input_, x_taps_, y_taps_, id + ".box");
        if (!b) return op;
        const Expr x_step = b->step(false), row_stride = b->step(true);
        const Expr x_lo = b->at(0), x_hi = b->at(1), y_lo = b->at(2), y_hi = b->at(3);
        const Expr first = b->address_at(x_lo, y_lo);
        if (!x_step.defined() || !row_stride.defined() || !first.defined()) return op;
        // Whole points: the load found may be any channel's, so one point more.
        const Expr width = (x_hi - x_lo + 2) * x_step;
        const Expr rows = y_hi - y_lo + 1;
        const Expr lines = width / (64 / b->element.bytes()) + 1;
        Stmt prefetch = IfThenElse::make(
            x_lo <= x_hi && rows * lines <= kMaxLines,
            prefetch_rows(input_, first, rows, row_stride, width, b->element.bytes()));
        Stmt body = b->outer.wrap(Block::make({b->bounds({}), prefetch, Stmt(b->rows)}));
        return ProducerConsumer::make(op->name, op->is_producer, b->allocated(body));
    }

private:
    std::string input_;
    std::vector<std::string> x_taps_, y_taps_;
    int counter_ = 0;
};

}  // namespace gridsample_gen
