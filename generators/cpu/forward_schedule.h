// The CPU schedule of the forward (algorithm/forward.h) and the lowering passes that go with it.
#pragma once

#include "Halide.h"
#include "algorithm/forward.h"
#include "cpu/byte_words.h"
#include "cpu/channel_prefetch.h"
#include "cpu/gather_indices.h"
#include "cpu/grid_prefetch.h"
#include "cpu/one_taps_allocation.h"
#include "cpu/pair_gathers.h"
#include "cpu/tile_invariants.h"
#include "cpu/tile_prefetch.h"
#include "cpu/transpose_blocks.h"

#include <algorithm>
#include <string>
#include <vector>

namespace gridsample_gen {

// Channels-last layouts with 3 or 4 channels, in input and output alike: the conditions under
// which schedule_forward_cpu samples the channels of a point together.
struct InterleavedLayout {
    int channels;
    Halide::Expr condition;
};

template <typename In, typename Out>
std::vector<InterleavedLayout> interleaved_layouts(const In &input, const Out &output, int d) {
    std::vector<InterleavedLayout> layouts;
    for (int channels : {3, 4}) {
        layouts.push_back({channels, output.dim(d).extent() == channels &&
                                         output.dim(d).stride() == 1 &&
                                         output.dim(0).stride() == channels &&
                                         input.dim(d).stride() == 1 &&
                                         input.dim(0).stride() == channels});
    }
    return layouts;
}

// The layouts schedule_forward_cpu specializes for.
struct ForwardLayouts {
    Halide::Expr dense;                         // x unit-stride in every buffer
    std::vector<InterleavedLayout> interleaved;  // channels-last RGB and RGBA
    Halide::Expr input_unit_x;                  // the input's x unit-stride (the channels-last copy)
    Halide::Expr large_planes;                  // 2-D input planes of kLargePlaneBytes or more
    Halide::Expr channels_innermost;            // channels-last input and output, >= V channels
};

// Input planes from this size (one plane, bytes) sample nearest in taller tiles
// (ForwardSchedule::large_plane_rows): the 1080x1920 image's 8 MiB planes gained from them, the
// 8x64x128x128 feature map's 64 KiB planes lost (default_forward_schedule has the numbers); the
// threshold between them is L2's size, unmeasured in between.
inline constexpr int64_t kLargePlaneBytes = int64_t{1} << 20;

// The layouts of a forward generator's buffers; `compact` (the generators' size-over-speed
// parameter, GRIDSAMPLE_COMPACT_KERNELS) leaves out the RGB/RGBA specializations, so that such
// images take the general strided branch, with the same results.
//
// Volumes (3-D) never have them: channels-last volumes of 3 or 4 channels are rare, and the two
// specializations were about 40% of a 3-D kernel's compile time (3-D trilinear float32, baseline
// level: 11.3 s, 6.8 s without; a fifth of the release build's compile jobs are 3-D kernels).
// Such a volume takes the general strided branch and runs about as fast as the planar one, no
// longer faster (48^3 trilinear border, a smooth grid, AVX2 level on an AMD EPYC, one thread,
// median of 25 calls, two runs, ms: 3 channels 3.7-3.8 specialized, 5.3 strided, 4.8-5.0
// planar; 4 channels 3.5-3.7, 6.7, 6.3-6.6).
//
// Channels-last input and output with at least a vector of channels (PyTorch's channels_last
// and channels_last_3d memory formats; NHWC, NDHWC), 2-D and 3-D, have a branch of their own
// outside compact kernels (`channels_innermost`): it vectorizes the channels, so that each tap of
// a point is one dense vector load of V channels and its V results one store
// (schedule_forward_cpu). The general strided branch gathers them lane by lane.
template <typename In, typename Out>
ForwardLayouts forward_layouts(const In &input, const Out &output, int d, const Expr &dense,
                               bool compact, int vec) {
    ForwardLayouts layouts{dense, {}, input.dim(0).stride() == 1, Expr()};
    if (compact) return layouts;
    layouts.channels_innermost = input.dim(d).stride() == 1 && output.dim(d).stride() == 1 &&
                                 output.dim(d).extent() >= vec;
    if (d == 2) {
        layouts.interleaved = interleaved_layouts(input, output, d);
        layouts.large_planes = Halide::cast<int64_t>(input.dim(0).extent()) *
                                   input.dim(1).extent() * input.type().bytes() >=
                               Halide::Expr(kLargePlaneBytes);
    }
    return layouts;
}

// When the forward samples a channels-last copy of the input (define_forward's
// use_channels_last): planar tensors (the channels not innermost) with at least `vec` channels
// and an output with unit stride along x, bicubic (16 taps a point) and 3-D trilinear (8), and on
// ARM 2-D bilinear too. The copy costs a pass over the input per call; in exchange a tap's V
// channels come from one vector load where the planar kernels gather V points' taps lane by lane
// (hardware gathers where the CPU has them, scalar loads otherwise).
//
// x86, measured through the command-line tool (per call, from outside, AMD EPYC with AVX2 and
// slow gathers, V = 8), ms at 1 / 2 threads: bicubic 8x64x128x128 81.6 / 44.3 planar, 35.6 / 26.6
// channels-last; trilinear 1x16x64^3 border 34.0 / 23.0 planar, 24.3 / 13.3 channels-last. 2-D
// bilinear on x86 samples channels-last where a block of V channels (copied on its own, see
// schedule_forward_cpu) fits L2 and the channels fill whole blocks, and otherwise stays planar,
// with its pair gathers (one 64-bit hardware gather loads both taps of a row) and per-tile
// invariants (pair_gathers.h, tile_invariants.h); see channels_last_copy() for the
// measurements, the variant for scattered grids (kScatteredRows), where no tile's taps stay near
// each other, and float64 where the target gathers.
//
// ARM (NEON, V = 4 for float32), from the generated assembly of the 2-D bilinear float32 zeros
// kernel (`-e assembly`, target arm-64-linux; timings under emulation mean nothing). NEON has no
// gather, so the planar kernel's pair gathers are a scalar loop, 20 instructions per point and
// channel (the tap offsets reloaded and clamped, two `ldr x`, two stores to the pairs buffer),
// then a vector loop of 60 instructions per 4 points (`ld2` splitting the pairs, `bsl` selects,
// 8 `fmul`, 3 `fadd`): about 35 instructions per output element. The channels-last kernel loads
// each tap of a point as one `ldr q` of 4 channels and weighs it with one by-element `fmul`: 43
// instructions per point and 4 channels, plus about 9 per 4 outputs to store them along x, about
// 13 per output element; the copy is 27 instructions per 4 x 4 block (4 `ldr q`, lane moves, 4
// `str q`), under 2 per input element. So ARM samples 2-D bilinear channels-last too.
//
// Nearest reads one tap per output element and stays planar everywhere. On NEON its planar loop
// is 13 instructions per output element (two offsets, two masks, a `madd`, one `ldr s`, an
// `fcsel`, one `str s`); channels-last would be 24 per point and 4 channels plus the stores
// along x, about 8 per element, and the copy's pass over the input on top: too little gain for a
// second pass over memory. Images with fewer channels than V stay planar too.
// The number of parallel tasks of the blocked channels-last loop nest (schedule_forward_cpu): one
// per batch item and block of V channels.
template <typename Out>
Expr channel_block_tasks(const Out &output, int d, int vec) {
    return output.dim(d + 1).extent() * ((output.dim(d).extent() + (vec - 1)) / vec);
}

// The threads of Halide's pool that a call may use (the library's thread setting, which caps
// the pool): read where the loop nest is chosen. Pure: the setting cannot change while a kernel
// runs (runtime/src/cpu_dispatch.cpp), and Halide's bounds inference only distinguishes the
// branches of a specialization whose condition is pure (with an impure one it sized the input
// for every branch at once: the channel blocks' bounds, shifted inwards, reached below channel 0
// for fewer than V channels, and such calls failed their bounds check).
inline Expr pool_threads() {
    return Halide::Internal::Call::make(Halide::Int(32), "halide_get_num_threads", {},
                                        Halide::Internal::Call::PureExtern);
}

// The condition of the channels-last path (above): its Expr, or an undefined Expr where the kernel
// has no such path.
//
// 2-D bilinear on x86 (but scattered grids, kScatteredRows): with 64-bit elements (float64) where
// the target gathers in hardware (the avx512_gather level, whose tuning lets LLVM emit gathers)
// always: pair gathers need 32-bit or smaller elements, and 64-bit gathers of single taps lose to
// the channels-last copy's vector loads of 8 channels (8x64x128x128 float64 bilinear zeros, this
// library's benchmark, median of 5 runs, 3 alternating rounds, Xeon VM with AVX-512 gathers, ms
// at 1 / 2 threads: planar 25.3-25.7 / 9.8-10.2, channels-last 17.7-19.7 / 7.8-8.0, the same
// bits). Otherwise, at the levels without gathers (the avx512_gather level keeps the pair
// gathers: on a Xeon with fast gathers, 8x64x128x128 float32 took 6.9-7.1 ms planar and 7.8-8.1
// channels-last at one thread; an AMD Zen 4, whose gathers are slower, is sent to the avx512
// level for these calls, tuned_forward_isa in runtime/src/cpu_dispatch.cpp), where a block's copy
// fits in kBlockCopyBytes (an L2 cache) and the channels are a multiple of V, with at least 4
// lanes. The generated kernels with and without it, planar float32 zeros, the bench's affine
// grid, called in alternation (same bits), ratio of the medians of 8-15 calls at one / two
// threads, AMD EPYC Zen 4 (avx512_gather: as a kernel of that level would be, measured before
// that level was left out):
//   8x64x128x128: avx512_gather 0.78 / 0.83, avx512 0.67 / 0.67, avx2 0.63 / 0.61,
//                 sse41 0.81 / 0.71
//   avx512_gather: 8x16x128x128 0.76 / 0.81; 1x16x128x128 0.65 / 0.93; 1x64x128x128 0.83 / 0.83;
//                 2x256x128x128 0.66 / 0.69
// and where it is not taken: 8x17x128x128 (two blocks of 16 for 17 channels) 1.29 / 1.32;
// 2x16x256x256 (4 MiB blocks) 1.13 / 1.08; 1x32x512x512 1.26 / 1.43. Earlier, on an AMD EPYC
// with AVX2 and slow gathers, before a block was a task of its own: 8x64x128x128 16.5 / 9.5 ms
// planar, 15.3 / 16.6 channels-last. With 64-bit elements where gathers are not emitted: avx512
// 21.3-21.6 / 9.7-10.4 planar, 22.0-22.7 / 10.1-10.3 channels-last; avx2 20.6-21.1 / 9.7-9.8
// and 20.3-21.2 / 9.9 (the Xeon, 8x64x128x128 float64); with 2 lanes (sse41, baseline)
// channels-last recomputes a tile's taps for every 2 channels: 49-52 / 25-27 against 30-32 /
// 14-15.
inline constexpr int64_t kBlockCopyBytes = 1 << 20;

template <typename In, typename Out>
Expr channels_last_copy(const In &input, const Out &output, int d, Interpolation mode, int vec,
                        const Halide::Type &element, const Halide::Target &target,
                        bool scattered = false) {
    const bool gathers = target.has_feature(Halide::Target::AVX512_Cannonlake);
    const bool gathers_64bit_taps = element.bits() == 64 && gathers;
    const bool bilinear_2d_x86 = d == 2 && mode == Interpolation::bilinear &&
                                 target.arch != Halide::Target::ARM && !scattered &&
                                 !gathers_64bit_taps;
    if (mode == Interpolation::nearest || (bilinear_2d_x86 && (vec < 4 || gathers))) {
        return Expr();
    }
    Expr condition = input.dim(d).extent() >= vec && input.dim(d).stride() != 1 &&
                     output.dim(0).stride() == 1;
    if (bilinear_2d_x86) {
        // Where a block's copy fits L2 (kBlockCopyBytes) and the channels fill whole blocks.
        const Expr plane = Halide::cast<int64_t>(input.dim(0).extent()) * input.dim(1).extent();
        condition = condition && input.dim(d).extent() % vec == 0 &&
                    plane <= Expr(kBlockCopyBytes / (vec * element.bytes()));
    }
    // Scattered 2-D bilinear samples channels-last only where every thread has a block of its
    // own (see kScatteredRows); otherwise the planar scattered tiles.
    if (scattered && d == 2 && mode == Interpolation::bilinear) {
        condition = condition && channel_block_tasks(output, d, vec) >= pool_threads();
    }
    return condition;
}

// Schedule knobs: the tile of the planar (and strided) layouts, and of the channels-last RGB/RGBA
// specializations.
struct ForwardSchedule {
    int rows_per_block;      // rows of a parallel task and of a tile
    int tile_width;          // points along x of a tile: its taps are computed once for all channels
    int interleaved_rows;    // the same two for the channels-last specializations
    int interleaved_width;
    bool scattered = false;  // the scattered-grid variant (kScatteredRows)
    int large_plane_rows = 0;  // rows of the dense planar tiles on large planes (0: rows_per_block)
};

// Tiles, measured on one thread of a Sapphire Rapids VM (AVX-512 with gathers), float32, zeros
// padding, the generated kernel alone, min of 15 calls, best of 4-5 alternating rounds (ms):
//                                   8x64   16x64   16x128   32x64   4x512
//   bilinear 8x64x128x128           16.5    14.0    17.8     14.6
//   nearest  8x64x128x128            7.9     6.5-9.1  5.0-6.0  6.3   13.1
//   bicubic  8x64x128x128           46.3    45.3    46.6     44.7
//   bilinear 1x3x1080x1920 planar   22.5    22.8    25.7     23.3    27.8
//   nearest  1x3x1080x1920 planar           14.0    12.2-12.3        9.3-11.8
//   bicubic  1x3x1080x1920 planar   52.3                              80.7
//   bilinear 1x3x1080x1920 HWC      17.2    23.0    24.3     23.8
//   nearest  1x3x1080x1920 HWC               9.6    10.4  (8-row tiles of the width shown)
//   bilinear 256x1x28x28             1.01    1.18    1.03     1.06
// So 16 x 64 points (1024, 36-96 KiB of taps on the stack) for planar tensors, 16 x 128 for
// nearest (whose taps are small, 10 bytes a point, and whose time goes to streaming the grid and
// the output, better in longer rows), and 8 x 64 for the channels-last images, whose tiles' input
// lines are prefetched before sampling (tile_prefetch.h): twice the points per tile is twice the
// lines in flight and in L1.
//
// Nearest on input planes of L2's size or more (kLargePlaneBytes) takes tiles of 24 x 128
// instead, in a specialization of its own: fewer, taller tiles spread each tile's fixed work
// (the taps' set-up, the box scan and prefetch calls of channel_prefetch.h) over more points.
// (Not the band of input rows a rotated grid's tile row crosses, about 3x its height, which the
// next tile row reads again: two 16-row tiles taken in turn under each 128-point column, the
// second finding the first's band in L2, measured 0.99-1.02; nor the box prefetches, which
// these 24-row tiles' larger boxes skip: 16-row tiles without them measured 1.00-1.02.)
// Image 1x3x1080x1920 zeros, avx512 level (nearest's on AMD), the generated kernels called in
// alternation (median of 30 pairs, same bits; AMD EPYC Zen 4), against 16-row tiles everywhere:
// 0.92-0.98 at one thread (eight runs; 1x1x1080x1920: 0.92), 0.97-1.00 at two. Every tile 24
// rows high instead made the 8x64x128x128 feature map 1.02-1.04x slower; with the
// specialization it still pays 1.02-1.05x at one thread (0.98 at two), most of it (1.01-1.03)
// from the taps' storage, now sized for 24 rows in every branch. 32 x 96 tiles on the image:
// 0.96-0.99. Bilinear and bicubic images gained nothing from 24 or 32 rows (0.94-1.06, noise).
// The specialization costs a nearest kernel 0.2 s of compile time and 16% of object size.
inline ForwardSchedule default_forward_schedule(Interpolation mode) {
    ForwardSchedule s{16, mode == Interpolation::nearest ? 128 : 64, 8, 64};
    if (mode == Interpolation::nearest) s.large_plane_rows = 24;
    return s;
}

// Scattered grids (grid_sample's `scattered_grid` variants, 2-D bilinear; the runtime picks them
// for a grid whose points scatter, runtime/src/grid_sample.cpp): tiles of 32 x 64 points. A
// planar tile samples each channel plane from its taps in turn, so where a tile's points fall
// anywhere in the plane (a random grid), each tile reads every line of every plane afresh: C
// planes of a batch item, more than L2 holds, per tile. Twice the points per tile, half those
// reads. 8x64x128x128 through a uniformly random grid, zeros padding, avx512_gather level, the
// generated kernel alone (median of 15 calls, 2-3 alternating rounds), ms:
//                              16x64 (default)  32x64   16x128   32x128
//   random grid, 1 thread          23.8-24.6      16.2-16.5  16.4-16.9  15.3 (a heap allocation
//   random grid, 2 threads         11.6            7.4-7.5              per task: its taps pass
//   the bench's affine grid, 1 thr  6.1-6.5        6.6-7.0    6.9-7.4    the 16 KiB stack limit)
//   the bench's affine grid, 2 thr  3.15-3.17      3.4-3.5
// Hence a variant of its own rather than taller tiles for every grid. Also tried on the random
// grid: prefetching each next plane's whole tap box (NextChannelPrefetch with no line limit) 27.6
// instead of 24.2: the prefetches evict what the current plane still reads.
//
// Better still, and what the variant does where the input has at least a vector of channels and
// there is a block of V channels per thread (channels_last_copy()): sample a channels-last copy
// of one block of V channels at a time (schedule_forward_cpu, `blocked`), which L2 holds whole,
// so that the taps read it wherever they fall, V channels per load: 7.1-7.3 ms at 1 thread,
// 3.6-3.8 at 2 (planar 32x64 tiles on the same day: 15.2-15.9, 5.9-6.5). The planar tiles
// remain for fewer channels, channels-last tensors and fewer blocks than threads. (A copy of the
// whole batch item instead, the blocks inside the tiles as for 3-D: 16.5-17.3 ms at one thread,
// no better than planar: 4 MiB, which L2 does not hold.)
inline constexpr int kScatteredRows = 32;

// Output planes of z per parallel task of the 3-D channels-last kernels (schedule_forward_cpu).
inline constexpr int kVolumeChunk = 8;

// The channels-innermost branch's loop over vectors of channels (schedule_forward_cpu), which
// InnermostChannelsPrefetch (tile_prefetch.h) finds by this name.
inline constexpr const char *kChannelVectors = "cvo";

// The generators' knobs (GeneratorParams rows_per_block, tile_width, interleaved_rows and
// interleaved_width, for experiments): 0 keeps the default of the mode, or of scattered grids.
inline ForwardSchedule forward_schedule(Interpolation mode, int rows, int width, int il_rows,
                                        int il_width, bool scattered = false) {
    ForwardSchedule s = default_forward_schedule(mode);
    if (scattered) s.rows_per_block = kScatteredRows;
    s.scattered = scattered;
    if (rows > 0) {
        s.rows_per_block = rows;
        s.large_plane_rows = 0;  // the knob sets every planar tile
    }
    if (width > 0) s.tile_width = width;
    if (il_rows > 0) s.interleaved_rows = il_rows;
    if (il_width > 0) s.interleaved_width = il_width;
    return s;
}

// CPU schedule of the output Func `out` of define_forward(), specialized for the `layouts`.
//
// The loops are left scalar along x and handed to LLVM's loop vectorizer (the targets carry
// enable_llvm_loop_opt): Halide's own vectorization turns every data-dependent load into a chain
// of per-lane extracts and inserts, while LLVM uses hardware gathers where the target has fast
// ones and otherwise cheaper scalar loads.
//
// The loop nest: parallel over blocks of rows (and batch items, and z for 3-D); in each block,
// tiles of rows x tile_width points; for each tile the taps of all its points are computed once
// (vectorized by Halide) into a buffer on the stack, then each channel plane is sampled in turn
// from them, so one plane at a time is in cache. Specializations: channels-last input and output with 3 or 4 channels sample a
// point's channels together (`interleaved`, with their own tile height), and unit stride along x
// in every buffer (`dense`).
inline void schedule_forward_cpu(Halide::Func out, Forward &f, const ForwardLayouts &layouts,
                                 const ForwardSchedule &knobs, int vec,
                                 const Halide::Target &target) {
    using namespace Halide;
    const int d = static_cast<int>(f.space.size());
    Var x = f.space[0], y = f.space[1];
    Var xo("xo"), xi("xi"), yo("yo"), yi("yi"), block("block");

    // The tiling of one branch (each specialization keeps its own schedule).
    auto tile = [&](Stage s, int rows, int width) {
        s.split(y, yo, yi, rows, TailStrategy::GuardWithIf)
            .split(x, xo, xi, width, TailStrategy::GuardWithIf);
        std::vector<VarOrRVar> order{xi, yi, f.c, xo, yo};
        for (int k = 2; k < d; k++) order.push_back(f.space[k]);
        order.push_back(f.n);
        s.reorder(order);
        // Nested parallel loops rather than one fused loop: the batch loop stays a loop of its
        // own, where a batch item's channels-last copy is made (below), and Halide's bounds
        // inference knows which plane of z a tile is in (through a fused loop it assumes every
        // plane, and the taps storage would be sized for all of them). 3-D: a task is one
        // plane, its rows of tiles in turn.
        s.parallel(d == 2 ? Var(yo) : f.space[2]).parallel(f.n);
    };
    // Planar bicubic and trilinear with at least a vector of channels (f.use_channels_last, see
    // channels_last_copy() for why), and scattered 2-D bilinear: the input is copied
    // channels-last, then per tile the taps once, and for each block of V channels (V = vec, the
    // vector lanes; the last block shifted inwards to end at the last channel) each point's taps
    // load V channels with one vector load each and the V results are stored into the V output
    // planes. First, so that Halide knows in every later branch that the samples read the input
    // itself.
    //
    // 2-D: the blocks of V channels are the outer loop (blocked). Each block is copied on its
    // own (V channels of a 128 x 128 plane, float32: 1 MiB, which L2 holds) and then sampled by
    // every tile, so the taps of a tile read a copy in L2 wherever they fall, and the tiles'
    // taps are computed once per block. Where there are at least as many blocks (batch items x
    // channel blocks) as threads, a block is one task, copied and sampled by the same thread;
    // with fewer, the copy and the tiles of each block are shared out among the threads.
    //
    // 3-D: the blocks inside the tiles, after a copy of the whole batch item (a block of a 64^3
    // volume, 17 MiB, fits no cache anyway), and a task is kVolumeChunk planes of z in turn, so
    // that the input planes which consecutive output planes share are read from the copy once,
    // by one thread, into its L2 (1x16x64^3 trilinear border, avx512_gather level, the kernel
    // alone, ms at 1 / 2 threads: a plane a task 4.7-4.9 / 3.2-3.5; 4 planes 4.8-4.9 / 2.6-2.7;
    // 8 planes 4.5-4.9 / 2.3-2.5; 16 planes 4.8-4.9 / 2.4-2.6, but 4 tasks in all). Each block
    // of a tile first prefetches the lines of the copy its taps read (BlockPrefetch,
    // tile_prefetch.h).
    //
    // ARM as 3-D, unmeasured there: its vectors hold 4 float32 channels, and blocks of 4 would
    // compute a tile's taps C/4 times (x86: C/16 with AVX-512, C/8 with AVX2, where blocked
    // still wins: AVX2 level, bicubic 17.3-18.6 / 10.2-11.0 ms before, 13.9-14.8 / 6.8-7.1
    // blocked).
    //
    // 8x64x128x128, avx512_gather level, float32, zeros padding, the generated kernel alone
    // (min of 15 calls, 2 alternating rounds), ms at 1 / 2 threads:
    //                                   before                  blocked, one block a task
    //   bicubic, the bench's affine grid   12.5-13.0 / 7.7-10.5    10.0-10.6 / 4.8-5.3
    //   bilinear, uniformly random grid    15.2-15.9 / 5.9-6.5     7.1-7.3 / 3.6-3.8
    //   (bilinear before: planar scattered tiles)
    // The blocks shared out among threads instead (tiles in parallel inside each block, the
    // copy in parallel over rows): bicubic 7.1-7.3 ms and random bilinear 7.4-7.5 ms at 2
    // threads, barely faster than one: each thread's taps read a copy half of which the other
    // core wrote, from its L2.
    if (f.channels_last.defined()) {
        Stage s = out.specialize(f.use_channels_last);
        const bool blocked = d == 2 && target.arch != Target::ARM;
        Var co("co"), ci("ci"), xio("xio"), xii("xii");
        s.split(y, yo, yi, knobs.rows_per_block, TailStrategy::GuardWithIf)
            .split(x, xo, xi, knobs.tile_width, TailStrategy::GuardWithIf)
            .split(xi, xio, xii, vec, TailStrategy::GuardWithIf)
            .split(f.c, co, ci, vec, TailStrategy::ShiftInwards);
        // Per V points of a tile row, the V channels' stores: V loads of V x V samples
        // transposed, which TransposeBlocks turns into a network of shuffles.
        std::vector<VarOrRVar> order{xii, ci, xio, yi};
        if (!blocked) order.push_back(co);
        order.insert(order.end(), {xo, yo});
        if (blocked) order.push_back(co);
        for (int k = 2; k < d; k++) order.push_back(f.space[k]);
        order.push_back(f.n);
        s.reorder(order).vectorize(xii).unroll(ci);
        // The scattered variant samples channels-last only with a block per thread
        // (channels_last_copy()); the others choose here.
        const bool always_a_task = blocked && knobs.scattered;
        const Expr one_block_a_task =
            blocked && !always_a_task
                ? channel_block_tasks(out.output_buffer(), d, vec) >= pool_threads()
                : Expr();
        if (always_a_task) {
            s.parallel(co).parallel(f.n);
        } else if (blocked) {
            s.specialize(one_block_a_task).parallel(co).parallel(f.n);
            s.parallel(yo).parallel(f.n);
        } else if (d == 3) {
            Var zo("zo"), zi("zi");
            s.split(f.space[2], zo, zi, kVolumeChunk, TailStrategy::GuardWithIf)
                .parallel(zo)
                .parallel(f.n);
        } else {
            s.parallel(yo).parallel(f.n);
        }
        // The samples of a tile row, V channels x tile_width points (2 KiB for float32 on AVX2,
        // on the stack), computed with the channels as the lanes; the output then reads them
        // back transposed (constant-stride loads from the stack, turned into shuffles by
        // TransposeBlocks) and stores vectors along x, rather than scattering the lanes of
        // every channel vector into V planes element by element. (The stores with their V
        // channels unrolled inside each vector of x, so that a block's V loads are adjacent;
        // with the vectors of x innermost, LLVM loaded each column element by element, a
        // broadcast and a masked move per element on AVX-512: random bilinear above, blocked,
        // one thread, 8.3-9.0 ms that way, 7.1-7.3 this way.)
        const std::vector<Var> sc = f.samples_channels_last.args();
        f.samples_channels_last.compute_at(out, yi).vectorize(sc[0]);
        // The copy: per row, blocks of V points x V channels, each loaded as V vectors along x
        // (input_rows, on the stack) and stored as V vectors of channels, transposed by a
        // network of shuffles (TransposeBlocks, transpose_blocks.h). Storing the lanes of x
        // vectors C elements apart instead took 1.2x the time of the whole 8x64x128x128 bilinear
        // call, one thread; walking all C planes for each vector, 2.1x (C streams at one offset
        // in pages 64 KiB apart: L1 set conflicts and TLB misses).
        const std::vector<Var> cl = f.channels_last.args();
        Var cco("cco"), cci("cci"), cxo("cxo"), cxi("cxi");
        f.channels_last.compute_at(out, blocked ? Var(co) : f.n)
            .split(cl[0], cco, cci, vec, TailStrategy::ShiftInwards)
            .split(cl[1], cxo, cxi, vec, TailStrategy::GuardWithIf)
            .reorder(cci, cxi, cxo, cco)
            .vectorize(cci)
            .unroll(cxi);
        // Its storage is V points on the stack: with the copy's border of zeros (forward.h) the
        // first and last blocks of a row are narrower, and with their extents unknown Halide
        // made a heap allocation per block (3-D trilinear 1x16x64^3 border, AVX2, one thread,
        // through the CLI: 1.28x the time without the border; 0.83x with this).
        const std::vector<Var> rows = f.input_rows.args();
        f.input_rows.compute_at(f.channels_last, cxo)
            .vectorize(rows[0])
            .unroll(rows[d])
            .bound_storage(rows[0], vec)
            .store_in(MemoryType::Stack);
        // The usual input, unit-stride along x: the block's rows are dense vector loads. With
        // the stride unknown every row is loaded lane by lane (NEON, float32: 60 instructions
        // per 4 x 4 block, `ldr s` and `ld1 {v.s}[i]` per element; 27 with dense rows).
        // A block that is a task of its own is copied by its thread alone; otherwise in
        // parallel over rows.
        if (one_block_a_task.defined()) {
            f.channels_last.specialize(one_block_a_task).specialize(layouts.input_unit_x);
        }
        if (!always_a_task) f.channels_last.parallel(cl[d]);
        f.channels_last.specialize(layouts.input_unit_x);
    }
    // Channels-last images with a few channels (RGB, RGBA): the channels of a point are
    // neighbours in memory, so they are sampled together, the channel loop unrolled inside the
    // loop over points; LLVM then stores the channels interleaved.
    //
    // On ARM, RGBA is vectorized across its 4 channels instead: a tap is one `ldr q` of the
    // point's 4 channels, the weights are broadcast, and a point's 4 results are one `str q`.
    // From the generated float32 bilinear kernel: 67 instructions a point this way, 83 with the
    // channels unrolled (where LLVM's SLP vectorizer also merges them into `ldr q` taps, but
    // with shuffles around them). RGB keeps the unrolled loop, scalar code on NEON (92
    // instructions a point, `ldp s` pairs and an `fcsel` per tap and channel): a vector of its 3
    // channels would read past the last pixel of the image.
    for (const InterleavedLayout &layout : layouts.interleaved) {
        Stage s = out.specialize(layout.condition);
        tile(s, knobs.interleaved_rows, knobs.interleaved_width);
        s.reorder(f.c, xi, yi, xo, yo);
        if (target.arch == Target::ARM && layout.channels == 4) {
            s.vectorize(f.c, 4, TailStrategy::GuardWithIf);
        } else {
            s.unroll(f.c);
        }
    }
    // Channels-last tensors with at least V channels (ForwardLayouts::channels_innermost): the
    // channels innermost and vectorized, V at a time (the last vector predicated), in the tiles
    // of the interleaved images; a tile's taps are computed once, as in every branch. The
    // generated kernels alone against the same kernel's planar call on the same data (two calls
    // in alternation, median of 10-20, same bits; AMD EPYC Zen 4, avx512_gather level, one / two
    // threads): 8x64x128x128 NHWC bilinear zeros 2.95x / 2.24x the planar time in the strided
    // branch, 0.70x / 0.70x in this one; bicubic 10.1x / 9.2x, 1.19x / 1.07x; nearest 2.86x,
    // 1.14x (one thread); 1x16x64^3 NDHWC trilinear border 4.77x, 1.90x / 1.76x (the planar call
    // samples a channels-last copy with a border of zeros and block prefetches, which this
    // branch does without). It adds about a quarter to a bilinear or trilinear kernel's compile
    // time (avx512_gather level, float32: 2-D bilinear 3.1 -> 4.1 s, 3-D trilinear 7.4 -> 9.3 s).
    // Each tile first prefetches the lines its taps read (InnermostChannelsPrefetch,
    // tile_prefetch.h): with it, NDHWC trilinear 0.51-0.54x of the time above at one thread,
    // NHWC bilinear 0.59x, bicubic 0.86x (so below the planar call's time for both).
    if (layouts.channels_innermost.defined()) {
        Stage s = out.specialize(layouts.channels_innermost);
        tile(s, knobs.interleaved_rows, knobs.interleaved_width);
        Var cvo(kChannelVectors), cvi("cvi");
        s.split(f.c, cvo, cvi, vec, TailStrategy::GuardWithIf)
            .reorder(cvi, cvo, xi, yi, xo, yo)
            .vectorize(cvi);
    }
    // The large-plane tiles' rows, where this kernel has them (0: none).
    const int large_plane_rows = layouts.large_planes.defined() ? knobs.large_plane_rows : 0;
    if (large_plane_rows > 0) {
        tile(out.specialize(layouts.dense && layouts.large_planes), large_plane_rows,
             knobs.tile_width);
    }
    tile(out.specialize(layouts.dense), knobs.rows_per_block, knobs.tile_width);
    tile(out, knobs.rows_per_block, knobs.tile_width);

    // One tile of taps on the stack: its size is known at compile time. (A malloc per tile cost
    // a third of the time of 256 images of 28x28, one thread; storage hoisted to the parallel
    // task instead is sized by Halide for the whole z range of a volume, 3 MiB per task and
    // 816 MiB per call for 1x16x64^3 trilinear, page-faulted afresh by every call in a real
    // process.) Rows are padded by 16 points: 16 x 64 x 4 bytes would make every float tap array
    // exactly 4 KiB, so that a point's taps, one element per array, all fall in the same L1 set
    // (bilinear 8x64x128x128, one thread, ms: 16.6 unpadded, 15.8 padded; HWC image 17.7 ->
    // 17.1). 3-D: a tile is one plane of z.
    auto taps_per_tile = [&](Func taps, int rows, int width) {
        taps.compute_at(out, xo).vectorize(x, vec, TailStrategy::GuardWithIf);
        taps.bound_storage(x, width + 16)
            .bound_storage(y, rows)
            .bound_storage(f.n, 1)
            .store_in(MemoryType::Stack);
        for (int k = 2; k < d; k++) taps.bound_storage(f.space[k], 1);
    };
    // `taps` is shared by every specialization (its rows as wide as the widest tile, as many as
    // the tallest), and each of its arrays must stay within Halide's 16 KiB stack allocation
    // limit: a larger one silently becomes a heap allocation per task, which made the nearest
    // 8x64x128x128 feature map 1.37x slower (16 x 416 points of int32, 26 KiB). So a wider tile
    // for one layout costs the others; check the generated assembly for halide_malloc calls after
    // changing a tile.
    if (f.taps.defined()) {
        taps_per_tile(f.taps,
                      std::max({knobs.rows_per_block, knobs.interleaved_rows, large_plane_rows}),
                      std::max(knobs.tile_width, knobs.interleaved_width));
    }
    // The channels-last path's own taps (Forward::taps_channels_last), in the tiles of that
    // specialization only (Halide computes a Func where it is read). Against one `taps` for both
    // paths, the two generated kernels called in alternation in one process, avx512_gather
    // level, median ratio of 30-60 pairs (same bits): 8x64x128x128 bicubic zeros 0.97-0.98 at
    // one thread, 0.99 at two; 1x16x64^3 trilinear border 0.99 at one and two. (Storing the eight
    // trilinear corner weights instead of the six axis weights, which saves the sampling loop 12
    // multiplies a point: 1.01-1.03, left out.)
    if (f.taps_channels_last.defined()) {
        taps_per_tile(f.taps_channels_last, knobs.rows_per_block, knobs.tile_width);
    }
}

// After schedule_forward_cpu(): the pipeline's lowering passes. TileBoxPrefetch (2-D bilinear
// and bicubic) and TilePrefetch (nearest, 3-D) prefetch each channels-last tile's input lines
// before sampling it, InnermostChannelsPrefetch those of the channels-innermost tiles, and
// BlockPrefetch the lines of the 3-D channels-last copy each block of a tile reads
// (tile_prefetch.h says why and where); NextChannelPrefetch prefetches, while
// a planar tile samples one channel, the lines of the next, and the first channel's before it
// (channel_prefetch.h);
// NextTileGridPrefetch prefetches, before a 2-D tile computes its taps, the grid rows of the
// next tile (grid_prefetch.h); PairGathers loads the two taps of a planar bilinear row with one
// 64-bit gather (pair_gathers.h); HoistTileInvariants computes what a planar bilinear tile's
// sampling loop derives from the taps once per tile instead of once per channel, with 6 channels
// or more (tile_invariants.h); Int32GatherIndices gives the sampling loads 32-bit indices
// (gather_indices.h), except on a target with 64-bit index arithmetic (large_buffers);
// TransposeBlocks transposes the channels-last copy's blocks with shuffles (transpose_blocks.h);
// OneTapsAllocation stores the 3-D channels-last taps in one allocation (one_taps_allocation.h).
inline void add_forward_cpu_passes(Halide::Pipeline pipeline, const Halide::Func &out,
                                   const Forward &f, const Halide::Target &target) {
    const std::string channel_loop = out.name() + ".s0." + f.c.name();
    if (f.space.size() == 2 && f.mode != Interpolation::nearest) {
        pipeline.add_custom_lowering_pass(
            new TileBoxPrefetch("input", f.x_index_taps, f.y_index_taps));
    } else {
        pipeline.add_custom_lowering_pass(
            new TilePrefetch("input", channel_loop, f.mode == Interpolation::nearest));
    }
    if (f.space.size() == 2) {
        pipeline.add_custom_lowering_pass(
            new NextChannelPrefetch("input", channel_loop, f.x_index_taps, f.y_index_taps));
        pipeline.add_custom_lowering_pass(new NextTileGridPrefetch("grid", f.taps.name()));
        if (f.taps_channels_last.defined()) {
            pipeline.add_custom_lowering_pass(
                new NextTileGridPrefetch("grid", f.taps_channels_last.name()));
        }
    }
    if (f.space.size() == 2 && f.mode == Interpolation::bilinear) {
        pipeline.add_custom_lowering_pass(new PairGathers(
            "input", f.x_index_taps, PairGathers::pairs_interleaved_rows(target)));
        pipeline.add_custom_lowering_pass(
            new HoistTileInvariants(channel_loop, f.taps.name(), "input", 6));
    }
    if (f.channels_last.defined()) {
        pipeline.add_custom_lowering_pass(new TransposeBlocks(f.input_rows.name()));
        pipeline.add_custom_lowering_pass(new TransposeBlocks(f.samples_channels_last.name()));
    }
    {
        const std::string channels = "input.extent." + std::to_string(f.space.size());
        pipeline.add_custom_lowering_pass(new InnermostChannelsPrefetch(
            "input", f.taps.name(), channel_loop, channel_loop + "." + kChannelVectors,
            Halide::Internal::Variable::make(Halide::Int(32), channels)));
    }
    if (f.space.size() == 3 && f.taps_channels_last.defined()) {
        pipeline.add_custom_lowering_pass(new BlockPrefetch(
            f.channels_last.name(), f.taps_channels_last.name(), channel_loop + ".co"));
        pipeline.add_custom_lowering_pass(new OneTapsAllocation(f.taps_channels_last.name()));
    }
    pipeline.add_custom_lowering_pass(
        new ByteWords("input", static_cast<int>(f.space.size()) + 2));
    if (!target.has_feature(Halide::Target::LargeBuffers)) {
        pipeline.add_custom_lowering_pass(new Int32GatherIndices("input"));
    }
}

}  // namespace gridsample_gen
