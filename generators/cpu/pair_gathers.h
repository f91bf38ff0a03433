// A lowering pass of the forward CPU schedule: planar bilinear loads each row's two taps
// (x0, x0 + 1) with one 64-bit gather instead of two 32-bit gathers (float16 and bfloat16
// elements: one 32-bit gather instead of two 16-bit loads, which x86 has no gather for).
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
// Bilinear only: a version for bicubic (four taps a row as two pairs, each tap picked among four
// floats) was 1.14x slower on the feature map and the image (the 4-way picks cost more than the
// gathers they save; reflection padding, avx512_gather, one thread, 3-4 shuffled rounds).
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
// points whose body is lets and one store (a planar nest), with a constant extent of at most
// kMaxPoints, whose scalar loads of the input all have an index that is one x tap (a load of
// x_taps[0] or x_taps[1]) plus a row offset, two loads per row for at most four rows, becomes
//   if (input.extent.0 >= 2) { allocate a pair buffer per row; loop 1; loop 2 } else { the loop }.
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

    // input: the sampled buffer; x_taps: the two taps buffers of the x indices.
    PairGathers(std::string input, std::vector<std::string> x_taps)
        : input_(std::move(input)), x_taps_(std::move(x_taps)) {}

    using TapsConsumerMutator::visit;

    Halide::Internal::Stmt visit(const Halide::Internal::For *op) override {
        using namespace Halide;
        using namespace Halide::Internal;
        if (!in_taps()) return IRMutator::visit(op);
        Stmt paired = pair(op, op->body);
        if (!paired.defined() && scalar_loads(op->body, input_).size() >
                                     scalar_loads(TapBox::Lets(op->body).inner, input_).size()) {
            // Loads in the lets (bfloat16: the sum is bound once and read twice, for its
            // rounding and its NaN test): paired with every let inlined, then shared again.
            paired = pair(op, inline_lets(op->body));
            if (paired.defined()) paired = common_subexpression_elimination(paired);
        }
        return paired.defined() ? paired : IRMutator::visit(op);
    }

private:
    // A loop body of lets and one store as the store alone, every let (statement or expression)
    // substituted in; anything else unchanged.
    static Halide::Internal::Stmt inline_lets(const Halide::Internal::Stmt &body) {
        using namespace Halide::Internal;
        TapBox::Lets lets(body);
        const Store *store = lets.inner.as<Store>();
        if (!store) return body;
        std::map<std::string, Halide::Expr> expanded;
        for (const LetStmt *l : lets.lets) {
            expanded[l->name] = substitute(expanded, substitute_in_all_lets(l->value));
        }
        return Store::make(store->name, substitute(expanded, substitute_in_all_lets(store->value)),
                           substitute(expanded, substitute_in_all_lets(store->index)),
                           store->param, substitute(expanded, store->predicate),
                           store->alignment);
    }

    // The loop with its taps paired, or nothing where it has another shape.
    Halide::Internal::Stmt pair(const Halide::Internal::For *loop,
                                const Halide::Internal::Stmt &body) {
        using namespace Halide;
        using namespace Halide::Internal;
        constexpr int k = 2;  // taps per row
        if (static_cast<int>(x_taps_.size()) != k) return Stmt();
        const std::optional<int64_t> extent = as_const_int(loop->extent);
        if (!extent || *extent <= 0 || *extent > kMaxPoints) return Stmt();
        TapBox::Lets lets(body);
        const Store *store = lets.inner.as<Store>();
        if (!store || store->value.type().is_vector()) return Stmt();

        // Lets expanded, and the x tap loads named pair.x0, pair.x1, ...
        std::map<std::string, Expr> expanded;
        for (const LetStmt *l : lets.lets) expanded[l->name] = substitute(expanded, l->value);
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

        // Each input load: its x tap and its row offset (the index less the tap).
        struct Tap {
            const Load *load;
            int x;
            int row;
        };
        std::vector<Tap> taps;
        std::vector<Expr> rows;
        for (const Load *load : scalar_loads(store->value, input_)) {
            Expr e = simplify(name.mutate(substitute(expanded, load->index)));
            int x = -1;
            Expr row;
            for (int j = 0; j < k; j++) {
                if (!expr_uses_var(e, tap_var(j))) continue;
                if (x >= 0) return Stmt();  // two x taps in one index
                x = j;
                row = simplify(e - Variable::make(Int(32), tap_var(j)));
            }
            if (x < 0) return Stmt();
            for (int j = 0; j < k; j++) {
                if (expr_uses_var(row, tap_var(j))) return Stmt();
            }
            int r = 0;
            while (r < (int)rows.size() && !equal(rows[r], row)) r++;
            if (r == (int)rows.size()) rows.push_back(row);
            taps.push_back({load, x, r});
        }
        // Every row's k taps, each loaded once (or more often, where lets were inlined).
        if (taps.empty() || rows.size() > 4) return Stmt();
        for (size_t r = 0; r < rows.size(); r++) {
            for (int j = 0; j < k; j++) {
                bool found = false;
                for (const Tap &t : taps) found = found || (t.row == (int)r && t.x == j);
                if (!found) return Stmt();
            }
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

        // Loop 1: each row's pair at xs = min(x0, x1, width - 2).
        const Expr width = Variable::make(Int(32), input_ + ".extent.0");
        const Expr xs = min(x[1], min(x[0], width - k));
        const Expr v = Variable::make(Int(32), loop->name);
        const Expr slot = v - loop->min;
        const Type pair_type = UInt(element.bits() * 2);
        std::vector<std::string> buffer;  // one per row
        Stmt fill;
        for (const Expr &row : rows) {
            buffer.push_back(unique_name(input_ + ".pairs"));
            Expr load = Load::make(element.with_lanes(2), input_, Ramp::make(xs + row, 1, 2),
                                   taps[0].load->image, taps[0].load->param, const_true(2),
                                   ModulusRemainder());
            Stmt s = Store::make(buffer.back(), Reinterpret::make(pair_type, load), slot,
                                 Parameter(), const_true(), ModulusRemainder());
            fill = fill.defined() ? Block::make(fill, s) : s;
        }
        fill = For::make(loop->name, loop->min, loop->extent, loop->for_type,
                         loop->partition_policy, loop->device_api, fill);

        // Loop 2: the loop, each tap read back from its row's pair: the first element at xs.
        std::map<const Load *, Expr> replacement;
        for (const Tap &t : taps) {
            if (element.bits() == 16) {
                // 16-bit elements: the pair's 32 bits, shifted to put the tap in the low half, and
                // truncated: a select on 32-bit lanes, where reading the two halves as 16-bit
                // elements had LLVM deinterleave and widen them again (planar bilinear bfloat16,
                // 8x64x128x128, avx512_gather, one thread, the kernel alone: 6.4 ms instead of
                // 7.3; float16 5.3 instead of 5.4; float32 5.9).
                Expr pair = Load::make(pair_type, buffer[t.row], slot, Buffer<>(), Parameter(),
                                       const_true(), ModulusRemainder());
                Expr bits = cast(UInt(16), select(x[t.x] == xs, pair, pair >> 16));
                replacement[t.load] = element == UInt(16) ? bits : reinterpret(element, bits);
                continue;
            }
            auto half = [&](int j) {
                return Load::make(element, buffer[t.row], slot * 2 + j, Buffer<>(), Parameter(),
                                  const_true(), ModulusRemainder());
            };
            replacement[t.load] = select(x[t.x] == xs, half(0), half(1));
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
        Stmt sample = lets.wrap(replace.mutate(Stmt(store)));
        sample = For::make(loop->name, loop->min, loop->extent, loop->for_type,
                           loop->partition_policy, loop->device_api, sample);

        Stmt paired = Block::make(fill, sample);
        for (auto it = buffer.rbegin(); it != buffer.rend(); ++it) {
            paired = Allocate::make(*it, pair_type, MemoryType::Stack,
                                    {Expr(static_cast<int>(*extent))}, const_true(),
                                    Block::make(paired, Free::make(*it)));
        }
        return IfThenElse::make(width >= k, paired, loop);
    }

    std::string input_;
    std::vector<std::string> x_taps_;
};

}  // namespace gridsample_gen
