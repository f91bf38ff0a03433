// A lowering pass of the forward CPU schedule for uint8 images (SEMANTICS.md S10): the sampling
// loops load 32-bit words instead of bytes, so that LLVM's loop vectorizer gathers them.
//
// Why: x86 has gathers of 32- and 64-bit elements only. A loop loading bytes at data-dependent
// addresses stays scalar (LLVM's cost model prices a byte gather as one scalar load per lane),
// so the 8-bit RGB image kernels ran 76 scalar int-to-float conversions a tile row, far behind
// OpenCV's 8-bit remap. A byte at index i is instead the low byte of the 32-bit word at i (x86
// and ARM are little-endian), and a 32-bit load at any byte address is what vpgatherdd does
// (scale 1). Better still, the channels of a channels-last RGB or RGBA pixel are consecutive
// bytes: the loads at i, i + 1, i + 2 (i + 3) of one tap share one word, so a tap of a point is
// one gathered 32-bit lane for all its channels, and each channel is a shift of it.
//
// In bounds: the word at i reads bytes i..i+3, past the buffer for the last pixels of an RGB
// image (and for any of the last three bytes in general). So the word is read at
// s = min(i, last - 3), `last` the buffer's highest element index (the sum of (extent - 1) *
// stride over its dimensions; strides are non-negative, S8b), and the byte at i + c is bits
// 8 * (i - s + c) of it. As i + c <= last, i - s + c <= 3: the byte is always inside the word.
// Buffers of fewer than 4 elements keep the byte loads.
//
// Exactness: the bytes are the ones the original loads read; nothing else changes.
//
// What it does, on the lowered statement: in each `consume taps` block, each innermost loop
// without conditions in its body that loads bytes of `input` at scalar indices: every such index
// (lets expanded) is split into a base and a constant offset c in [0, 3] (the channel of an
// unrolled channels-last loop); the loads with equal bases share one word, bound at the top of
// the loop body and shifted once to start at the base's byte (`aligned`), and each load becomes
// uint8(aligned >> 8 c). The loop runs that way where last >= 3, as it was otherwise.
#pragma once

#include "Halide.h"
#include "cpu/tap_box.h"

#include <map>
#include <string>
#include <vector>

namespace gridsample_gen {

class ByteWords : public TapsConsumerMutator {
public:
    // input: the sampled buffer, of `dims` dimensions.
    ByteWords(std::string input, int dims) : input_(std::move(input)), dims_(dims) {}

    using TapsConsumerMutator::visit;

    Halide::Internal::Stmt visit(const Halide::Internal::For *op) override {
        using namespace Halide;
        using namespace Halide::Internal;
        // Innermost loops without conditions: the words are loaded at the top of the body, which
        // is only safe where every load of the body runs on every iteration.
        if (!in_taps() || contains_control(op->body)) return IRMutator::visit(op);
        Words words(input_);
        Stmt body = words.mutate(op->body);
        if (words.bases.empty()) return op;
        const Expr last = last_index();
        const Expr limit = last - 3;
        for (int k = static_cast<int>(words.bases.size()) - 1; k >= 0; k--) {
            const std::string s = Words::name(k, "start");
            const Expr start = Variable::make(Int(32), s);
            Expr bytes = Load::make(UInt(8, 4), input_, Ramp::make(start, 1, 4), Buffer<>(),
                                    words.param, const_true(4), ModulusRemainder());
            const Expr shift = cast(UInt(32), (words.bases[k] - start) * 8);
            body = LetStmt::make(Words::name(k, "aligned"),
                                 Reinterpret::make(UInt(32), bytes) >> shift, body);
            body = LetStmt::make(s, min(words.bases[k], limit), body);
        }
        Stmt loop = For::make(op->name, op->min, op->extent, op->for_type, op->partition_policy,
                              op->device_api, body);
        return IfThenElse::make(last >= 3, loop, op);
    }

private:
    // The byte loads of `input` in a loop body, replaced by shifts of shared words.
    struct Words : Halide::Internal::IRMutator {
        const std::string &input;
        std::map<std::string, Halide::Expr> expanded;  // the lets in scope, expanded
        std::vector<Halide::Expr> bases;               // one word per distinct base
        Halide::Parameter param;
        explicit Words(const std::string &in) : input(in) {}

        static std::string name(int k, const std::string &what) {
            return "byte_words." + what + std::to_string(k);
        }

        using IRMutator::visit;
        Halide::Internal::Stmt visit(const Halide::Internal::LetStmt *op) override {
            using namespace Halide::Internal;
            Halide::Expr value = mutate(op->value);
            expanded[op->name] = substitute(expanded, op->value);
            return LetStmt::make(op->name, value, mutate(op->body));
        }
        Halide::Expr visit(const Halide::Internal::Let *op) override {
            using namespace Halide::Internal;
            Halide::Expr value = mutate(op->value);
            expanded[op->name] = substitute(expanded, op->value);
            return Let::make(op->name, value, mutate(op->body));
        }
        Halide::Expr visit(const Halide::Internal::Load *op) override {
            using namespace Halide;
            using namespace Halide::Internal;
            if (op->name != input || op->type != UInt(8) || !is_const_one(op->predicate)) {
                return IRMutator::visit(op);
            }
            Expr base = simplify(substitute(expanded, op->index));
            int64_t offset = 0;
            if (const Add *add = base.as<Add>()) {
                if (const IntImm *c = add->b.as<IntImm>()) {
                    if (c->value >= 0 && c->value <= 3) {
                        offset = c->value;
                        base = add->a;
                    }
                }
            }
            size_t k = 0;
            while (k < bases.size() && !equal(bases[k], base)) k++;
            if (k == bases.size()) bases.push_back(base);
            param = op->param;
            const Expr aligned = Variable::make(UInt(32), name(static_cast<int>(k), "aligned"));
            return cast(UInt(8), offset == 0 ? aligned
                                             : aligned >> make_const(UInt(32), 8 * offset));
        }
    };

    static bool contains_control(const Halide::Internal::Stmt &s) {
        struct Find : Halide::Internal::IRVisitor {
            bool found = false;
            using IRVisitor::visit;
            void visit(const Halide::Internal::For *) override { found = true; }
            void visit(const Halide::Internal::IfThenElse *) override { found = true; }
        } find;
        s.accept(&find);
        return find.found;
    }

    // The input's highest element index: the sum of (extent - 1) * stride over its dimensions.
    Halide::Expr last_index() const {
        using namespace Halide;
        using namespace Halide::Internal;
        Expr last = 0;
        for (int k = 0; k < dims_; k++) {
            last += (Variable::make(Int(32), input_ + ".extent." + std::to_string(k)) - 1) *
                    Variable::make(Int(32), input_ + ".stride." + std::to_string(k));
        }
        return last;
    }

    std::string input_;
    int dims_;
};

}  // namespace gridsample_gen
