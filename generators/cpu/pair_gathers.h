// A lowering pass of the forward CPU schedule: planar bilinear loads each row's two taps
// (x0, x0 + 1) with one 64-bit gather instead of two 32-bit gathers (float16 and bfloat16
// elements: one 32-bit gather instead of two 16-bit loads, which x86 has no gather for); on x86
// targets without hardware gathers, channels-last RGB and RGBA rows too (below).
//
// Why: the planar bilinear sampling loop gathers four taps per point, and on the feature maps
// those gathers are most of its time (they hit L1/L2; a kernel doing only its 32-bit gathers from
// L1 would reach about a third of the memory roofline). The two taps of a row are neighbours in
// memory, so a gather of 64-bit elements fetches both: half the gathered elements. LLVM's loop
// vectorizer gives the fast form when the work is split in two loops over the points of a row:
//   1. pairs[i] = the 64 bits at input[row + xs], xs = min(x0, x1, width - 2), for each point
//      (vpgatherdq, 8 pairs a gather on AVX-512), into a small buffer on the stack;
//   2. the original loop, each tap read back as float element 2i or 2i + 1 of that buffer
//      (contiguous loads, deinterleaved with vpermt2ps): the tap at index x is element
//      2i + (x != xs).
// (A single loop that splits the 64-bit values itself costs more shuffles than it saves: 1.04x
// to 1.31x slower, measured.) The values are the same floats the 32-bit gathers load, and the
// weighted sum is unchanged, so the results are bit for bit the same.
//
// Why a pass and not the schedule: the pair is a load of two elements at a data-dependent index,
// reinterpreted as one 64-bit value, and the tap a pick between its halves; Halide's algorithm
// language has no reinterpreting load of a Func (a Func of pairs would be a second definition of
// the sampling, and the picks' min(x0, x1, width - 2) is not a bound Halide can prove in range).
//
// Bilinear only: a version for bicubic (four taps a row as two pairs, each tap picked among four
// floats) was 1.14x slower on the feature map and the image (the 4-way picks cost more than the
// gathers they save; reflection padding, avx512_gather, one thread, 3-4 shuffled rounds).
//
// Interleaved rows (channels-last RGB and RGBA, C channels a point, the channel loop unrolled):
// the two taps of a row are the 2C elements from C * xs on, loaded as C pairs; a tap's channel c
// is element c (at xs) or C + c (at xs + 1). 1x3x1080x1920 image through the bench's affine
// grid, the generated kernel against the one without interleaved pairs, called in alternation in
// one process (median of 20-40 pairs, two runs, same bits), at one / two threads:
//   avx512 (no hardware gathers)  RGB border 0.80-0.81 / 0.80, zeros 0.81-0.82 / 0.83;
//                                 RGBA border 0.88 / 0.87
//   avx2   (no hardware gathers)  RGB border 0.90-0.91 / 0.91-0.92, zeros 0.88-0.91 / 0.89-0.93;
//                                 RGBA 1.00 / 1.00; RGB bfloat16 zeros 0.89-0.95 / 0.91-0.93
//   avx512_gather                 RGB border 0.97-0.98 / 1.02-1.05; RGBA 0.96 / 1.05
//   sse41, baseline               RGB border 1.00-1.01 / 1.01-1.02, 0.98-1.04 / 1.01-1.02
// So interleaved rows are paired only on the x86 targets with AVX2 and no hardware gathers
// (pairs_interleaved_rows()). With hardware gathers the pairs gain nothing here: a row's six
// floats take three 64-bit gathers of 8 lanes where they took six 32-bit gathers of 16, and the
// pair loop spent half the kernel's time in them. Nearest, tried the same way on the same image
// (a point's C elements as ceil(C / 2) pairs, overlapping for RGB; no pick needed): 1.10-1.31x
// slower on avx2 and avx512 for RGB, 1.01-1.22x for RGBA, so not done.
//
// Exactness: the two x taps of a bilinear point are clamp(i0, 0, W - 1) and clamp(i0 + 1, 0,
// W - 1) (sampling_math.h, axis_taps): both in {xs, xs + 1} with xs = min(x0, x1, W - 2), and
// xs, xs + 1 are in [0, W - 1] when W >= 2. Inputs one pixel wide keep the original loop.
//
// Measured: 8x64x128x128 feature map through the bench's affine grid, bilinear zeros, the
// generated kernel alone (Sapphire Rapids VM; median ratio of 3-6 rounds, order shuffled each
// round, against the kernel without this pass):
//   avx512_gather  0.80 at one thread (5/6 rounds faster), 0.79 at two (5/6)
//   avx512         0.72 (3/3)   (no hardware gathers: scalar 64-bit loads instead of 32-bit)
//   avx2           0.82 (2/3)
//   sse41          0.73 (3/3)
//   baseline       0.75 (3/3)
// Outputs compared bit for bit with the kernel without the pass: identical (1.26 million values,
// random sizes from 1x1 up, NaN in the grid, both align_corners; zeros and reflection padding).
//
// What it does, on the lowered statement: in each `consume taps` block, each innermost loop over
// points whose body is lets and scalar stores (one store a channel), with a constant extent of
// at most kMaxPoints, whose scalar loads of the input all have an index that is C times one x tap
// (a load of x_taps[0] or x_taps[1]) plus a row offset plus a channel below C, both taps of every
// channel loaded for at most four rows, becomes
//   if (input.extent.0 >= 2) { allocate C pair buffers per row; loop 1; loop 2 } else { the loop }.
#pragma once

#include "Halide.h"
#include "cpu/tap_box.h"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gridsample_gen {

class PairGathers : public TapsConsumerMutator {
public:
    static constexpr int kMaxPoints = 512;  // pair buffers of 4 KiB each at most

    // input: the sampled buffer; x_taps: the two taps buffers of the x indices; interleaved:
    // pair the rows of the channels-last RGB and RGBA specializations too (see above: on targets
    // that load taps with scalar loads).
    PairGathers(std::string input, std::vector<std::string> x_taps, bool interleaved)
        : input_(std::move(input)), x_taps_(std::move(x_taps)), interleaved_(interleaved) {}

    // Whether `target` pairs interleaved rows: x86 with AVX2 whose tuning keeps LLVM from
    // hardware gathers (the avx2 and avx512 levels), where pairs halve the scalar loads.
    static bool pairs_interleaved_rows(const Halide::Target &target) {
        return target.arch == Halide::Target::X86 &&
               target.has_feature(Halide::Target::AVX2) &&
               target.processor_tune != Halide::Target::Processor::ZnVer4;
    }

    using TapsConsumerMutator::visit;

    Halide::Internal::Stmt visit(const Halide::Internal::For *op) override {
        using namespace Halide;
        using namespace Halide::Internal;
        if (!in_taps()) return IRMutator::visit(op);
        Stmt paired = pair(op, op->body);
        if (!paired.defined() && loads_in_lets(op->body)) {
            // Loads in the lets (bfloat16: the sum is bound once and read twice, for its
            // rounding and its NaN test): paired with every let inlined, then shared again.
            paired = pair(op, inline_lets(op->body));
            if (paired.defined()) paired = common_subexpression_elimination(paired);
        }
        return paired.defined() ? paired : IRMutator::visit(op);
    }

private:
    // A loop body of lets, blocks and stores with every let statement substituted in (and the
    // lets of expressions too); anything else unchanged.
    static Halide::Internal::Stmt inline_lets(const Halide::Internal::Stmt &body) {
        using namespace Halide::Internal;
        struct Inline : IRMutator {
            std::map<std::string, Halide::Expr> expanded;
            using IRMutator::visit;
            Stmt visit(const LetStmt *op) override {
                expanded[op->name] = substitute(expanded, substitute_in_all_lets(op->value));
                return mutate(op->body);
            }
            Stmt visit(const Store *op) override {
                auto in = [&](const Halide::Expr &e) {
                    return substitute(expanded, substitute_in_all_lets(e));
                };
                return Store::make(op->name, in(op->value), in(op->index), op->param,
                                   in(op->predicate), op->alignment);
            }
        } inl;
        return inl.mutate(body);
    }

    // Whether a let statement of the body binds a value that loads the input.
    bool loads_in_lets(const Halide::Internal::Stmt &body) const {
        using namespace Halide::Internal;
        struct Find : IRVisitor {
            const std::string &input;
            bool found = false;
            explicit Find(const std::string &i) : input(i) {}
            using IRVisitor::visit;
            void visit(const LetStmt *op) override {
                found = found || !scalar_loads(op->value, input).empty();
                IRVisitor::visit(op);
            }
        } find(input_);
        body.accept(&find);
        return find.found;
    }

    // The stores of a loop body made of lets, blocks and scalar stores only, with the values
    // of its lets expanded (nothing where the body has another shape).
    static bool stores_of(const Halide::Internal::Stmt &s,
                          std::map<std::string, Halide::Expr> &expanded,
                          std::vector<const Halide::Internal::Store *> &stores) {
        using namespace Halide::Internal;
        if (const LetStmt *l = s.as<LetStmt>()) {
            expanded[l->name] = substitute(expanded, l->value);
            return stores_of(l->body, expanded, stores);
        }
        if (const Block *b = s.as<Block>()) {
            return stores_of(b->first, expanded, stores) && stores_of(b->rest, expanded, stores);
        }
        if (const Store *st = s.as<Store>()) {
            stores.push_back(st);
            return st->value.type().is_scalar();
        }
        return false;
    }

    // The loop with its taps paired, or nothing where it has another shape.
    //
    // Planar rows (one channel a store): a row's two taps are the elements xs and xs + 1 of the
    // row, one pair. Interleaved rows (RGB, RGBA: C channels a point, one store per channel):
    // each load's index is C * x tap + the row's offset + the channel, and the two taps of a row
    // are the 2C elements from C * xs on, read as C pairs; a tap's channel c is element c of
    // them (at xs) or element C + c (at xs + 1).
    Halide::Internal::Stmt pair(const Halide::Internal::For *loop,
                                const Halide::Internal::Stmt &body) {
        using namespace Halide;
        using namespace Halide::Internal;
        constexpr int k = 2;  // taps per row
        if (static_cast<int>(x_taps_.size()) != k) return Stmt();
        const std::optional<int64_t> extent = as_const_int(loop->extent);
        if (!extent || *extent <= 0 || *extent > kMaxPoints) return Stmt();
        std::map<std::string, Expr> expanded;
        std::vector<const Store *> stores;
        if (!stores_of(body, expanded, stores) || stores.empty()) return Stmt();

        // The x tap loads named pair.x0, pair.x1, ...
        auto tap_var = [](int j) { return "pair.x" + std::to_string(j); };
        struct Name : IRMutator {
            const std::vector<std::string> &taps;
            std::vector<Expr> tap;
            std::function<std::string(int)> var;
            Name(const std::vector<std::string> &t, std::function<std::string(int)> v)
                : taps(t), tap(t.size()), var(std::move(v)) {}
            using IRMutator::visit;
            Expr visit(const Load *op) override {
                for (size_t j = 0; j < taps.size(); j++) {
                    if (op->name == taps[j]) {
                        if (!tap[j].defined()) tap[j] = op;
                        return Variable::make(op->type, var(static_cast<int>(j)));
                    }
                }
                return IRMutator::visit(op);
            }
        } name(x_taps_, tap_var);

        // Each input load: its x tap, the stride of x (C, the channels of a point), and its row
        // offset (the index at x tap 0). Every load of the input must be in a store's value.
        struct Tap {
            const Load *load;
            int x;
            Expr offset;
            int row = -1;  // the row: rows[row] + channel is the offset
            int channel = 0;
        };
        std::vector<Tap> taps;
        int channels = 0;
        for (const Store *store : stores) {
            for (const Load *load : scalar_loads(store->value, input_)) {
                Expr e = simplify(name.mutate(substitute(expanded, load->index)));
                int x = -1;
                for (int j = 0; j < k; j++) {
                    if (!expr_uses_var(e, tap_var(j))) continue;
                    if (x >= 0) return Stmt();  // two x taps in one index
                    x = j;
                }
                if (x < 0) return Stmt();
                const Expr offset = simplify(substitute(tap_var(x), Expr(0), e));
                const std::optional<int64_t> stride =
                    as_const_int(simplify(substitute(tap_var(x), Expr(1), e) - offset));
                if (!stride || *stride < 1 || *stride > 4 ||
                    (channels != 0 && *stride != channels)) {
                    return Stmt();
                }
                channels = static_cast<int>(*stride);
                if (channels > 1 && !interleaved_) return Stmt();
                const Expr tap = Variable::make(Int(32), tap_var(x));
                if (!is_const_zero(simplify(e - (offset + tap * channels)))) return Stmt();
                for (int j = 0; j < k; j++) {
                    if (expr_uses_var(offset, tap_var(j))) return Stmt();
                }
                taps.push_back({load, x, offset});
            }
        }
        if (taps.empty() ||
            taps.size() != scalar_loads(body, input_).size()) {  // loads in the lets
            return Stmt();
        }
        // The rows: offsets a constant 0 .. C - 1 apart are the channels of one row, whose
        // offset is the least of them (channel 0).
        std::vector<Expr> rows;
        for (Tap &t : taps) {
            for (size_t r = 0; r < rows.size() && t.row < 0; r++) {
                const std::optional<int64_t> d = as_const_int(simplify(t.offset - rows[r]));
                if (!d || *d <= -channels || *d >= channels) continue;
                if (*d < 0) {  // a lower channel: the row's offset moves down
                    rows[r] = t.offset;
                    for (Tap &u : taps) {
                        if (u.row == static_cast<int>(r)) u.channel -= static_cast<int>(*d);
                    }
                    t.channel = 0;
                } else {
                    t.channel = static_cast<int>(*d);
                }
                t.row = static_cast<int>(r);
            }
            if (t.row < 0) {
                t.row = static_cast<int>(rows.size());
                rows.push_back(t.offset);
            }
        }
        // Every row's k taps of every channel, each loaded at least once; so the 2C elements
        // read for a row are elements the loop reads anyway (xs, xs + 1 are x taps of points).
        if (rows.size() > 4) return Stmt();
        for (size_t r = 0; r < rows.size(); r++) {
            for (int j = 0; j < k; j++) {
                for (int c = 0; c < channels; c++) {
                    bool found = false;
                    for (const Tap &t : taps) {
                        found = found || (t.row == (int)r && t.x == j && t.channel == c);
                    }
                    if (!found) return Stmt();
                }
            }
        }
        for (const Tap &t : taps) {
            if (t.channel < 0 || t.channel >= channels) return Stmt();
        }
        std::vector<Expr> x;
        for (int j = 0; j < k; j++) {
            if (!name.tap[j].defined()) return Stmt();
            x.push_back(substitute(expanded, name.tap[j]));
        }
        // 32-bit elements pair into 64-bit gathers, float16 and bfloat16 (S10) into 32-bit ones
        // (whose gathers, unlike 16-bit ones, exist: without pairs their taps are loaded one by
        // one). No 128-bit gathers for float64 pairs, no 16-bit ones for uint8.
        const Type element = taps[0].load->type;
        if (element.bits() != 32 && element.bits() != 16) return Stmt();

        // Loop 1: each row's C pairs from element C * xs on, xs = min(x0, x1, width - 2).
        const Expr width = Variable::make(Int(32), input_ + ".extent.0");
        const Expr xs = min(x[1], min(x[0], width - k));
        const Expr v = Variable::make(Int(32), loop->name);
        const Expr slot = v - loop->min;
        const Type pair_type = UInt(element.bits() * 2);
        std::vector<std::vector<std::string>> buffer(rows.size());  // [row][pair]
        std::vector<std::string> allocations;
        Stmt fill;
        for (size_t r = 0; r < rows.size(); r++) {
            for (int q = 0; q < channels; q++) {
                buffer[r].push_back(unique_name(input_ + ".pairs"));
                allocations.push_back(buffer[r].back());
                Expr load = Load::make(element.with_lanes(2), input_,
                                       Ramp::make(xs * channels + rows[r] + 2 * q, 1, 2),
                                       taps[0].load->image, taps[0].load->param, const_true(2),
                                       ModulusRemainder());
                Stmt s = Store::make(buffer[r].back(), Reinterpret::make(pair_type, load), slot,
                                     Parameter(), const_true(), ModulusRemainder());
                fill = fill.defined() ? Block::make(fill, s) : s;
            }
        }
        fill = For::make(loop->name, loop->min, loop->extent, loop->for_type,
                         loop->partition_policy, loop->device_api, fill);

        // Loop 2: the loop, each tap read back from its row's pairs: element c at xs, C + c at
        // xs + 1.
        std::map<const Load *, Expr> replacement;
        for (const Tap &t : taps) {
            const int at[2] = {t.channel, channels + t.channel};  // element at xs, at xs + 1
            Expr value[2];
            for (int i = 0; i < 2; i++) {
                const std::string &pairs = buffer[t.row][at[i] / 2];
                const int half = at[i] % 2;
                if (element.bits() == 16) {
                    // 16-bit elements: the pair's 32 bits, shifted to put the tap in the low
                    // half, and truncated: a select on 32-bit lanes, where reading the two halves
                    // as 16-bit elements had LLVM deinterleave and widen them again (planar
                    // bilinear bfloat16, 8x64x128x128, avx512_gather, one thread, the kernel
                    // alone: 6.4 ms instead of 7.3; float16 5.3 instead of 5.4; float32 5.9).
                    Expr pair = Load::make(pair_type, pairs, slot, Buffer<>(), Parameter(),
                                           const_true(), ModulusRemainder());
                    value[i] = half ? pair >> 16 : pair;
                } else {
                    value[i] = Load::make(element, pairs, slot * 2 + half, Buffer<>(),
                                          Parameter(), const_true(), ModulusRemainder());
                }
            }
            Expr tap = select(x[t.x] == xs, value[0], value[1]);
            if (element.bits() == 16) {
                Expr bits = cast(UInt(16), tap);
                tap = element == UInt(16) ? bits : reinterpret(element, bits);
            }
            replacement[t.load] = tap;
        }
        struct Replace : IRMutator {
            const std::map<const Load *, Expr> &with;
            explicit Replace(const std::map<const Load *, Expr> &w) : with(w) {}
            using IRMutator::visit;
            Expr visit(const Load *op) override {
                auto it = with.find(op);
                return it != with.end() ? it->second : IRMutator::visit(op);
            }
        } replace(replacement);
        Stmt sample = replace.mutate(body);
        sample = For::make(loop->name, loop->min, loop->extent, loop->for_type,
                           loop->partition_policy, loop->device_api, sample);

        Stmt paired = Block::make(fill, sample);
        for (auto it = allocations.rbegin(); it != allocations.rend(); ++it) {
            paired = Allocate::make(*it, pair_type, MemoryType::Stack,
                                    {Expr(static_cast<int>(*extent))}, const_true(),
                                    Block::make(paired, Free::make(*it)));
        }
        return IfThenElse::make(width >= k, paired, loop);
    }

    std::string input_;
    std::vector<std::string> x_taps_;
    bool interleaved_;
};

}  // namespace gridsample_gen
