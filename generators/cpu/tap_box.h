// Shared by the prefetching lowering passes (channel_prefetch.h, tile_prefetch.h): a tile's
// sampling nest as the lowered statement has it, the bounding box of its tap indices, and the
// input address of any (x, y) of that box.
#pragma once

#include "Halide.h"

#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace gridsample_gen {

// gridsample_prefetch_rows(input, first element, rows, row stride, width, element bytes): the
// L2 prefetch the kernels call (prefetch_rows.cpp).
inline Halide::Internal::Stmt prefetch_rows(const std::string &input, const Halide::Expr &first,
                                            const Halide::Expr &rows, const Halide::Expr &stride,
                                            const Halide::Expr &width, int element_bytes) {
    using namespace Halide;
    using namespace Halide::Internal;
    return Evaluate::make(Call::make(
        Int(32), "gridsample_prefetch_rows",
        {Variable::make(Handle(), input), first, rows, stride, width, element_bytes},
        Call::Extern));
}

// The loads of `buffer` at one element (a scalar index) in `s`, in order.
inline std::vector<const Halide::Internal::Load *> scalar_loads(
    const Halide::Internal::IRHandle &s, const std::string &buffer) {
    struct Loads : Halide::Internal::IRVisitor {
        const std::string &name;
        std::vector<const Halide::Internal::Load *> found;
        explicit Loads(const std::string &n) : name(n) {}
        using IRVisitor::visit;
        void visit(const Halide::Internal::Load *op) override {
            IRVisitor::visit(op);
            if (op->name == name && op->index.type().is_scalar()) found.push_back(op);
        }
    } loads(buffer);
    s.accept(&loads);
    return loads.found;
}

// A lowering pass that acts on the consumers of a tile's taps (the `consume taps` blocks, where
// the sampling loops are; `taps_cl` for the channels-last path's): in_taps() says whether the
// node being mutated is inside one.
class TapsConsumerMutator : public Halide::Internal::IRMutator {
public:
    explicit TapsConsumerMutator(std::string taps = "taps") : taps_(std::move(taps)) {}

    using IRMutator::visit;

    Halide::Internal::Stmt visit(const Halide::Internal::ProducerConsumer *op) override {
        using namespace Halide::Internal;
        if (op->is_producer || op->name != taps_) return IRMutator::visit(op);
        const bool outer = in_taps_;
        in_taps_ = true;
        Stmt body = mutate(op->body);
        in_taps_ = outer;
        return ProducerConsumer::make(op->name, op->is_producer, body);
    }

protected:
    bool in_taps() const { return in_taps_; }

private:
    std::string taps_;
    bool in_taps_ = false;
};

class TapBox {
public:
    // A chain of lets down to a statement of another kind.
    struct Lets {
        std::vector<const Halide::Internal::LetStmt *> lets;
        Halide::Internal::Stmt inner;
        explicit Lets(const Halide::Internal::Stmt &s) : inner(s) {
            while (const auto *l = inner.as<Halide::Internal::LetStmt>()) {
                lets.push_back(l);
                inner = l->body;
            }
        }
        Halide::Internal::Stmt wrap(Halide::Internal::Stmt s) const {
            for (auto it = lets.rbegin(); it != lets.rend(); ++it) {
                s = Halide::Internal::LetStmt::make((*it)->name, (*it)->value, s);
            }
            return s;
        }
    };

    Lets outer, middle, inner;
    const Halide::Internal::For *rows = nullptr, *points = nullptr;
    std::string x0, y0;    // the variables of `address` that stand for the first x and y taps
    Halide::Expr address;  // an input load's index at (x0, y0), lets expanded
    Halide::Type element;  // the input's element type
    std::string box;       // the stack buffer of the bounds: x lo, x hi, y lo, y hi

    // `nest`: lets, a loop over rows { lets, a loop over points { lets, stores... } }, the
    // stores sampling `input` at the tap indices loaded from the buffers x_taps and y_taps
    // (taps.i). Nothing where the statement has another shape.
    static std::optional<TapBox> find(const Halide::Internal::Stmt &nest, const std::string &input,
                                      const std::vector<std::string> &x_taps,
                                      const std::vector<std::string> &y_taps,
                                      const std::string &box_name) {
        using namespace Halide;
        using namespace Halide::Internal;
        TapBox b(nest, box_name);
        b.rows = b.outer.inner.as<For>();
        if (!b.rows) return std::nullopt;
        b.middle = Lets(b.rows->body);
        b.points = b.middle.inner.as<For>();
        if (!b.points) return std::nullopt;
        // A channels-last point stores its channels one after another: the first store's lets
        // load the taps.
        Stmt first = b.points->body;
        while (const Block *block = first.as<Block>()) first = block->first;
        b.inner = Lets(first);
        if (!b.inner.inner.as<Store>()) return std::nullopt;

        // The tap index loads of a point (let-bound or inline in the store), one per buffer.
        struct TapLoads : IRVisitor {
            const std::vector<std::string> &xs, &ys;
            std::map<std::string, Expr> found;
            TapLoads(const std::vector<std::string> &x, const std::vector<std::string> &y)
                : xs(x), ys(y) {}
            using IRVisitor::visit;
            void visit(const Load *op) override {
                IRVisitor::visit(op);
                if ((contains(xs, op->name) || contains(ys, op->name)) && !found.count(op->name)) {
                    found[op->name] = op;
                }
            }
        } taps(x_taps, y_taps);
        // The point with its let expressions substituted: a load found in one (a value rounded
        // to a 16-bit storage type is bound to one) would name a variable out of scope.
        const Stmt point = substitute_in_all_lets(b.inner.wrap(b.inner.inner));
        point.accept(&taps);
        for (const auto &[name, load] : taps.found) {
            (contains(x_taps, name) ? b.xs_ : b.ys_).push_back(load);
        }
        if (!taps.found.count(x_taps[0]) || !taps.found.count(y_taps[0])) return std::nullopt;
        b.x0 = x_taps[0] + ".tap";
        b.y0 = y_taps[0] + ".tap";
        for (const Lets *level : {&b.outer, &b.middle, &b.inner}) {
            for (const LetStmt *l : level->lets) {
                b.expanded_[l->name] = substitute(b.expanded_, l->value);
            }
        }
        // Each tap index load becomes a variable named after its buffer (x0, y0, ...).
        struct Name : IRMutator {
            const std::map<std::string, Expr> &taps;
            explicit Name(const std::map<std::string, Expr> &t) : taps(t) {}
            using IRMutator::visit;
            Expr visit(const Load *op) override {
                if (taps.count(op->name)) return Variable::make(op->type, op->name + ".tap");
                return IRMutator::visit(op);
            }
        } name(taps.found);

        // The input loads may sit in the point's let statements (substituted by expanded_).
        for (const Load *load : scalar_loads(point, input)) {
            Expr e = simplify(name.mutate(substitute(b.expanded_, load->index)));
            if (expr_uses_var(e, b.x0) && expr_uses_var(e, b.y0)) {
                b.address = e;
                b.element = load->type;
                break;
            }
        }
        if (!b.address.defined()) return std::nullopt;
        return b;
    }

    Halide::Expr at(int i) const {  // 0 x lo, 1 x hi, 2 y lo, 3 y hi
        using namespace Halide::Internal;
        return Load::make(Halide::Int(32), box, i, Halide::Buffer<>(), Halide::Parameter(),
                          const_true(), ModulusRemainder());
    }

    // The nest over rows and points with its stores replaced by updates of the bounds, after
    // their initialization; `fixed` substitutes variables the bounds must not depend on (the
    // channel).
    Halide::Internal::Stmt bounds(const std::map<std::string, Halide::Expr> &fixed) const {
        using namespace Halide;
        using namespace Halide::Internal;
        auto fold = [](const std::vector<Expr> &v, bool lower) {
            Expr r = v[0];
            for (size_t i = 1; i < v.size(); i++) r = lower ? min(r, v[i]) : max(r, v[i]);
            return r;
        };
        Stmt update = Block::make({set(0, min(at(0), fold(xs_, true))),
                                   set(1, max(at(1), fold(xs_, false))),
                                   set(2, min(at(2), fold(ys_, true))),
                                   set(3, max(at(3), fold(ys_, false)))});
        Stmt nest = outer.wrap(For::make(
            rows->name, rows->min, rows->extent, ForType::Serial, rows->partition_policy,
            rows->device_api,
            middle.wrap(For::make(points->name, points->min, points->extent, ForType::Serial,
                                  points->partition_policy, points->device_api,
                                  inner.wrap(update)))));
        // simplify() drops the lets the updates do not use.
        nest = simplify(substitute(fixed, nest));
        const int32_t big = std::numeric_limits<int32_t>::max();
        return Block::make({set(0, big), set(1, -big), set(2, big), set(3, -big), nest});
    }

    // The address with x0 -> x, y0 -> y and `more` substituted; undefined if it still depends on
    // anything defined inside the loop over points.
    Halide::Expr address_at(const Halide::Expr &x, const Halide::Expr &y,
                            std::map<std::string, Halide::Expr> more = {}) const {
        more[x0] = x;
        more[y0] = y;
        return outside(Halide::Internal::simplify(Halide::Internal::substitute(more, address)));
    }

    // The elements between rows (y0 -> y0 + 1) and between points (x0 -> x0 + 1) of the input;
    // undefined where that is not a constant of the tile.
    Halide::Expr step(bool along_y) const {
        using namespace Halide::Internal;
        const std::string &v = along_y ? y0 : x0;
        return outside(
            simplify(substitute(v, Variable::make(Halide::Int(32), v) + 1, address) - address));
    }

private:
    // e, or undefined if it still depends on a tap of the point or on the loop over points.
    // (Lets are expanded in `address`; what the caller substitutes is its own business.)
    Halide::Expr outside(const Halide::Expr &e) const {
        using namespace Halide::Internal;
        for (const std::vector<Halide::Expr> *taps : {&xs_, &ys_}) {
            for (const Halide::Expr &load : *taps) {
                if (expr_uses_var(e, load.as<Load>()->name + ".tap")) return Halide::Expr();
            }
        }
        if (expr_uses_var(e, points->name)) return Halide::Expr();
        return e;
    }

public:
    // `body` with the bounds buffer allocated around it.
    Halide::Internal::Stmt allocated(const Halide::Internal::Stmt &body) const {
        using namespace Halide::Internal;
        return Allocate::make(box, Halide::Int(32), Halide::MemoryType::Stack, {4}, const_true(),
                              Block::make(body, Free::make(box)));
    }

private:
    TapBox(const Halide::Internal::Stmt &nest, std::string box_name)
        : outer(nest), middle(Halide::Internal::Stmt()), inner(Halide::Internal::Stmt()),
          box(std::move(box_name)) {}

    std::map<std::string, Halide::Expr> expanded_;  // lets, expanded down to outside variables
    std::vector<Halide::Expr> xs_, ys_;             // the tap index loads of a point

    Halide::Internal::Stmt set(int i, const Halide::Expr &v) const {
        using namespace Halide::Internal;
        return Store::make(box, v, i, Halide::Parameter(), const_true(), ModulusRemainder());
    }

    static bool contains(const std::vector<std::string> &list, const std::string &name) {
        for (const std::string &s : list) {
            if (s == name) return true;
        }
        return false;
    }
};

}  // namespace gridsample_gen
