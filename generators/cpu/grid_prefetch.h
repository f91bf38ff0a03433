// A lowering pass of the forward CPU schedule: while a 2-D tile computes its taps from the grid,
// it prefetches the part of the grid the next tile of the same rows will read.
//
// Why: a tile reads its grid as short row segments (16 rows x 128 points, 1 KiB a row, for a
// planar image; 8 x 64 for channels-last), one tile after another along x, between thousands of
// gathers at data-dependent addresses. The hardware prefetchers lose those streams among the
// gathers, so each tile's grid lines arrive one memory latency at a time: on the 1080x1920 image,
// nearest mode, a fifth of the kernel's samples sat on the grid loads (perf, one thread). The
// next tile's grid rows are known: the same rows, continued by one tile along x. Prefetching them
// (one call per tile row, into L2: prefetch_rows.cpp) before the current tile computes its taps
// hides that latency. Image 1x3x1080x1920 through the bench's affine grid, float32, zeros
// padding, avx512_gather level, the generated kernel alone (Sapphire Rapids VM; median ratio of
// 4-8 rounds, order shuffled each round, against the kernel without this pass):
//                  planar, 1 thread    planar, 2 threads   channels-last, 1 / 2 threads
//   nearest        0.81-0.87 (13/14)                       0.72-0.89 / 0.68-0.84
//   bilinear       0.76-0.77 (all)     0.70-0.81 (all)     0.88 (5/5) / 0.97 (4/5)
//   bicubic        0.78 (4/4)                              0.80 (3/4)
// Where a tile spans the whole width (the 128-wide feature maps, 28x28 images) there is no next
// tile in the row and the pass adds nothing. Prefetching the next tile's output lines the same
// way was measured too and left out: with ordinary prefetches 0.81-0.93 on the planar nearest
// image (two measurements) but 0.84-1.03 elsewhere, with prefetchw 0.90-1.23.
//
// What it does, on the lowered statement: inside each loop over tiles along x (a loop named
// *.xo), it finds in the tile's `produce taps` the first load of the grid that is contiguous
// along the innermost loop around it (each iteration loads the elements that follow the last
// one's), and inserts before the producer a copy of the loops around that load, minus the
// innermost, whose body is one call
//   gridsample_prefetch_rows(grid, first element at tile xo + 1, 1, 0,
//                            elements the innermost loop loads at tile xo + 1, bytes)
// guarded by xo + 1 being a tile. The first element and the count are the current tile's, with
// every let between the tile loop and the load substituted and xo replaced by xo + 1, so the
// prefetched elements are exactly those the next tile's innermost loop will load. Strided grids
// (no contiguous load) get no prefetch. A prefetch never faults and changes no value.
#pragma once

#include "Halide.h"
#include "cpu/tap_box.h"

#include <string>
#include <utility>
#include <vector>

namespace gridsample_gen {

class NextTileGridPrefetch : public Halide::Internal::IRMutator {
public:
    // grid: the name of the grid buffer; taps: the name of the Func computed from it per tile.
    NextTileGridPrefetch(std::string grid, std::string taps)
        : grid_(std::move(grid)), taps_(std::move(taps)) {}

    using IRMutator::visit;

    Halide::Internal::Stmt visit(const Halide::Internal::For *op) override {
        using namespace Halide::Internal;
        if (!ends_with(op->name, ".xo")) return IRMutator::visit(op);
        // Lets are tracked from the tile loop's body down.
        auto outer_tile = tile_;
        auto outer_lets = std::move(lets_);
        tile_ = op;
        lets_.clear();
        Stmt s = IRMutator::visit(op);
        tile_ = outer_tile;
        lets_ = std::move(outer_lets);
        return s;
    }

    Halide::Internal::Stmt visit(const Halide::Internal::LetStmt *op) override {
        using namespace Halide::Internal;
        if (!tile_) return IRMutator::visit(op);
        lets_.emplace_back(op->name, op->value);
        Stmt body = mutate(op->body);
        lets_.pop_back();
        return body.same_as(op->body) ? Stmt(op) : LetStmt::make(op->name, op->value, body);
    }

    Halide::Internal::Stmt visit(const Halide::Internal::ProducerConsumer *op) override {
        using namespace Halide::Internal;
        if (!tile_ || !op->is_producer || op->name != taps_) return IRMutator::visit(op);
        Stmt prefetch = next_tile_prefetch(op->body);
        if (!prefetch.defined()) return op;
        return Block::make(prefetch, op);
    }

private:
    using Lets = std::vector<std::pair<std::string, Halide::Expr>>;

    // The first load of `buffer` in a statement inside a loop whose iterations load contiguous
    // elements: the loops and lets around it, outermost first, and its first index (a ramp's
    // base for a vector) with the lets inside that loop substituted.
    struct Path : Halide::Internal::IRVisitor {
        const std::string &buffer;
        std::vector<Halide::Internal::Stmt> stack, found;
        Halide::Expr index;
        int bytes = 0;
        explicit Path(const std::string &b) : buffer(b) {}
        using IRVisitor::visit;
        void visit(const Halide::Internal::Load *op) override {
            using namespace Halide::Internal;
            IRVisitor::visit(op);
            if (index.defined() || op->name != buffer) return;
            const Ramp *r = op->index.as<Ramp>();
            if (r && !is_const_one(r->stride)) return;
            Halide::Expr first = r ? r->base : op->index;
            // Contiguous: the next iteration of the innermost loop starts where this one ends.
            // (Lets inside the loop are substituted first.)
            const For *loop = nullptr;
            Halide::Expr e = first;
            for (auto it = stack.rbegin(); it != stack.rend() && !loop; ++it) {
                if (const LetStmt *l = it->as<LetStmt>()) e = substitute(l->name, l->value, e);
                loop = it->as<For>();
            }
            if (!loop) return;
            Halide::Expr v = Variable::make(Halide::Int(32), loop->name);
            Halide::Expr step = simplify(substitute(loop->name, v + 1, e) - e);
            if (!is_const(step, op->type.lanes())) return;
            index = e;
            bytes = op->type.bytes();
            found = stack;
        }
        void visit(const Halide::Internal::For *op) override {
            stack.emplace_back(op);
            IRVisitor::visit(op);
            stack.pop_back();
        }
        void visit(const Halide::Internal::LetStmt *op) override {
            stack.emplace_back(op);
            IRVisitor::visit(op);
            stack.pop_back();
        }
    };

    static Halide::Expr inline_lets(Halide::Expr e, const Lets &lets) {
        for (auto it = lets.rbegin(); it != lets.rend(); ++it) {
            e = Halide::Internal::substitute(it->first, it->second, e);
        }
        return e;
    }

    Halide::Internal::Stmt next_tile_prefetch(const Halide::Internal::Stmt &block) const {
        using namespace Halide;
        using namespace Halide::Internal;
        Path path(grid_);
        block.accept(&path);
        if (!path.index.defined()) return Stmt();
        // The innermost loop around the load, and the lets and loops outside it.
        int inner = -1;
        for (int k = 0; k < (int)path.found.size(); k++) {
            if (path.found[k].as<For>()) inner = k;
        }
        const For *points = path.found[inner].as<For>();
        Lets outside = lets_;
        std::vector<const For *> loops;
        for (int k = 0; k < inner; k++) {
            if (const LetStmt *l = path.found[k].as<LetStmt>()) {
                outside.emplace_back(l->name, l->value);
            } else {
                loops.push_back(path.found[k].as<For>());
            }
        }
        // The elements the innermost loop loads at this tile, then at the next.
        Expr first = substitute(points->name, points->min, path.index);
        Expr end = substitute(points->name, points->min + points->extent, path.index);
        Expr xo = Variable::make(Int(32), tile_->name);
        first = simplify(substitute(tile_->name, xo + 1, inline_lets(first, outside)));
        end = simplify(substitute(tile_->name, xo + 1, inline_lets(end, outside)));
        if (expr_uses_var(first, points->name) || expr_uses_var(end, points->name)) return Stmt();

        Stmt s = prefetch_rows(grid_, first, 1, 0, simplify(end - first), path.bytes);
        for (auto it = loops.rbegin(); it != loops.rend(); ++it) {
            const For *l = *it;
            s = For::make(l->name, inline_lets(l->min, outside), inline_lets(l->extent, outside),
                          ForType::Serial, l->partition_policy, l->device_api, s);
        }
        return IfThenElse::make(xo + 1 < tile_->min + tile_->extent, s);
    }

    std::string grid_, taps_;
    const Halide::Internal::For *tile_ = nullptr;
    Lets lets_;  // the lets from the current tile loop's body to the node being visited
};

}  // namespace gridsample_gen
