// libFuzzer target over the C ABI (gridsample_c.h): gridsample_grid_sample,
// gridsample_grid_sample_backward, gridsample_affine_grid and gridsample_affine_grid_sample with
// arbitrary ranks, shapes, strides (dense, permuted, padded, expanded, overlapping, huge), dtypes,
// enum values and data (NaN, infinities, huge, subnormal and exact-edge grid values).
//
// The fuzzer's input is a recipe, read front to back (bytes past the end read as 0, so every input
// is a valid recipe): the operation and its options, the sizes of the problem, then for each
// tensor how it departs from the problem (rank, dtype, a size, the data pointer) and its layout,
// then the style of its data and a few values placed at chosen elements.
//
// Memory: every tensor is backed by an allocation of exactly the bytes its sizes and strides span,
// so AddressSanitizer's redzone starts right after its last element. The exceptions are the tensors
// the library must refuse (negative sizes or strides, a size above 2^31 - 1, a span past the
// address space, a null pointer), which get a small allocation or none. A layout whose span is
// real but too large to allocate here (a huge stride on a dimension of size > 1) is replaced by
// the dense layout. Sizes stay small (a few thousand elements per tensor) except the huge ones the
// library refuses, so every call is fast and the memory bounded (kMaxTensorBytes per tensor).
//
// Checks, beyond "no crash and no sanitizer report":
//   - the status is a documented code and never GRIDSAMPLE_INTERNAL (arguments are validated
//     before any kernel runs, so a kernel error would be a validation gap);
//   - an error comes with a message and leaves every output allocation as it was;
//   - the refusals the specification requires (invalid enums, dtypes and ranks, negative sizes or
//     strides, impossible spans, null pointers, no gradient asked for) are errors;
//   - a success leaves the bytes of an output's allocation outside its elements as they were,
//     never writes an input, and, when the inputs are finite and moderate, gives finite outputs
//     whatever the grid (SEMANTICS.md S7).
#include "gridsample/gridsample.h"
#include "gridsample/gridsample_c.h"
#include "float16.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

namespace {

constexpr int64_t kMaxTensorBytes = int64_t{4} << 20;
constexpr unsigned char kSentinel = 0x5A;  // fills outputs before a call

[[noreturn]] void fail(const char* what, const char* detail = "") {
    std::fprintf(stderr, "fuzz_c_api: check failed: %s %s\n", what, detail);
    std::abort();
}

void check(bool ok, const char* what, const char* detail = "") {
    if (!ok) fail(what, detail);
}

// The recipe: bytes consumed front to back; 0 past the end.
class Recipe {
public:
    Recipe(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}
    uint8_t byte() { return p_ < end_ ? *p_++ : 0; }
    uint64_t u64() {
        uint64_t v = 0;
        for (int i = 0; i < 8; i++) v |= uint64_t{byte()} << (8 * i);
        return v;
    }
    // True with probability k/256; false once the recipe is exhausted.
    bool chance(int k) { return byte() >= 256 - k; }
    template <typename T, size_t N>
    T pick(const T (&values)[N]) {
        return values[byte() % N];
    }

private:
    const uint8_t* p_;
    const uint8_t* end_;
};

// Fills data past what the recipe spells out (splitmix64).
class Random {
public:
    explicit Random(uint64_t seed) : state_(seed) {}
    uint64_t next() {
        uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    double uniform(double lo, double hi) {
        return lo + (hi - lo) * static_cast<double>(next() >> 11) * 0x1.0p-53;
    }

private:
    uint64_t state_;
};

const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();
// Values that stress coordinate handling (S2-S7): non-finite, huge, around the int32 and float
// integer limits, subnormal, the corners and just past them.
const double kSpecialValues[] = {kNaN,     -kNaN,   kInf,      -kInf,    1e38,    -1e38,
                                 3e9,      -3e9,    1073741824.0, -1073741825.0, 16777217.0,
                                 4.9e-324, 1e-40,   -1e-45,    0.0,      -0.0,    1.0,
                                 -1.0,     1.0000001, -1.0000001, 0.5,   -0.5,    1e300};

int64_t element_size(int32_t dtype) {
    return gridsample::element_size(static_cast<gridsample::DType>(dtype));
}

bool is_storage(int32_t dtype) {
    return dtype == GRIDSAMPLE_FLOAT16 || dtype == GRIDSAMPLE_BFLOAT16 || dtype == GRIDSAMPLE_UINT8;
}

// The grid's (or theta's) dtype for an input of `dtype` (S10): the same, or float32 under a
// storage type (always for uint8).
int32_t coordinate_dtype(Recipe& r, int32_t dtype) {
    if (dtype == GRIDSAMPLE_UINT8 || (is_storage(dtype) && r.chance(2))) return GRIDSAMPLE_FLOAT32;
    return dtype;
}

// The largest input magnitude whose outputs stay finite in `dtype` (bicubic weights sum to at most
// 1.375^2 in absolute value).
double finite_bound(int32_t dtype) {
    return dtype == GRIDSAMPLE_FLOAT16 ? 3e4 : 1e6;
}

// One tensor argument: its descriptor and the memory behind it.
struct Tensor {
    gridsample_tensor desc{};
    std::unique_ptr<unsigned char[]> memory;  // exactly `bytes` bytes (when not null)
    int64_t bytes = 0;
    bool must_reject = false;  // the library is required to refuse a call with it
    bool is_output = false;
    std::vector<unsigned char> before;  // the memory before the call

    int rank() const { return std::clamp(desc.rank, 0, 5); }
    bool valid_rank() const { return desc.rank >= 0 && desc.rank <= 5; }
    bool valid_dtype() const { return desc.dtype >= GRIDSAMPLE_FLOAT32 && desc.dtype <= GRIDSAMPLE_UINT8; }
    bool empty() const {
        for (int i = 0; i < rank(); i++) {
            if (desc.sizes[i] <= 0) return true;
        }
        return false;
    }
    // Calls f(byte offset) for every element (only for tensors whose memory is real).
    template <typename F>
    void for_each_element(F&& f) const {
        if (empty() || must_reject) return;
        int64_t index[5] = {};
        const int r = rank();
        const int64_t size = element_size(desc.dtype);
        while (true) {
            int64_t offset = 0;
            for (int d = 0; d < r; d++) offset += index[d] * desc.strides[d];
            f(offset * size);
            int d = r - 1;
            for (; d >= 0; d--) {
                if (++index[d] < desc.sizes[d]) break;
                index[d] = 0;
            }
            if (d < 0) return;
        }
    }
    double load(int64_t byte_offset) const {
        const unsigned char* p = memory.get() + byte_offset;
        switch (desc.dtype) {
        case GRIDSAMPLE_FLOAT64: {
            double v;
            std::memcpy(&v, p, 8);
            return v;
        }
        case GRIDSAMPLE_FLOAT16: {
            uint16_t b;
            std::memcpy(&b, p, 2);
            return gridsample::npy::float16_value(b);
        }
        case GRIDSAMPLE_BFLOAT16: {
            uint16_t b;
            std::memcpy(&b, p, 2);
            const uint32_t bits = uint32_t{b} << 16;
            float v;
            std::memcpy(&v, &bits, 4);
            return v;
        }
        case GRIDSAMPLE_UINT8: return *p;
        default: {
            float v;
            std::memcpy(&v, p, 4);
            return v;
        }
        }
    }
    void store(int64_t byte_offset, double value) {
        unsigned char* p = memory.get() + byte_offset;
        switch (desc.dtype) {
        case GRIDSAMPLE_FLOAT64: std::memcpy(p, &value, 8); break;
        case GRIDSAMPLE_FLOAT16: {
            const uint16_t b = gridsample::npy::float16_bits(static_cast<float>(value));
            std::memcpy(p, &b, 2);
            break;
        }
        case GRIDSAMPLE_BFLOAT16: {  // truncated: any bits are a bfloat16 value
            const float f = static_cast<float>(value);
            uint32_t bits;
            std::memcpy(&bits, &f, 4);
            const uint16_t b = static_cast<uint16_t>(bits >> 16);
            std::memcpy(p, &b, 2);
            break;
        }
        case GRIDSAMPLE_UINT8:
            *p = std::isnan(value) ? 0 : static_cast<unsigned char>(std::clamp(value, 0.0, 255.0));
            break;
        default: {
            const float v = static_cast<float>(value);
            std::memcpy(p, &v, 4);
        }
        }
    }
};

// The shape of the problem every tensor starts from.
struct Problem {
    int dims = 2;  // spatial dimensions
    int64_t n = 1, c = 1;
    int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1};
};

Problem read_problem(Recipe& r) {
    Problem p;
    p.dims = r.chance(64) ? 3 : 2;
    const int64_t batches[] = {1, 2, 3, 0, 1, 2};
    const int64_t channels[] = {1, 2, 3, 4, 7, 8, 9, 17, 0, 1, 3};
    p.n = r.pick(batches);
    p.c = r.pick(channels);
    for (int k = 0; k < p.dims; k++) {
        p.in[k] = 1 + r.byte() % 8;
        p.out[k] = r.byte() % 9;
    }
    return p;
}

// Starts `t` with the given dtype and sizes, then applies the recipe's departures and layout, and
// allocates the memory.
void build_tensor(Recipe& r, Tensor& t, int32_t dtype, std::initializer_list<int64_t> sizes,
                  bool is_output) {
    t.is_output = is_output;
    gridsample_tensor& d = t.desc;
    d.dtype = dtype;
    d.rank = static_cast<int32_t>(sizes.size());
    std::copy(sizes.begin(), sizes.end(), d.sizes);

    // Departures from the problem, each rare.
    const uint8_t departures = r.byte();
    if (departures & 1) {  // rank
        const int32_t ranks[] = {0, 1, 2, 3, 4, 5, 6, -1, 1000};
        d.rank = r.pick(ranks);
    }
    if (departures & 2) {  // dtype
        const int32_t dtypes[] = {GRIDSAMPLE_FLOAT32, GRIDSAMPLE_FLOAT64, GRIDSAMPLE_UINT8, 5, -1,
                                  1 << 30};
        d.dtype = r.pick(dtypes);
    }
    if (departures & 4) {  // one size
        const int64_t special[] = {0,         1,
                                   2,         -1,
                                   int64_t{1} << 31, (int64_t{1} << 32) + 3,
                                   int64_t{1} << 62, std::numeric_limits<int64_t>::max(),
                                   std::numeric_limits<int64_t>::min(), -(int64_t{1} << 31)};
        const int dim = r.byte() % 5;
        const uint8_t how = r.byte();
        d.sizes[dim] = how < 128 ? std::max<int64_t>(d.sizes[dim] + (how % 3) - 1, 0)
                                 : r.pick(special);
    }
    const int rank = t.rank();
    const int64_t elem = t.valid_dtype() ? element_size(d.dtype) : 4;

    // The layout: strides in elements.
    auto dense = [&](const int* order) {  // order: dims from innermost out
        int64_t stride = 1;
        for (int i = 0; i < rank; i++) {
            d.strides[order[i]] = stride;
            stride *= std::clamp<int64_t>(d.sizes[order[i]], 1, 1 << 20);
        }
    };
    int order[5] = {4, 3, 2, 1, 0};
    for (int i = 0; i < rank; i++) order[i] = rank - 1 - i;
    const uint8_t layout = r.byte() % 8;
    switch (layout) {
    case 1: {  // permuted: channels-last and the like
        for (int i = rank - 1; i > 0; i--) std::swap(order[i], order[r.byte() % (i + 1)]);
        dense(order);
        break;
    }
    case 2: {  // padded: every dimension's stride past the span of the inner ones
        int64_t stride = 1;
        for (int i = 0; i < rank; i++) {
            stride += r.byte() % 4;
            d.strides[order[i]] = stride;
            stride *= std::clamp<int64_t>(d.sizes[order[i]], 1, 1 << 20);
        }
        break;
    }
    case 3: {  // expanded: stride 0 where the mask says
        dense(order);
        const uint8_t mask = r.byte();
        for (int i = 0; i < rank; i++) {
            if (mask & (1 << i)) d.strides[i] = 0;
        }
        break;
    }
    case 4: {  // arbitrary small strides, overlapping or not
        for (int i = 0; i < rank; i++) d.strides[i] = r.byte() % 24;
        break;
    }
    case 5: {  // one huge or negative stride
        dense(order);
        const int64_t huge[] = {INT32_MAX,
                                int64_t{1} << 31,
                                int64_t{1} << 33,
                                int64_t{1} << 40,
                                int64_t{1} << 61,
                                (int64_t{1} << 62) + 1,
                                std::numeric_limits<int64_t>::max(),
                                -1,
                                std::numeric_limits<int64_t>::min()};
        if (rank > 0) d.strides[r.byte() % rank] = r.pick(huge);
        break;
    }
    default:
        dense(order);
    }

    // What the library must refuse, and how much memory the rest needs.
    t.must_reject = !t.valid_rank() || !t.valid_dtype();
    bool empty = false;
    for (int i = 0; i < rank; i++) {
        if (d.sizes[i] < 0 || d.strides[i] < 0) t.must_reject = true;
        if (d.sizes[i] == 0) empty = true;
    }
    __int128 span = 1;  // elements, from the first to one past the last
    bool huge_size = false;
    for (int i = 0; i < rank && !t.must_reject && !empty; i++) {
        // Each term below 2^126; capped so that the sum and the byte count cannot overflow.
        span += std::min(static_cast<__int128>(d.strides[i]) * (d.sizes[i] - 1),
                         static_cast<__int128>(1) << 100);
        if (d.sizes[i] > INT32_MAX) huge_size = true;
    }
    const __int128 bytes = span * elem;
    if (!t.must_reject && !empty) {
        if (huge_size || bytes - 1 > std::numeric_limits<int64_t>::max()) {
            t.must_reject = true;  // a size the kernels cannot index, or a span no memory has
        } else if (bytes > kMaxTensorBytes) {
            // Real but too large to allocate here: the dense layout instead.
            dense(order);
        }
    }
    const bool null_data = r.chance(4);
    if (null_data) {
        if (!empty) t.must_reject = true;
        return;
    }
    if (t.must_reject) {
        t.bytes = 64;
    } else if (empty) {
        t.bytes = 0;
    } else {
        int64_t last = 0;
        for (int i = 0; i < rank; i++) last += d.strides[i] * (d.sizes[i] - 1);
        t.bytes = (last + 1) * elem;
    }
    t.memory.reset(new unsigned char[static_cast<size_t>(t.bytes)]);
    d.data = t.memory.get();
    std::memset(d.data, kSentinel, static_cast<size_t>(t.bytes));
}

// Data styles for the values of a tensor read by the library.
enum class Style { moderate, wide, grid_edges, specials };

void fill(Recipe& r, Tensor& t, bool is_grid, const Problem& p) {
    if (t.is_output || t.must_reject || t.bytes == 0 || !t.valid_dtype()) return;
    const Style styles[] = {Style::moderate, Style::moderate, Style::wide, Style::grid_edges,
                            Style::specials};
    const Style style = r.pick(styles);
    Random random(r.u64());
    // Fill the whole allocation (gaps included, so that reading a gap would be visible), then
    // the elements.
    for (int64_t offset = 0; offset + element_size(t.desc.dtype) <= t.bytes;
         offset += element_size(t.desc.dtype)) {
        t.store(offset, random.uniform(-1, 1));
    }
    std::vector<int64_t> offsets;
    t.for_each_element([&](int64_t offset) { offsets.push_back(offset); });
    for (int64_t offset : offsets) {
        double v = 0;
        switch (style) {
        case Style::moderate: v = is_grid ? random.uniform(-1.2, 1.2) : random.uniform(-4, 4); break;
        case Style::wide: v = random.uniform(-1, 1) * std::pow(10.0, random.uniform(-3, 6)); break;
        case Style::grid_edges: {
            // Exactly on pixel centres and edges of either align_corners convention.
            const int64_t size = std::max<int64_t>(p.in[0], 1);
            const double k = static_cast<double>(random.next() % (2 * size + 3)) - 1;
            v = random.next() % 2 ? 2 * k / std::max<int64_t>(2 * size, 1) - 1
                                  : 2 * (k / 2) / std::max<int64_t>(size - 1, 1) - 1;
            break;
        }
        case Style::specials: v = kSpecialValues[random.next() % std::size(kSpecialValues)]; break;
        }
        t.store(offset, v);
    }
    // A few values placed by the recipe.
    const int placed = r.byte() % 8;
    for (int i = 0; i < placed && !offsets.empty(); i++) {
        const size_t at = (r.byte() | (size_t{r.byte()} << 8)) % offsets.size();
        t.store(offsets[at], r.pick(kSpecialValues));
    }
}

// Whether every element is finite and at most `bound` in magnitude.
bool moderate(const Tensor& t, double bound = 1e6) {
    if (t.must_reject || t.memory == nullptr) return true;
    bool ok = true;
    t.for_each_element([&](int64_t offset) {
        const double v = t.load(offset);
        ok = ok && std::isfinite(v) && std::fabs(v) <= bound;
    });
    return ok;
}

void snapshot(Tensor& t) {
    if (t.memory) t.before.assign(t.memory.get(), t.memory.get() + t.bytes);
}

bool unchanged(const Tensor& t) {
    return t.memory == nullptr || t.bytes == 0 ||
           std::memcmp(t.before.data(), t.memory.get(), static_cast<size_t>(t.bytes)) == 0;
}

// After a successful call: bytes outside the output's elements untouched, elements finite when
// `expect_finite`.
void check_output(const Tensor& t, bool expect_finite, const char* name) {
    if (t.memory == nullptr) return;
    std::vector<bool> covered(static_cast<size_t>(t.bytes), false);
    const int64_t size = element_size(t.desc.dtype);
    t.for_each_element([&](int64_t offset) {
        for (int64_t b = 0; b < size; b++) covered[static_cast<size_t>(offset + b)] = true;
        if (expect_finite) check(std::isfinite(t.load(offset)), "non-finite output element in", name);
    });
    for (int64_t b = 0; b < t.bytes; b++) {
        if (!covered[static_cast<size_t>(b)]) {
            check(t.memory[static_cast<size_t>(b)] == t.before[static_cast<size_t>(b)],
                  "a byte between the elements was written in", name);
        }
    }
}

void check_status(int32_t status, bool must_reject, const std::vector<Tensor*>& outputs,
                  const std::vector<Tensor*>& inputs) {
    check(status >= GRIDSAMPLE_OK && status <= GRIDSAMPLE_OUT_OF_MEMORY,
          "unexpected status (internal error or unknown code):", gridsample_last_error());
    if (must_reject) check(status != GRIDSAMPLE_OK, "accepted a call the library must refuse");
    if (status != GRIDSAMPLE_OK) {
        check(gridsample_last_error()[0] != '\0', "an error without a message");
        for (const Tensor* t : outputs) check(unchanged(*t), "an output was written on error");
    } else {
        check(gridsample_last_error()[0] == '\0', "a message after success");
    }
    for (const Tensor* t : inputs) check(unchanged(*t), "an input was written");
}

// How often each outcome happened, printed at exit when GRIDSAMPLE_FUZZ_STATS is set: shows
// whether the fuzzer reaches the kernels (successful calls) and not only validation.
struct Stats {
    const char* name;
    long calls = 0, ok = 0, required_refusals = 0, other_errors = 0;
};
Stats g_stats[4] = {{"grid_sample"}, {"grid_sample_backward"}, {"affine_grid"},
                    {"affine_grid_sample"}};

void count(int op, int32_t status, bool must_reject) {
    Stats& s = g_stats[op];
    s.calls++;
    if (status == GRIDSAMPLE_OK) {
        s.ok++;
    } else if (must_reject) {
        s.required_refusals++;
    } else {
        s.other_errors++;
    }
}

void print_stats() {
    for (const Stats& s : g_stats) {
        std::fprintf(stderr, "fuzz_c_api: %-21s %9ld calls, %9ld ok, %9ld required refusals, %9ld other errors\n",
                     s.name, s.calls, s.ok, s.required_refusals, s.other_errors);
    }
}

bool any_must_reject(const std::vector<Tensor*>& tensors) {
    for (const Tensor* t : tensors) {
        if (t->must_reject) return true;
    }
    return false;
}

gridsample_options read_options(Recipe& r, bool& must_reject) {
    gridsample_options o{};
    const uint8_t b = r.byte();
    o.mode = b % 3;
    o.padding = (b / 3) % 3;
    o.align_corners = (b / 9) % 2;
    if (r.chance(8)) {
        const int32_t bad[] = {3, -1, 1 << 30, std::numeric_limits<int32_t>::min()};
        switch (r.byte() % 3) {
        case 0: o.mode = r.pick(bad); break;
        case 1: o.padding = r.pick(bad); break;
        default: o.align_corners = r.byte() % 2 ? 2 : -1; break;
        }
        must_reject = true;
    }
    return o;
}

void fuzz_grid_sample(Recipe& r) {
    bool must_reject = false;
    const gridsample_options o = read_options(r, must_reject);
    const Problem p = read_problem(r);
    const int32_t dtype = r.byte() % 5;  // float32, float64, float16, bfloat16, uint8
    const int32_t grid_dtype = coordinate_dtype(r, dtype);
    const int64_t d = p.dims;
    Tensor in, grid, out;
    if (p.dims == 2) {
        build_tensor(r, in, dtype, {p.n, p.c, p.in[1], p.in[0]}, false);
        build_tensor(r, grid, grid_dtype, {p.n, p.out[1], p.out[0], d}, false);
        build_tensor(r, out, dtype, {p.n, p.c, p.out[1], p.out[0]}, true);
    } else {
        build_tensor(r, in, dtype, {p.n, p.c, p.in[2], p.in[1], p.in[0]}, false);
        build_tensor(r, grid, grid_dtype, {p.n, p.out[2], p.out[1], p.out[0], d}, false);
        build_tensor(r, out, dtype, {p.n, p.c, p.out[2], p.out[1], p.out[0]}, true);
    }
    fill(r, in, false, p);
    fill(r, grid, true, p);
    const bool finite_inputs = moderate(in, finite_bound(dtype));
    for (Tensor* t : {&in, &grid, &out}) snapshot(*t);
    const bool null_struct = r.chance(2);
    const int32_t status = gridsample_grid_sample(&in.desc, null_struct ? nullptr : &grid.desc,
                                                  &out.desc, &o);
    must_reject = must_reject || null_struct || any_must_reject({&in, &grid, &out});
    count(0, status, must_reject);
    check_status(status, must_reject, {&out}, {&in, &grid});
    if (status == GRIDSAMPLE_OK) check_output(out, finite_inputs, "output");
}

void fuzz_backward(Recipe& r) {
    bool must_reject = false;
    const gridsample_options o = read_options(r, must_reject);
    const Problem p = read_problem(r);
    // float32, float64, float16, bfloat16, and uint8, which has no gradients (S10: refused).
    const int32_t dtype = r.byte() % 5;
    const int32_t grid_dtype = coordinate_dtype(r, dtype);  // grad_grid's too
    const int64_t d = p.dims;
    Tensor go, in, grid, gi, gg;
    if (p.dims == 2) {
        build_tensor(r, go, dtype, {p.n, p.c, p.out[1], p.out[0]}, false);
        build_tensor(r, in, dtype, {p.n, p.c, p.in[1], p.in[0]}, false);
        build_tensor(r, grid, grid_dtype, {p.n, p.out[1], p.out[0], d}, false);
        build_tensor(r, gi, dtype, {p.n, p.c, p.in[1], p.in[0]}, true);
        build_tensor(r, gg, grid_dtype, {p.n, p.out[1], p.out[0], d}, true);
    } else {
        build_tensor(r, go, dtype, {p.n, p.c, p.out[2], p.out[1], p.out[0]}, false);
        build_tensor(r, in, dtype, {p.n, p.c, p.in[2], p.in[1], p.in[0]}, false);
        build_tensor(r, grid, grid_dtype, {p.n, p.out[2], p.out[1], p.out[0], d}, false);
        build_tensor(r, gi, dtype, {p.n, p.c, p.in[2], p.in[1], p.in[0]}, true);
        build_tensor(r, gg, grid_dtype, {p.n, p.out[2], p.out[1], p.out[0], d}, true);
    }
    fill(r, go, false, p);
    fill(r, in, false, p);
    fill(r, grid, true, p);
    // float16 gradients of moderate inputs may still overflow to infinity (grad_grid scales
    // with the image size): finiteness is asserted for the wider types only.
    const bool finite_inputs = dtype != GRIDSAMPLE_FLOAT16 && moderate(go) && moderate(in);
    for (Tensor* t : {&go, &in, &grid, &gi, &gg}) snapshot(*t);
    const uint8_t wanted = r.byte() % 8;  // mostly both gradients
    const bool want_gi = wanted != 1 && wanted != 3;
    const bool want_gg = wanted != 2 && wanted != 3;
    const int32_t status = gridsample_grid_sample_backward(
        &go.desc, &in.desc, &grid.desc, want_gi ? &gi.desc : nullptr,
        want_gg ? &gg.desc : nullptr, &o);
    std::vector<Tensor*> passed{&go, &in, &grid};
    if (want_gi) passed.push_back(&gi);
    if (want_gg) passed.push_back(&gg);
    // A uint8 input (as drawn, or after a departure) has no gradients.
    must_reject = must_reject || (!want_gi && !want_gg) || any_must_reject(passed) ||
                  in.desc.dtype == GRIDSAMPLE_UINT8;
    count(1, status, must_reject);
    check_status(status, must_reject, {&gi, &gg}, {&go, &in, &grid});
    if (status == GRIDSAMPLE_OK) {
        if (want_gi) check_output(gi, finite_inputs, "grad_input");
        if (want_gg) check_output(gg, finite_inputs, "grad_grid");
        // A gradient not asked for is never written.
        if (!want_gi) check(unchanged(gi), "grad_input written though not asked for");
        if (!want_gg) check(unchanged(gg), "grad_grid written though not asked for");
    }
}

void fuzz_affine_grid(Recipe& r) {
    bool must_reject = false;
    const Problem p = read_problem(r);
    const int32_t dtype = r.byte() % 4;  // float32, float64, float16, bfloat16
    const int64_t d = p.dims;
    int64_t size[8] = {p.n, p.c, 0, 0, 0, 0, 0, 0};
    for (int k = 0; k < p.dims; k++) size[2 + k] = p.out[p.dims - 1 - k];
    int32_t size_len = p.dims + 2;
    if (r.chance(8)) {
        const int32_t lens[] = {0, 1, 3, 4, 5, 6, 8, -1};
        size_len = r.pick(lens);
    }
    if (r.chance(8)) size[r.byte() % 5] = r.chance(128) ? -1 : int64_t{1} << 31;
    const bool null_size = r.chance(3);
    Tensor theta, grid;
    build_tensor(r, theta, dtype, {p.n, d, d + 1}, false);
    if (p.dims == 2) {
        build_tensor(r, grid, dtype, {p.n, p.out[1], p.out[0], d}, true);
    } else {
        build_tensor(r, grid, dtype, {p.n, p.out[2], p.out[1], p.out[0], d}, true);
    }
    fill(r, theta, false, p);
    const bool finite_inputs = moderate(theta, dtype == GRIDSAMPLE_FLOAT16 ? 1e3 : 1e6);
    for (Tensor* t : {&theta, &grid}) snapshot(*t);
    const int32_t align_corners = r.chance(8) ? 7 : r.byte() % 2;
    const int32_t status = gridsample_affine_grid(&theta.desc, null_size ? nullptr : size,
                                                  size_len, &grid.desc, align_corners);
    must_reject = must_reject || null_size || (size_len != 4 && size_len != 5) ||
                  (align_corners != 0 && align_corners != 1) ||
                  any_must_reject({&theta, &grid});
    for (int i = 0; i < size_len && !null_size; i++) {
        if (size[i] < 0) must_reject = true;
    }
    count(2, status, must_reject);
    check_status(status, must_reject, {&grid}, {&theta});
    if (status == GRIDSAMPLE_OK) check_output(grid, finite_inputs, "grid");
}

void fuzz_affine_grid_sample(Recipe& r) {
    bool must_reject = false;
    const gridsample_options o = read_options(r, must_reject);
    const Problem p = read_problem(r);
    const int32_t dtype = r.byte() % 5;
    const int32_t theta_dtype = coordinate_dtype(r, dtype);
    const int64_t d = p.dims;
    Tensor in, theta, out;
    if (p.dims == 2) {
        build_tensor(r, in, dtype, {p.n, p.c, p.in[1], p.in[0]}, false);
        build_tensor(r, out, dtype, {p.n, p.c, p.out[1], p.out[0]}, true);
    } else {
        build_tensor(r, in, dtype, {p.n, p.c, p.in[2], p.in[1], p.in[0]}, false);
        build_tensor(r, out, dtype, {p.n, p.c, p.out[2], p.out[1], p.out[0]}, true);
    }
    build_tensor(r, theta, theta_dtype, {p.n, d, d + 1}, false);
    fill(r, in, false, p);
    fill(r, theta, false, p);
    const bool finite_inputs = moderate(in, finite_bound(dtype)) && moderate(theta);
    for (Tensor* t : {&in, &theta, &out}) snapshot(*t);
    const bool null_struct = r.chance(2);
    const int32_t status = gridsample_affine_grid_sample(
        &in.desc, null_struct ? nullptr : &theta.desc, &out.desc, &o);
    must_reject = must_reject || null_struct || any_must_reject({&in, &theta, &out});
    count(3, status, must_reject);
    check_status(status, must_reject, {&out}, {&in, &theta});
    if (status == GRIDSAMPLE_OK) check_output(out, finite_inputs, "output");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    // One thread: every run is reproducible, and the fuzzer spends its time on inputs rather
    // than on waking workers.
    gridsample_set_num_threads(1);
    if (std::getenv("GRIDSAMPLE_FUZZ_STATS")) std::atexit(print_stats);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Recipe r(data, size);
    const uint8_t head = r.byte();
    // Any compiled CPU level up to the best (the dispatcher falls back to compiled ones).
    const int levels = static_cast<int>(gridsample::kHighestCpuIsa) + 1;
    gridsample::set_max_cpu_isa(static_cast<gridsample::CpuIsa>((head >> 4) % levels));
    switch (head % 3) {
    case 0: fuzz_grid_sample(r); break;
    case 1: fuzz_backward(r); break;
    default:
        if (r.chance(128)) {  // half of the affine inputs
            fuzz_affine_grid_sample(r);
        } else {
            fuzz_affine_grid(r);
        }
        break;
    }
    return 0;
}
