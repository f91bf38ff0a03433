// The gather throughput of this CPU: float32 loads at random 32-bit indices with hardware gathers
// (AVX-512's vgatherdps, 16 lanes; AVX2's, 8 lanes, where AVX-512 is missing), from an array that
// fits L1 (16 KiB) or L2 (1 MiB), on `threads` threads at once; and the same for 64-bit elements
// at float offsets (vgatherdpd: 8 lanes, 4 on AVX2), the pairs of neighbouring floats the planar
// bilinear kernels gather (generators/pair_gathers.h). grid_sample loads every tap at a
// data-dependent address, so these rates bound any kernel from below: targets_summary() turns
// them into the best roofline fraction a kernel that did nothing but its gathers could reach.
#include "workloads.h"

#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace gridsample_bench {
namespace {

constexpr int kIndices = 16384;  // per pass: 64 KiB of indices, streamed from L1/L2
constexpr int kPasses = 256;     // per iteration and thread

#if defined(__x86_64__)
// Four independent accumulators, so the gathers, not the adds, set the pace.
__attribute__((target("avx512f"))) float gather_avx512(const float* data, const int32_t* index) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int pass = 0; pass < kPasses; pass++) {
        for (int i = 0; i < kIndices; i += 64) {
            a0 = _mm512_add_ps(a0, _mm512_i32gather_ps(_mm512_loadu_si512(index + i), data, 4));
            a1 = _mm512_add_ps(a1, _mm512_i32gather_ps(_mm512_loadu_si512(index + i + 16), data, 4));
            a2 = _mm512_add_ps(a2, _mm512_i32gather_ps(_mm512_loadu_si512(index + i + 32), data, 4));
            a3 = _mm512_add_ps(a3, _mm512_i32gather_ps(_mm512_loadu_si512(index + i + 48), data, 4));
        }
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

// Pairs: 8 64-bit elements a gather, at the float offsets of `index` (scale 4).
__attribute__((target("avx512f"))) float gather_pairs_avx512(const float* data,
                                                             const int32_t* index) {
    __m512d a0 = _mm512_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
    for (int pass = 0; pass < kPasses; pass++) {
        for (int i = 0; i < kIndices; i += 32) {
            const __m256i* at = reinterpret_cast<const __m256i*>(index + i);
            a0 = _mm512_add_pd(a0, _mm512_i32gather_pd(_mm256_loadu_si256(at), data, 4));
            a1 = _mm512_add_pd(a1, _mm512_i32gather_pd(_mm256_loadu_si256(at + 1), data, 4));
            a2 = _mm512_add_pd(a2, _mm512_i32gather_pd(_mm256_loadu_si256(at + 2), data, 4));
            a3 = _mm512_add_pd(a3, _mm512_i32gather_pd(_mm256_loadu_si256(at + 3), data, 4));
        }
    }
    return static_cast<float>(
        _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(a0, a1), _mm512_add_pd(a2, a3))));
}

__attribute__((target("avx2"))) float gather_pairs_avx2(const float* data, const int32_t* index) {
    __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
    for (int pass = 0; pass < kPasses; pass++) {
        for (int i = 0; i < kIndices; i += 16) {
            const __m128i* at = reinterpret_cast<const __m128i*>(index + i);
            a0 = _mm256_add_pd(a0, _mm256_i32gather_pd(reinterpret_cast<const double*>(data),
                                                       _mm_loadu_si128(at), 4));
            a1 = _mm256_add_pd(a1, _mm256_i32gather_pd(reinterpret_cast<const double*>(data),
                                                       _mm_loadu_si128(at + 1), 4));
            a2 = _mm256_add_pd(a2, _mm256_i32gather_pd(reinterpret_cast<const double*>(data),
                                                       _mm_loadu_si128(at + 2), 4));
            a3 = _mm256_add_pd(a3, _mm256_i32gather_pd(reinterpret_cast<const double*>(data),
                                                       _mm_loadu_si128(at + 3), 4));
        }
    }
    double lanes[4];
    _mm256_storeu_pd(lanes, _mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3)));
    return static_cast<float>(lanes[0] + lanes[3]);
}

__attribute__((target("avx2"))) float gather_avx2(const float* data, const int32_t* index) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int pass = 0; pass < kPasses; pass++) {
        for (int i = 0; i < kIndices; i += 32) {
            const __m256i* at = reinterpret_cast<const __m256i*>(index + i);
            a0 = _mm256_add_ps(a0, _mm256_i32gather_ps(data, _mm256_loadu_si256(at), 4));
            a1 = _mm256_add_ps(a1, _mm256_i32gather_ps(data, _mm256_loadu_si256(at + 1), 4));
            a2 = _mm256_add_ps(a2, _mm256_i32gather_ps(data, _mm256_loadu_si256(at + 2), 4));
            a3 = _mm256_add_ps(a3, _mm256_i32gather_ps(data, _mm256_loadu_si256(at + 3), 4));
        }
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    return lanes[0] + lanes[7];
}
#endif

void gather_throughput(int64_t span_floats, bool pairs, int threads, benchmark::State& state) {
    std::vector<float> data(static_cast<size_t>(span_floats), 1.0f);
    std::vector<int32_t> index(kIndices);
    std::mt19937 rng(7);
    // A pair at i reads floats i and i + 1.
    const uint32_t starts = static_cast<uint32_t>(span_floats - (pairs ? 1 : 0));
    for (int32_t& i : index) i = static_cast<int32_t>(rng() % starts);
    const bool avx512 = gather_throughput_isa() == "avx512f";
    std::vector<float> sink(static_cast<size_t>(threads));
    for (auto _ : state) {
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; t++) {
            pool.emplace_back([&, t] {
#if defined(__x86_64__)
                if (pairs) {
                    sink[t] = avx512 ? gather_pairs_avx512(data.data(), index.data())
                                     : gather_pairs_avx2(data.data(), index.data());
                } else {
                    sink[t] = avx512 ? gather_avx512(data.data(), index.data())
                                     : gather_avx2(data.data(), index.data());
                }
#endif
            });
        }
        for (auto& th : pool) th.join();
        benchmark::DoNotOptimize(sink.data());
    }
    state.SetItemsProcessed(int64_t(state.iterations()) * gather_elements_per_iteration(threads));
}

}  // namespace

int64_t gather_elements_per_iteration(int threads) {
    return int64_t(kIndices) * kPasses * threads;
}

std::string gather_throughput_isa() {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx512f")) return "avx512f";
    if (__builtin_cpu_supports("avx2")) return "avx2";
#endif
    return "";
}

void register_gather_benchmarks(const std::vector<int>& thread_counts) {
    if (gather_throughput_isa().empty()) return;
    const std::pair<const char*, int64_t> levels[] = {{"l1", 4096}, {"l2", 262144}};
    for (int t : thread_counts) {
        for (bool pairs : {false, true}) {
            for (const auto& [level, span] : levels) {
                const std::string name = std::string("gather/") + level + (pairs ? "_pairs" : "") +
                                         "/threads:" + std::to_string(t);
                const int64_t floats = span;
                benchmark::RegisterBenchmark(name.c_str(),
                                             [floats, pairs, t](benchmark::State& s) {
                                                 gather_throughput(floats, pairs, t, s);
                                             })
                    ->UseRealTime()
                    ->Unit(benchmark::kMillisecond);
            }
        }
    }
}

}  // namespace gridsample_bench
