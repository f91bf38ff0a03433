// The "AnyShape" autoscheduler: runs one of Halide's autoschedulers, then makes its schedule
// valid for every shape the library accepts. Every generator includes this header, which
// registers it with Halide when the generator starts.
//
//   <generator> -p libautoschedule_adams2019.so autoscheduler=AnyShape
//       autoscheduler.base=Adams2019 autoscheduler.parallelism=2 ...
//
// `base` names the autoscheduler to run (its plugin loaded with -p); `llvm_vectorize=1` hands
// the output's vectorized loops to LLVM (llvm_vectorize_outputs, below); every other
// autoscheduler.* parameter goes to the base unchanged. cmake/GridsampleAutoscheduler.cmake
// builds the library this way when GRIDSAMPLE_AUTOSCHEDULER is set.
//
// Why: Halide's autoschedulers schedule for the estimated shapes. Their splits of the output and
// of stages that read an input shift the last block inwards (TailStrategy::ShiftInwards) or round
// the loop up (RoundUp), which is valid only when every extent is at least the split factor:
// a Li2018 kernel for 2-D bilinear, estimated at 8x64x128x128, failed on a 1x2x64x64 call with
// "Input buffer grid is accessed at -2, which is before the min (0) in dimension 3" (its batch
// loop, fused with y and split by 1088). The library takes any shape, down to 1x1, so after the
// base autoscheduler has run, every split of every stage guards its tail instead (GuardWithIf):
// the same loops, with a bounds test on the last block. Results do not change (S8b); only the
// loop tails do. The emitted .schedule.h says so and carries the same change.
//
// A guarded tail makes the extent of a producer's loop inside it variable, and where the base
// autoscheduler unrolled that loop Halide then stops with "Can only unroll for loops over a
// constant extent" (Adams2019 on 2-D bicubic float64: "Loop over taps.s0.s1 has extent
// (min(... output.extent.1 ...) - select(...))"; the failure of halide/Halide#4271). The wrapper
// sets HL_PERMIT_FAILED_UNROLL=1, Halide's switch for exactly this (halide/Halide#3479), which
// it reads when it lowers the pipeline, after the autoscheduler: such a loop is left a serial
// loop, with a warning, instead of failing the build.
#pragma once

#include "Halide.h"
#include "autoschedule/atomic_adds.h"
#include "autoschedule/gpu_asserts.h"

#include <cstdlib>
#include <map>
#include <string>

namespace gridsample_gen {

// Every split of every stage of every Func of `pipeline`: a tail strategy that moves or rounds
// up the last block becomes GuardWithIf.
inline void guard_every_split_tail(const Halide::Pipeline &pipeline) {
    using Halide::TailStrategy;
    for (const Halide::Func &output : pipeline.outputs()) {
        for (auto &[name, function] : Halide::Internal::find_transitive_calls(output.function())) {
            Halide::Internal::Function f = function;
            std::vector<Halide::Internal::Definition> stages{f.definition()};
            for (const Halide::Internal::Definition &update : f.updates()) stages.push_back(update);
            for (Halide::Internal::Definition &stage : stages) {
                // Definitions are handles: the splits below are the Func's own.
                for (Halide::Internal::Split &split : stage.schedule().splits()) {
                    if (split.split_type != Halide::Internal::Split::SplitVar) continue;
                    switch (split.tail) {
                    case TailStrategy::Auto:
                    case TailStrategy::RoundUp:
                    case TailStrategy::ShiftInwards:
                    case TailStrategy::RoundUpAndBlend:
                    case TailStrategy::ShiftInwardsAndBlend:
                        split.tail = TailStrategy::GuardWithIf;
                        break;
                    default:
                        break;
                    }
                }
            }
        }
    }
}

// The schedule source the base autoscheduler wrote, with the same change.
inline std::string guard_tails_in_source(std::string source) {
    for (const char *from : {"ShiftInwardsAndBlend", "RoundUpAndBlend", "ShiftInwards", "RoundUp"}) {
        const std::string f = from, to = "GuardWithIf";
        for (size_t at = source.find(f); at != std::string::npos; at = source.find(f, at + to.size())) {
            source.replace(at, f.size(), to);
        }
    }
    return "// Autoscheduled by the AnyShape wrapper (generators/autoschedule/any_shape.h): the\n"
           "// schedule below, with every split's tail strategy changed to GuardWithIf (splits\n"
           "// written without one included), so that the kernel accepts every shape.\n" +
           source;
}

// GPU kernels: a Func computed at a GPU thread loop, or at a loop inside one, with more loops
// inside it is computed at the innermost loop instead (the innermost that is not vectorized):
// once per point, under every guard.
//
// Why, first: the guarded tails above make the last block's threads past the output's edge skip
// the body, but only the body inside the innermost thread loop. Mullapudi2016's GPU mode tiles the
// output into blocks of 32x8x2 threads (x, channels, batch items) and computes producers (the
// 3-D taps) at the outermost thread loop; those run for every thread, the ones past the edge
// included, and write a scratch buffer that Halide sizes for the threads inside it: on PoCL,
// where that buffer is host memory, every 3-D bilinear kernel called on a volume narrower than
// a block corrupted the heap ("double free or corruption", or a segmentation fault). Computed
// inside the innermost thread loop, the producer is under the guard. Its float64 schedules put
// a serial loop between thread loops instead (2-D bilinear: threads over x and channels inside
// a loop over y, inside a thread loop over batch items; the taps computed at the loop over y),
// with the same effect: every float64 2-D bilinear and bicubic kernel crashed PoCL on every
// shape tried, a 3x4x2x6 input included.
//
// Second: a Func computed at the innermost thread loop with loops inside it covers, per thread,
// as many points as those loops run, which the guarded tails make a variable count; Halide then
// gives each thread a slice of one buffer in device memory for it (no constant size: not in
// registers) and sizes the slices for the threads of its consumer's loops, but indexes them by
// the kernel's thread block, which is as large as the largest stage of the kernel. Anderson2021's
// 2-D bicubic grad_grid computes per-point channel sums at its innermost thread loop (2x8x2
// threads, 8x2 points each, unrolled) in a kernel whose other stages run 8x8x2 threads: the
// slices overlapped and ran past the buffer, which crashed PoCL on every shape tried. Computed
// per point, the Func has a constant size (a register). That costs nothing where the Func is
// pointwise in its consumer (those sums, the taps), and recomputes a stencil's overlap otherwise.
//
// A producer computed at a serial loop outside every thread loop (inside the blocks only) is run
// by the block as a whole and stays where it is; so does one with GPU loops of its own. The
// schedule source gets the same change. No upstream issue matches (the per-thread slices came
// with halide/Halide#4517); both cases are reproduced by hand in
// experiments/autoschedulers/repro/ (gpu_thread_loops.cpp, gpu_thread_slices.cpp).
inline void compute_inside_gpu_threads(const Halide::Pipeline &pipeline, std::string *source) {
    using Halide::Internal::Dim;
    using Halide::Internal::ForType;
    using Halide::Internal::Function;
    std::map<std::string, Function> functions;
    for (const Halide::Func &output : pipeline.outputs()) {
        for (auto &[name, function] : Halide::Internal::find_transitive_calls(output.function())) {
            functions.emplace(name, function);
        }
    }
    auto plain = [](const std::string &var) { return var.substr(var.rfind('.') + 1); };
    std::map<std::string, std::string> moves;  // loop variable -> the innermost one
    for (auto &[name, function] : functions) {
        Function f = function;
        Halide::LoopLevel level = f.schedule().compute_level();
        level.lock();  // (its accessors read only locked levels; lowering locks it anyway)
        if (level.is_root() || level.is_inlined()) continue;
        auto consumer = functions.find(level.func());
        if (consumer == functions.end()) continue;
        // (-1: not named, which is the last stage: the pure definition where there is no update)
        const int stage = level.get_stage_index();
        const int updates = (int)consumer->second.updates().size();
        const int resolved = stage < 0 ? updates : stage;
        const Halide::Internal::Definition &def =
            resolved == 0 ? consumer->second.definition() : consumer->second.update(resolved - 1);
        const std::vector<Dim> &dims = def.schedule().dims();  // innermost first
        const std::string at = level.var().name();
        int innermost = -1, outermost_thread = -1, at_index = -1;
        for (int i = 0; i < (int)dims.size(); i++) {
            if (innermost < 0 && dims[i].for_type != ForType::Vectorized) innermost = i;
            if (dims[i].for_type == ForType::GPUThread) outermost_thread = i;
            if (plain(dims[i].var) == plain(at)) at_index = i;
        }
        // `at` must be a thread loop or lie inside one, with a loop inside it.
        if (innermost < 0 || at_index <= innermost || at_index > outermost_thread) continue;
        // A producer with GPU loops of its own cannot move inside a thread loop.
        bool own_gpu_loops = false;
        for (const Dim &dim : f.definition().schedule().dims()) {
            own_gpu_loops = own_gpu_loops || dim.for_type == ForType::GPUThread ||
                            dim.for_type == ForType::GPUBlock || dim.for_type == ForType::GPULane;
        }
        if (own_gpu_loops) continue;
        const std::string inner = plain(dims[innermost].var);
        Halide::LoopLevel moved(level.func(), inner, false, stage, true);
        f.schedule().compute_level() = moved;
        f.schedule().store_level() = moved;
        f.schedule().hoist_storage_level() = moved;
        moves[plain(at)] = inner;
    }
    // ".compute_at(<consumer>, <at>)" and ".store_at(<consumer>, <at>)" in the source. The
    // source's name for the consumer is not known here, so every compute_at at a variable of that
    // name changes: in the kernels seen, the Funcs computed at or inside a thread loop are all
    // computed at the output's. A store_at after such a compute_at in the same chain changes too.
    for (const auto &[at, inner] : moves) {
        const std::string from = ", " + at + ")", to = ", " + inner + ")";
        for (size_t pos = source->find(from); pos != std::string::npos;
             pos = source->find(from, pos + to.size())) {
            const size_t call = source->rfind(".compute_at(", pos);
            if (call == std::string::npos || source->find('\n', call) < pos) continue;
            source->replace(pos, from.size(), to);
            // The rest of this Func's chain (up to its ';'): a store_at there is stored here too.
            const size_t end = source->find(';', pos);
            const size_t store = source->find(".store_at(", pos);
            if (store != std::string::npos && store < end) {
                const size_t comma = source->find(", ", store), close = source->find(')', store);
                if (comma < close) source->replace(comma + 2, close - comma - 2, inner);
            }
        }
    }
}

// CPU, autoscheduler.llvm_vectorize=1: every loop of the pipeline's outputs that the base
// autoscheduler vectorized becomes a serial loop of the same extent, which LLVM's loop vectorizer
// vectorizes (the library's CPU targets carry enable_llvm_loop_opt). An experiment knob.
//
// Why: the output's loop is the sampling, whose loads are data-dependent. Halide's vectorizer
// loads such a vector lane by lane, an extract and an insert per lane, where LLVM's emits
// hardware gathers where the target has fast ones and scalar loads otherwise; the hand schedules
// leave their sampling loops to LLVM for that reason (cpu/forward_schedule.h). This knob gives an
// autoscheduler's schedule the same code generation, so that the two compare as schedules. The
// cost models still see the loops as vectorized (their featurization is taken before this
// change). The schedule source loses the output's .vectorize() calls the same way.
inline void llvm_vectorize_outputs(const Halide::Pipeline &pipeline, std::string *source) {
    using Halide::Internal::ForType;
    for (const Halide::Func &output : pipeline.outputs()) {
        Halide::Internal::Function f = output.function();
        std::vector<Halide::Internal::Definition> stages{f.definition()};
        for (const Halide::Internal::Definition &update : f.updates()) stages.push_back(update);
        for (Halide::Internal::Definition &stage : stages) {
            for (Halide::Internal::Dim &dim : stage.schedule().dims()) {
                if (dim.for_type == ForType::Vectorized) dim.for_type = ForType::Serial;
            }
        }
        // In the source, the output's block is a line with its name, then its calls, one a line
        // (".split(...)", ...): the .vectorize() lines go.
        auto trimmed = [](const std::string &line) {
            const size_t first = line.find_first_not_of(' ');
            return first == std::string::npos ? std::string() : line.substr(first);
        };
        std::string kept;
        bool in_block = false;
        for (size_t at = 0; at < source->size();) {
            const size_t end = std::min(source->find('\n', at), source->size());
            const std::string line = source->substr(at, end - at), text = trimmed(line);
            if (text == output.name()) {
                in_block = true;
            } else if (text.empty() || text[0] != '.') {
                in_block = false;
            }
            if (!(in_block && text.rfind(".vectorize(", 0) == 0)) {
                kept += source->substr(at, std::min(end + 1, source->size()) - at);
            }
            at = end + 1;
        }
        *source = kept;
    }
    *source = "// autoscheduler.llvm_vectorize=1: the output's vectorized loops left serial, for\n"
              "// LLVM's loop vectorizer.\n" +
              *source;
}

// The autoscheduler that schedules a generator run with these parameters: AnyShape's base, or the
// one named directly (empty under the hand schedules). For the generators' workarounds of one
// autoscheduler's failures.
inline std::string base_autoscheduler(const Halide::AutoschedulerParams &params) {
    if (params.name != "AnyShape") return params.name;
    auto base = params.extra.find("base");
    return base == params.extra.end() ? std::string() : base->second;
}

inline void any_shape_autoscheduler(const Halide::Pipeline &pipeline, const Halide::Target &target,
                                    const Halide::AutoschedulerParams &params,
                                    Halide::AutoSchedulerResults *results) {
    const std::string base_name = base_autoscheduler(params);
    _halide_user_assert(!base_name.empty())
        << "autoscheduler=AnyShape needs autoscheduler.base=<Mullapudi2016|Li2018|Adams2019|"
           "Anderson2021> (and that autoscheduler's plugin loaded with -p)";
    std::map<std::string, std::string> extra = params.extra;
    extra.erase("base");
    auto knob = extra.find("llvm_vectorize");
    const bool llvm_vectorize = knob != extra.end() && knob->second == "1";
    _halide_user_assert(knob == extra.end() || knob->second == "0" || knob->second == "1")
        << "autoscheduler.llvm_vectorize: 0 or 1, not " << knob->second;
    if (knob != extra.end()) extra.erase(knob);
    _halide_user_assert(!llvm_vectorize || !target.has_gpu_feature())
        << "autoscheduler.llvm_vectorize=1 is for CPU targets";
    *results = pipeline.apply_autoscheduler(target, Halide::AutoschedulerParams(base_name, extra));
    guard_every_split_tail(pipeline);
    if (llvm_vectorize) llvm_vectorize_outputs(pipeline, &results->schedule_source);
    if (target.has_gpu_feature()) compute_inside_gpu_threads(pipeline, &results->schedule_source);
    results->schedule_source = guard_tails_in_source(results->schedule_source);
    // Atomic updates whose load and store indices lowering writes apart (atomic_adds.h).
    // (A copy of the handle: the passes are the pipeline's own.)
    // Runs of assertions inside kernels as one (gpu_asserts.h).
    if (target.has_gpu_feature()) {
        Halide::Pipeline(pipeline).add_custom_lowering_pass(new SameIndexAtomicAdds);
        Halide::Pipeline(pipeline).add_custom_lowering_pass(new MergeGpuAsserts);
    }
#if defined(_WIN32)
    _putenv_s("HL_PERMIT_FAILED_UNROLL", "1");
#else
    setenv("HL_PERMIT_FAILED_UNROLL", "1", 1);
#endif
}

inline const bool kAnyShapeRegistered = [] {
    Halide::Pipeline::add_autoscheduler("AnyShape", any_shape_autoscheduler);
    return true;
}();

}  // namespace gridsample_gen
