// A lowering pass of the forward CPU schedule: the channels-last copy's block transposes, and
// those of its samples on their way to the output, become networks of two-vector shuffles.
//
// The copy (forward_schedule.h) loads a block of V points x V channels as V vectors along x into
// a stack buffer (`input_rows`, V x V elements) and stores it as V vectors of channels, the k-th
// of them the elements k, k + V, k + 2V, ... of the buffer: V strided loads. LLVM lowers each
// strided load element by element (AVX-512, V = 16: a broadcast and a masked move per element,
// 502 instructions per block of 256 elements; AVX2, V = 8: 130 per 64), where a transpose needs
// log2(V) rounds of V two-vector shuffles (AVX-512: one vpermt2ps each). The schedule cannot say
// this: vectorizing the block along both dimensions gives LLVM one shuffle of V x V lanes, which
// it lowers worse still (1114 and 301 instructions), and Halide's front end has no shuffles.
//
// The samples (forward_schedule.h): a tile row's samples are computed with the V channels as
// the vector lanes (`samples_channels_last`, on the stack), and the output stores V vectors along
// x per V points, the k-th the strided load of channel k: the same V x V transpose, the block
// starting at a multiple of V x V that is not a constant (the points' offset in the row). Before,
// LLVM loaded each element with a broadcast and a masked move; 8x64x128x128 bilinear through a
// random grid (the scattered variant's channels-last blocks), avx512_gather level, one thread,
// the kernel alone: 8.3-9.0 ms before, 7.1-7.3 after.
//
// The network: V row vectors r_0 .. r_{V-1}; each round maps (a_i, a_{i + V/2}) to the two
// interleavings of their lower and of their upper halves, out_{2i} and out_{2i+1}; after log2(V)
// rounds out_k is column k. Only values move: the result is bit for bit the strided loads'.
//
// The copy's loop per block: AVX-512 502 instructions before, 165 after (64 vpermt2ps); AVX2 130,
// 73. Its share of a call, bicubic 8x64x128x128 border, one thread, perf samples of 40 calls
// through the CLI (Xeon with AVX-512): the copy 0.69x of its time at the avx512_gather level,
// 0.81x at avx2; the whole call about 0.87x and 0.93x.
#pragma once

#include "Halide.h"

#include <map>
#include <string>
#include <vector>

namespace gridsample_gen {

class TransposeBlocks : public Halide::Internal::IRMutator {
public:
    explicit TransposeBlocks(std::string buffer) : buffer_(std::move(buffer)) {}

    using IRMutator::visit;

    Halide::Internal::Stmt visit(const Halide::Internal::Block *op) override {
        using namespace Halide::Internal;
        std::vector<Stmt> stmts;
        flatten(op, stmts);
        for (Stmt &s : stmts) s = mutate(s);
        std::vector<Stmt> out;
        for (size_t i = 0; i < stmts.size();) {
            const int lanes = column_of(stmts[i]).lanes;
            if (lanes > 1 && (lanes & (lanes - 1)) == 0 && i + lanes <= stmts.size()) {
                if (Stmt t = transpose(stmts, i, lanes); t.defined()) {
                    out.push_back(t);
                    i += lanes;
                    continue;
                }
            }
            out.push_back(stmts[i++]);
        }
        return Block::make(out);
    }

private:
    // The strided load of the buffer in a store's value: column k of a V x V block (elements
    // k, k + V, ..., k + (V - 1) V, unpredicated) and its type; V = 0 if there is none.
    struct Column {
        int k = -1, lanes = 0;
        Halide::Type type;
        Halide::Expr block;  // the block's first element: k is counted from it
    };
    Column column_of(const Halide::Internal::Stmt &s) const {
        using namespace Halide::Internal;
        const Store *store = s.as<Store>();
        if (!store) return {};
        Column found;
        int count = 0;
        visit_loads(store->value, [&](const Load *load) {
            if (load->name != buffer_) return;
            count++;
            const Ramp *r = load->index.as<Ramp>();
            const int lanes = load->type.lanes();
            if (!r || !is_const_one(load->predicate)) return;
            const auto *stride = r->stride.as<IntImm>();
            if (!stride || stride->value != lanes) return;
            // base = block + k, with k a constant in [0, lanes): block 0 where base is a
            // constant, k 0 where base has no constant term.
            Expr block = r->base;
            int64_t k = 0;
            if (const auto *imm = r->base.as<IntImm>()) {
                block = make_zero(r->base.type());
                k = imm->value;
            } else if (const Add *add = r->base.as<Add>(); add && add->b.as<IntImm>()) {
                block = add->a;
                k = add->b.as<IntImm>()->value;
            }
            if (k >= 0 && k < lanes) {
                found = {static_cast<int>(k), lanes, load->type, block};
            }
        });
        return count == 1 ? found : Column{};
    }

    template <typename F>
    static void visit_loads(const Halide::Expr &e, F f) {
        struct V : Halide::Internal::IRVisitor {
            F *f;
            using IRVisitor::visit;
            void visit(const Halide::Internal::Load *op) override {
                (*f)(op);
                IRVisitor::visit(op);
            }
        } v;
        v.f = &f;
        e.accept(&v);
    }

    // stmts[first, first + lanes): lanes stores, each of one column k of a lanes x lanes block
    // of the buffer, every k once; their values rewritten to read the network's outputs.
    Halide::Internal::Stmt transpose(const std::vector<Halide::Internal::Stmt> &stmts,
                                     size_t first, int lanes) {
        using namespace Halide;
        using namespace Halide::Internal;
        std::vector<int> column(lanes);
        std::vector<bool> seen(lanes, false);
        Type type;
        Expr block;
        for (int j = 0; j < lanes; j++) {
            const Column c = column_of(stmts[first + j]);
            if (c.lanes != lanes || seen[c.k] ||
                (j > 0 && (c.type != type || !graph_equal(c.block, block)))) {
                return Stmt();
            }
            seen[c.k] = true;
            column[j] = c.k;
            type = c.type;
            block = c.block;
        }
        const std::string prefix = buffer_ + ".transposed" + std::to_string(counter_++) + ".";
        std::vector<std::pair<std::string, Expr>> lets;
        std::vector<Expr> cur;
        for (int j = 0; j < lanes; j++) {
            Expr row = Load::make(type, buffer_,
                                  Ramp::make(simplify(block + j * lanes), 1, lanes), Buffer<>(),
                                  Parameter(), const_true(lanes), ModulusRemainder());
            const std::string name = prefix + "r" + std::to_string(j);
            lets.emplace_back(name, row);
            cur.push_back(Variable::make(type, name));
        }
        const int half = lanes / 2;
        for (int round = 0; (1 << round) < lanes; round++) {
            std::vector<Expr> next(lanes);
            for (int i = 0; i < half; i++) {
                std::vector<int> lo, hi;
                for (int m = 0; m < half; m++) {
                    lo.insert(lo.end(), {m, lanes + m});
                    hi.insert(hi.end(), {half + m, lanes + half + m});
                }
                const std::vector<Expr> pair{cur[i], cur[i + half]};
                for (int h = 0; h < 2; h++) {
                    const std::string name = prefix + std::to_string(round) + "." +
                                             std::to_string(2 * i + h);
                    lets.emplace_back(name, Shuffle::make(pair, h == 0 ? lo : hi));
                    next[2 * i + h] = Variable::make(type, name);
                }
            }
            cur = next;
        }
        std::vector<Stmt> stores;
        for (int j = 0; j < lanes; j++) {
            const Store *store = stmts[first + j].as<Store>();
            const Expr col = cur[column[j]];
            struct Replace : IRMutator {
                std::string buffer;
                Expr with;
                using IRMutator::visit;
                Expr visit(const Load *op) override {
                    return op->name == buffer ? with : IRMutator::visit(op);
                }
            } replace;
            replace.buffer = buffer_;
            replace.with = col;
            stores.push_back(Store::make(store->name, replace.mutate(store->value), store->index,
                                         store->param, store->predicate, store->alignment));
        }
        Stmt body = Block::make(stores);
        for (auto it = lets.rbegin(); it != lets.rend(); ++it) {
            body = LetStmt::make(it->first, it->second, body);
        }
        return body;
    }

    static void flatten(const Halide::Internal::Stmt &s, std::vector<Halide::Internal::Stmt> &out) {
        if (const auto *b = s.as<Halide::Internal::Block>()) {
            flatten(b->first, out);
            flatten(b->rest, out);
        } else {
            out.push_back(s);
        }
    }

    std::string buffer_;
    int counter_ = 0;
};

}  // namespace gridsample_gen
