// A lowering pass of the forward CPU schedule: what the sampling loop of a planar tile computes
// from the taps alone is computed once per tile, before the loop over channels, instead of once
// per channel.
//
// Why: a planar tile computes its taps once (the `taps` buffers), then samples each channel from
// them. The sampling loop of each channel still rebuilds, per point, values that depend on the
// taps only: the products of the x and y weights, each corner's in-range flag (x flag and y flag),
// each tap's address less the channel's offset (index arithmetic with a multiply), PairGathers'
// choice between the two floats of a pair. With 64 channels that work is done 64 times.
//
// What it does, on the lowered statement: in the loop over channels of a tile, each innermost
// loop over points that is only stores, with a constant extent, and whose loads of the taps all
// read one element (the point's), is rewritten:
//   - each largest subexpression that reads the taps and nothing else of the tile (no input, no
//     variable of the channel) and computes something (more than a lone load, or a load compared
//     with a constant) becomes a load from a buffer of the tile laid out as the taps are;
//   - in each int32 sum (an index), the terms that read the taps, together with the terms that
//     are constant in the tile, become one such load.
// Before the loop over channels, a copy of the nest that leads to that loop (its loops over rows
// and points and its conditions, bounds and all) fills the buffers; loops with the same nest
// (PairGathers' two loops) share one fill, and identical subexpressions share one buffer. A flag
// is stored as a byte. The rewritten loop over channels runs when there are at least
// `min_channels` channels; with fewer, the fill costs more than it saves and the loop is kept.
//
// Exactness: every stored value is the same expression evaluated at the same point (float
// arithmetic is strict: the same operations in the same order), so the results are bit for bit
// those without the pass. The fill visits exactly the points the sampling loops visit, so it
// reads only taps the tile computed.
//
// Measured: 8x64x128x128 feature map through the bench's affine grid, bilinear, the generated
// kernel alone (Sapphire Rapids VM; median ratio of 3-7 rounds, order shuffled each round,
// against the kernel without this pass):
//   avx512_gather  zeros 0.79 at one thread (5/5 rounds faster), 0.74 at two (5/5);
//                  border 0.71 / 0.77 (3/3); reflection 0.83 (3/3) / 0.87 (6/6)
//   avx512 0.86, avx2 0.83, sse41 0.73, baseline 0.65 (zeros, one thread, 3/3 each)
//   float64 (no pair gathers; zeros, avx512_gather, calls of the two kernels alternated in one
//   process, median ratio of 40-60 pairs): 1.00 at one thread, 0.99 at two
// By channel count (8xCx128x128, zeros, avx512_gather, one thread, 5-7 rounds): C = 1 1.03,
// 2 1.18, 3 (the 1x3x1080x1920 image) 1.15 and 1.08 at two threads, 4 1.03 and 0.91, 6 0.87,
// 8 0.87-0.92, 16 0.87: hence 6 channels at least.
// Bilinear only: nearest (1.19x slower: one address and one flag a point, little to save) and
// bicubic (1.30x slower: 16 taps a point make 64 buffers, more traffic than the arithmetic they
// save) keep their loops.
#pragma once

#include "Halide.h"
#include "cpu/tap_box.h"

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace gridsample_gen {

class HoistTileInvariants : public Halide::Internal::IRMutator {
public:
    // channel_loop: the name prefix of the loop over channels; taps: the taps Func (its buffers
    // are taps.0, taps.1, ...); input: the sampled buffer.
    HoistTileInvariants(std::string channel_loop, const std::string &taps, std::string input,
                        int min_channels)
        : channel_loop_(std::move(channel_loop)), taps_(taps + "."), input_(std::move(input)),
          min_channels_(min_channels) {}

    using IRMutator::visit;

    Halide::Internal::Stmt visit(const Halide::Internal::Allocate *op) override {
        using namespace Halide::Internal;
        if (is_taps(op->name)) {
            int64_t size = 1;
            for (const Halide::Expr &e : op->extents) {
                const std::optional<int64_t> c = as_const_int(e);
                if (!c) {
                    size = 0;
                    break;
                }
                size *= *c;
            }
            if (size > 0) taps_size_[op->name] = size;
        }
        return IRMutator::visit(op);
    }

    Halide::Internal::Stmt visit(const Halide::Internal::For *op) override {
        using namespace Halide;
        using namespace Halide::Internal;
        if (op->name.rfind(channel_loop_, 0) != 0) return IRMutator::visit(op);
        Tile tile(*this, op->name);
        Stmt body = tile.mutate(op->body);
        if (tile.groups.empty()) return op;
        Stmt hoisted = For::make(op->name, op->min, op->extent, op->for_type, op->partition_policy,
                                 op->device_api, body);
        for (auto g = tile.groups.rbegin(); g != tile.groups.rend(); ++g) {
            hoisted = Block::make(g->fill(), hoisted);
        }
        for (const Group &g : tile.groups) {
            for (const Value &v : g.values) {
                hoisted = Allocate::make(v.buffer, v.stored, MemoryType::Stack,
                                         {Expr(static_cast<int>(g.size))}, const_true(),
                                         Block::make(hoisted, Free::make(v.buffer)));
            }
        }
        return IfThenElse::make(op->extent >= min_channels_, hoisted, op);
    }

private:
    // A value of the tile: its expression at a point and the buffer holding it.
    struct Value {
        Halide::Expr value;
        std::string buffer;
        Halide::Type stored;  // the value's type; uint8 for a flag
    };

    // A step of the nest between the loop over channels and an innermost loop: a loop (its
    // bounds with lets expanded) or a branch taken when `condition` holds.
    struct Step {
        const Halide::Internal::For *loop = nullptr;
        Halide::Expr condition, min, extent;
    };

    // The buffers one copy of a nest fills.
    struct Group {
        std::vector<Step> path;
        const Halide::Internal::For *points;
        Halide::Expr points_min;  // lets expanded
        Halide::Expr index;       // the element of the point in the taps buffers
        int64_t size;             // elements of the taps buffers
        std::vector<Value> values;

        Halide::Internal::Stmt fill() const {
            using namespace Halide;
            using namespace Halide::Internal;
            std::vector<Stmt> stores;
            for (const Value &v : values) {
                Expr e = v.value;
                if (v.stored != e.type()) e = select(e, make_one(v.stored), make_zero(v.stored));
                stores.push_back(
                    Store::make(v.buffer, e, index, Parameter(), const_true(), ModulusRemainder()));
            }
            Stmt s = For::make(points->name, points_min, points->extent, ForType::Serial,
                               points->partition_policy, points->device_api, Block::make(stores));
            for (auto it = path.rbegin(); it != path.rend(); ++it) {
                s = it->loop ? For::make(it->loop->name, it->min, it->extent, ForType::Serial,
                                         it->loop->partition_policy, it->loop->device_api, s)
                             : IfThenElse::make(it->condition, s);
            }
            return s;
        }

        bool same_nest(const Group &o) const {
            using namespace Halide::Internal;
            if (path.size() != o.path.size() || !equal(index, o.index) || size != o.size ||
                points->name != o.points->name || !equal(points_min, o.points_min) ||
                !equal(points->extent, o.points->extent)) {
                return false;
            }
            for (size_t i = 0; i < path.size(); i++) {
                const Step &s = path[i], &t = o.path[i];
                if (!s.loop != !t.loop) return false;
                if (s.loop && (s.loop->name != t.loop->name || !equal(s.min, t.min) ||
                               !equal(s.extent, t.extent))) {
                    return false;
                }
                if (!s.loop && !equal(s.condition, t.condition)) return false;
            }
            return true;
        }
    };

    // The body of a loop over channels: finds its innermost loops and rewrites them.
    class Tile : public Halide::Internal::IRMutator {
    public:
        Tile(const HoistTileInvariants &pass, std::string channel)
            : pass_(pass), channel_(std::move(channel)) {}
        std::vector<Group> groups;

        using IRMutator::visit;

        Halide::Internal::Stmt visit(const Halide::Internal::LetStmt *op) override {
            using namespace Halide::Internal;
            lets_[op->name] = substitute(lets_, op->value);
            Stmt body = mutate(op->body);
            lets_.erase(op->name);
            return body.same_as(op->body) ? Stmt(op) : LetStmt::make(op->name, op->value, body);
        }

        Halide::Internal::Stmt visit(const Halide::Internal::IfThenElse *op) override {
            using namespace Halide::Internal;
            const Halide::Expr c = substitute(lets_, op->condition);
            path_.push_back({nullptr, c, {}, {}});
            Stmt then_case = mutate(op->then_case);
            path_.back().condition = !c;
            Stmt else_case = op->else_case.defined() ? mutate(op->else_case) : Stmt();
            path_.pop_back();
            return IfThenElse::make(op->condition, then_case, else_case);
        }

        Halide::Internal::Stmt visit(const Halide::Internal::For *op) override {
            using namespace Halide::Internal;
            struct HasLoop : IRVisitor {
                bool found = false;
                using IRVisitor::visit;
                void visit(const For *) override { found = true; }
            } inner;
            op->body.accept(&inner);
            if (!inner.found) {
                Stmt s = rewrite(op);
                return s.defined() ? s : Stmt(op);
            }
            path_.push_back({op, {}, substitute(lets_, op->min), substitute(lets_, op->extent)});
            Stmt body = mutate(op->body);
            path_.pop_back();
            return For::make(op->name, op->min, op->extent, op->for_type, op->partition_policy,
                             op->device_api, body);
        }

    private:
        const HoistTileInvariants &pass_;
        std::string channel_;
        std::map<std::string, Halide::Expr> lets_;  // inside the loop over channels, expanded
        std::vector<Step> path_;

        bool uses_channel(const Halide::Expr &e) const {
            return Halide::Internal::expr_uses_var(e, channel_);
        }

        // The innermost loop with its invariants loaded from the tile's buffers, or nothing.
        Halide::Internal::Stmt rewrite(const Halide::Internal::For *loop) {
            using namespace Halide;
            using namespace Halide::Internal;
            const Expr points_min = substitute(lets_, loop->min);
            if (!as_const_int(loop->extent) || uses_channel(points_min)) return Stmt();
            for (const Step &s : path_) {
                if (s.loop ? uses_channel(s.min) || uses_channel(s.extent)
                           : uses_channel(s.condition)) {
                    return Stmt();
                }
            }
            // The body with every let (around it and in it) substituted: stores only.
            TapBox::Lets lets(loop->body);
            std::map<std::string, Expr> env = lets_;
            for (const LetStmt *l : lets.lets) env[l->name] = substitute(env, l->value);
            Stmt body = substitute_in_all_lets(InlineLetStmts().mutate(substitute(env, lets.inner)));
            if (!only_stores(body)) return Stmt();

            // Every taps load reads the point's element.
            struct TapsLoads : IRVisitor {
                const HoistTileInvariants &pass;
                Expr index;
                int64_t size = 0;
                bool same = true;
                explicit TapsLoads(const HoistTileInvariants &p) : pass(p) {}
                using IRVisitor::visit;
                void visit(const Load *op) override {
                    IRVisitor::visit(op);
                    if (!pass.is_taps(op->name)) return;
                    auto it = pass.taps_size_.find(op->name);
                    if (it == pass.taps_size_.end()) {
                        same = false;
                        return;
                    }
                    size = std::max(size, it->second);
                    if (!index.defined()) {
                        index = op->index;
                    } else if (!equal(index, op->index)) {
                        same = false;
                    }
                }
            } taps(pass_);
            body.accept(&taps);
            if (!taps.same || !taps.index.defined() || uses_channel(taps.index)) return Stmt();

            Group group{path_, loop, points_min, taps.index, taps.size, {}};
            Group *target = nullptr;
            for (Group &g : groups) {
                if (g.same_nest(group)) target = &g;
            }
            const bool added = !target;
            if (added) {
                groups.push_back(group);
                target = &groups.back();
            }
            Hoist hoist(pass_, channel_, *target);
            Stmt rewritten = hoist.mutate(body);
            if (!hoist.changed) {
                if (added) groups.pop_back();
                return Stmt();
            }
            return For::make(loop->name, loop->min, loop->extent, loop->for_type,
                             loop->partition_policy, loop->device_api, rewritten);
        }

        // Substitutes the let statements of a loop body (PairGathers leaves one before each of
        // its stores) into what they enclose; substitute_in_all_lets() does let expressions only.
        struct InlineLetStmts : Halide::Internal::IRMutator {
            using IRMutator::visit;
            Halide::Internal::Stmt visit(const Halide::Internal::LetStmt *op) override {
                return mutate(Halide::Internal::substitute(op->name, op->value, op->body));
            }
        };

        static bool only_stores(const Halide::Internal::Stmt &s) {
            using namespace Halide::Internal;
            if (const Block *b = s.as<Block>()) return only_stores(b->first) && only_stores(b->rest);
            return s.as<Store>() != nullptr;
        }
    };

    // Replaces the invariant subexpressions of one loop body by loads of the tile's buffers.
    class Hoist : public Halide::Internal::IRMutator {
    public:
        Hoist(const HoistTileInvariants &pass, const std::string &channel, Group &group)
            : pass_(pass), channel_(channel), group_(group) {}
        bool changed = false;  // something was replaced

        using IRMutator::mutate;
        using IRMutator::visit;

        Halide::Expr mutate(const Halide::Expr &e) override {
            using namespace Halide;
            using namespace Halide::Internal;
            if (e.type().is_scalar() && of_tile(e, true)) return cost(e) > 0 ? load(e) : e;
            if (e.type() == Int(32) && (e.as<Add>() || e.as<Sub>())) {
                std::vector<std::pair<Expr, bool>> terms;  // (term, subtracted)
                flatten(e, false, terms);
                Expr fixed;
                int reading = 0, fixed_terms = 0;
                std::vector<std::pair<Expr, bool>> rest;
                for (const auto &[t, minus] : terms) {
                    const bool reads = of_tile(t, true);
                    if (reads || of_tile(t, false)) {
                        fixed = fixed.defined() ? (minus ? fixed - t : fixed + t)
                                                : (minus ? 0 - t : t);
                        reading += reads;
                        fixed_terms++;
                    } else {
                        rest.emplace_back(t, minus);
                    }
                }
                if (reading > 0 && !rest.empty() && (fixed_terms > 1 || cost(fixed) > 0)) {
                    Expr sum = load(fixed);
                    for (const auto &[t, minus] : rest) {
                        sum = minus ? sum - mutate(t) : sum + mutate(t);
                    }
                    return sum;
                }
            }
            return IRMutator::mutate(e);
        }

    private:
        const HoistTileInvariants &pass_;
        const std::string &channel_;
        Group &group_;

        static void flatten(const Halide::Expr &e, bool minus,
                            std::vector<std::pair<Halide::Expr, bool>> &terms) {
            using namespace Halide::Internal;
            if (const Add *a = e.as<Add>()) {
                flatten(a->a, minus, terms);
                flatten(a->b, minus, terms);
            } else if (const Sub *s = e.as<Sub>()) {
                flatten(s->a, minus, terms);
                flatten(s->b, !minus, terms);
            } else {
                terms.emplace_back(e, minus);
            }
        }

        // Constant in the tile but for the point: no variable of the channel, no load but of
        // the taps, and (if `reads_taps`) at least one load of the taps.
        bool of_tile(const Halide::Expr &e, bool reads_taps) const {
            using namespace Halide::Internal;
            struct Check : IRVisitor {
                const HoistTileInvariants &pass;
                bool ok = true, taps = false;
                explicit Check(const HoistTileInvariants &p) : pass(p) {}
                using IRVisitor::visit;
                void visit(const Load *op) override {
                    if (pass.is_taps(op->name)) {
                        taps = true;
                    } else {
                        ok = false;
                    }
                    IRVisitor::visit(op);
                }
                void visit(const Call *op) override {
                    if (!op->is_pure()) ok = false;
                    IRVisitor::visit(op);
                }
                void visit(const Let *) override { ok = false; }
            } check(pass_);
            e.accept(&check);
            return check.ok && check.taps == reads_taps && !expr_uses_var(e, channel_);
        }

        // Whether storing e saves work: not for a load, a variable, a constant, a cast of one,
        // or one compared with a constant.
        static int cost(const Halide::Expr &e) {
            using namespace Halide::Internal;
            if (e.as<Load>() || e.as<Variable>() || is_const(e)) return 0;
            if (const Cast *c = e.as<Cast>()) return cost(c->value);
            auto leaf_vs_const = [](const Halide::Expr &a, const Halide::Expr &b) {
                return (is_const(b) && cost(a) == 0) || (is_const(a) && cost(b) == 0);
            };
            if (const NE *c = e.as<NE>(); c && leaf_vs_const(c->a, c->b)) return 0;
            if (const EQ *c = e.as<EQ>(); c && leaf_vs_const(c->a, c->b)) return 0;
            return 1;
        }

        Halide::Expr load(const Halide::Expr &value) {
            using namespace Halide;
            using namespace Halide::Internal;
            changed = true;
            for (const Value &v : group_.values) {
                if (equal(v.value, value)) return read(v);
            }
            const Type stored = value.type().is_bool() ? UInt(8) : value.type();
            group_.values.push_back({value, unique_name(pass_.input_ + ".tile"), stored});
            return read(group_.values.back());
        }

        Halide::Expr read(const Value &v) const {
            using namespace Halide;
            using namespace Halide::Internal;
            Expr l = Load::make(v.stored, v.buffer, group_.index, Buffer<>(), Parameter(),
                                const_true(), ModulusRemainder());
            return v.stored == v.value.type() ? l : l != make_zero(v.stored);
        }
    };

    bool is_taps(const std::string &name) const { return name.rfind(taps_, 0) == 0; }

    std::string channel_loop_, taps_, input_;
    int min_channels_;
    std::map<std::string, int64_t> taps_size_;
};

}  // namespace gridsample_gen
