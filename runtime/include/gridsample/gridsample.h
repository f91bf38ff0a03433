// gridsample: PyTorch-exact grid_sample and affine_grid, compiled ahead of time with Halide.
//
// The C++ API. Tensors are passed as non-owning views (TensorView) in PyTorch's dimension order
// with strides counted in elements, in host memory or on a GPU (CUDA, OpenCL). Every function validates all of its arguments before any
// kernel runs and reports problems as a Status value; on error nothing is written to the outputs.
// No function throws or aborts. The behaviour is specified in SEMANTICS.md (sections S1..S13).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>

namespace gridsample {

// Element types (SEMANTICS.md S10). float32 and float64 compute in their own type. float16,
// bfloat16 and uint8 are storage types: the kernels compute in float32 and round each result
// once (to nearest, ties to even; uint8 also clamps to [0, 255]). bfloat16 elements are their
// 16 bits (the top half of a float32's), as in PyTorch and ml_dtypes. uint8 is for images, in
// the forward calls only (grid_sample, affine_grid_sample) and with a float32 grid.
enum class DType : int32_t { float32 = 0, float64 = 1, float16 = 2, bfloat16 = 3, uint8 = 4 };

// S1: the integer values are PyTorch's (Bilinear=0, Nearest=1, Bicubic=2). In 3-D, bilinear means
// trilinear.
enum class Interpolation : int32_t { bilinear = 0, nearest = 1, bicubic = 2 };
enum class Padding : int32_t { zeros = 0, border = 1, reflection = 2 };

// The largest rank any function takes (5-D input of a volumetric grid_sample).
inline constexpr int kMaxRank = 5;

// Where a tensor's memory lives (SEMANTICS.md S13). The integer values are DLPack's device types
// (kDLCPU = 1, kDLCUDA = 2, kDLOpenCL = 4).
enum class DeviceType : int32_t { cpu = 1, cuda = 2, opencl = 4 };

struct Device {
    DeviceType type = DeviceType::cpu;
    // The device's index: for CUDA the driver's device ordinal (as in cuda:N); for OpenCL the
    // position among every device of every platform, platforms in the order the ICD loader lists
    // them. 0 for the CPU.
    int32_t id = 0;

    static Device cpu() { return {}; }
    static Device cuda(int32_t id = 0) { return {DeviceType::cuda, id}; }
    static Device opencl(int32_t id = 0) { return {DeviceType::opencl, id}; }
    bool operator==(const Device& o) const { return type == o.type && id == o.id; }
    bool operator!=(const Device& o) const { return !(*this == o); }
};

// A non-owning view of a strided tensor. sizes and strides are in PyTorch's dimension order
// (outermost first); strides count elements, not bytes, and may be 0 (expanded dimensions) but
// not negative. The library never writes through a view passed as an input.
//
// data is, by device: cpu, a host pointer to the first element; cuda, the CUdeviceptr of the
// first element (cast to void*: a pointer PyTorch's data_ptr() or cudaMalloc gives, offsets
// included); opencl, the cl_mem buffer whose first element is the tensor's (cast to void*;
// OpenCL views cannot start inside a buffer).
struct TensorView {
    void* data = nullptr;
    DType dtype = DType::float32;
    int32_t rank = 0;
    int64_t sizes[kMaxRank] = {};
    int64_t strides[kMaxRank] = {};
    Device device;

    TensorView() = default;
    // A view with explicit strides.
    TensorView(const void* data, DType dtype, std::initializer_list<int64_t> sizes,
               std::initializer_list<int64_t> strides);
    // A contiguous (C-order) view.
    TensorView(const void* data, DType dtype, std::initializer_list<int64_t> sizes);
    TensorView(const float* data, std::initializer_list<int64_t> sizes)
        : TensorView(data, DType::float32, sizes) {}
    TensorView(const double* data, std::initializer_list<int64_t> sizes)
        : TensorView(data, DType::float64, sizes) {}
    TensorView(const uint8_t* data, std::initializer_list<int64_t> sizes)
        : TensorView(data, DType::uint8, sizes) {}

    // Same as the constructors, from pointers to sizes/strides (rank entries each); strides may
    // be null for a contiguous view.
    static TensorView make(const void* data, DType dtype, int32_t rank, const int64_t* sizes,
                           const int64_t* strides = nullptr);

    int64_t numel() const;
    // The same view on another device (data must then be that device's handle, see above).
    TensorView on(Device d) const {
        TensorView t = *this;
        t.device = d;
        return t;
    }
};

// Where a call on GPU tensors runs (ignored for CPU tensors). Calls are asynchronous on it: the
// library never waits for the device and never copies through the host (S13).
struct Stream {
    // CUDA: a CUcontext and a CUstream (cast to void*). A null context means the device's primary
    // context, the one the CUDA runtime API and PyTorch use; a null stream the legacy default
    // stream. PyTorch: torch.cuda.current_stream().cuda_stream.
    void* cuda_context = nullptr;
    void* cuda_stream = nullptr;
    // OpenCL: a cl_context and a cl_command_queue on the tensors' device. Null means the
    // library's own context and in-order queue for that device (created at first use, kept for
    // the life of the process).
    void* opencl_context = nullptr;
    void* opencl_queue = nullptr;
};

struct Options {
    Interpolation mode = Interpolation::bilinear;
    Padding padding = Padding::zeros;
    bool align_corners = false;
    // GPU calls: the stream or queue they run on.
    Stream stream;
    // GPU backward: grad_input is bit for bit reproducible (64-bit fixed-point sums, S13) when
    // true, the default. (CPU results are always reproducible.)
    bool deterministic = true;
};

enum class StatusCode : int32_t {
    ok = 0,
    invalid_argument = 1,  // shapes, dtypes, enums, strides or pointers violate S8
    unsupported = 2,       // valid in principle but not supported by this build
    out_of_memory = 3,     // an intermediate allocation failed
    internal = 4,          // a kernel reported an unexpected error (a bug: please report it)
};

class Status {
public:
    Status() = default;
    Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
    static Status Ok() { return {}; }

    bool ok() const { return code_ == StatusCode::ok; }
    StatusCode code() const { return code_; }
    // Names the argument and the problem, e.g.
    // "grid: expected last dimension 2 for 4-D input, got 3". Empty when ok().
    const std::string& message() const { return message_; }

private:
    StatusCode code_ = StatusCode::ok;
    std::string message_;
};

// output = grid_sample(input, grid) as torch.nn.functional.grid_sample (S1..S8b).
//   2-D: input (N, C, H, W), grid (N, Ho, Wo, 2), output (N, C, Ho, Wo)
//   3-D: input (N, C, D, H, W), grid (N, Do, Ho, Wo, 3), output (N, C, Do, Ho, Wo)
// input and output share one dtype; the grid has the same dtype, or float32 where they are
// float16, bfloat16 or uint8 (uint8 takes a float32 grid only; S10). The output is written
// through its strides, which must not make it overlap itself or the inputs.
Status grid_sample(const TensorView& input, const TensorView& grid, const TensorView& output,
                   const Options& options = {});

// The gradients of grid_sample (S9), as torch's grid_sampler backward: given
// grad_output = dL/d(output) and the forward's input, grid and options, writes
//   *grad_input = dL/d(input), the input's shape: each tap the forward read in range receives
//                 weight * grad_output, summed over every output point (a scatter-add);
//   *grad_grid  = dL/d(grid), the grid's shape, summed over channels (0 for nearest, and for a
//                 NaN grid component or a coordinate that padding clips; S7, S9).
// A null grad_input or grad_grid is not computed and costs no time and no memory; at least one
// must be given. grad_output has the output's shape; every tensor shares the input's dtype. The
// gradients are written through their strides and must not overlap themselves, each other or an
// input. The results are bit-for-bit reproducible and do not depend on the thread count (CPU) or
// the launch configuration (GPU: grad_input is summed in 64-bit fixed point, SEMANTICS.md S13).
// Scratch memory is about one batch item of the input (channels rounded up to blocks of 8); see
// README.md for the limits.
Status grid_sample_backward(const TensorView& grad_output, const TensorView& input,
                            const TensorView& grid, const TensorView* grad_input,
                            const TensorView* grad_grid, const Options& options = {});

// grid = affine_grid(theta, size, align_corners) as torch.nn.functional.affine_grid.
//   2-D: theta (N, 2, 3), size = {N, C, H, W},    grid (N, H, W, 2)
//   3-D: theta (N, 3, 4), size = {N, C, D, H, W}, grid (N, D, H, W, 3)
// theta and grid share one dtype. size has 4 or 5 entries (C is not used but must be >= 0).
Status affine_grid(const TensorView& theta, std::initializer_list<int64_t> size,
                   const TensorView& grid, bool align_corners, const Stream& stream = {});
Status affine_grid(const TensorView& theta, const int64_t* size, int32_t size_len,
                   const TensorView& grid, bool align_corners, const Stream& stream = {});

// output = grid_sample(input, affine_grid(theta, output's size, align_corners), options), fused:
// the grid is computed point by point and never stored. Bit for bit the result of the two calls.
//   2-D: input (N, C, H, W),    theta (N, 2, 3), output (N, C, Ho, Wo)
//   3-D: input (N, C, D, H, W), theta (N, 3, 4), output (N, C, Do, Ho, Wo)
// The output's spatial size is the size affine_grid builds the grid for. All three share a dtype.
Status affine_grid_sample(const TensorView& input, const TensorView& theta,
                          const TensorView& output, const Options& options = {});

// The number of CPU threads the kernels use; 0 restores the default (all cores, or the
// HL_NUM_THREADS environment variable). Process-wide. Safe to call at any time from any thread:
// it waits for kernel calls already running to finish, and the next calls use the new count.
// Returns the previous setting (0 for the default).
int set_num_threads(int n);
// The number of threads the next call will use.
int num_threads();

// The instruction-set levels compiled into the x86-64 libraries, from the plainest up:
// baseline x86-64, SSE4.1, AVX2 + FMA, AVX-512 (Skylake-SP level), and AVX-512 with the Zen 4 /
// Sapphire Rapids extensions, the level whose hardware gathers are fast.
enum class CpuIsa : int32_t { baseline = 0, sse41 = 1, avx2 = 2, avx512 = 3, avx512_gather = 4 };
inline constexpr CpuIsa kHighestCpuIsa = CpuIsa::avx512_gather;

// Limits run-time dispatch to variants up to `max_isa` (the default is kHighestCpuIsa: the best
// the CPU supports; a build may compile fewer levels, and then runs the best compiled one).
// Process-wide, for testing and for avoiding AVX-512 frequency effects. Safe to call at any time
// from any thread: each call picks its level when it starts and runs all its kernels on it.
void set_max_cpu_isa(CpuIsa max_isa);
CpuIsa max_cpu_isa();
// Per-CPU tuning of the dispatch, on by default (the environment variable GRIDSAMPLE_CPU_TUNING=0
// turns it off at start): on CPUs where some kernels were measured faster one level down, those
// calls run there, under the cap. Today: on AMD CPUs with AVX-512 (Zen 4), float32 forward calls
// with nearest sampling, and 2-D channels-last images of 3 or 4 channels, run the avx512 variant
// rather than avx512_gather (their hardware gathers of single floats are slower than scalar loads
// there). Every level gives the same bits. Off, every call runs the highest level under the cap.
// Process-wide; safe to call at any time from any thread.
void set_cpu_tuning(bool on);
bool cpu_tuning();
// The variant the most recent kernel call on this thread ran (baseline if none ran yet).
CpuIsa last_dispatched_cpu_isa();

// A view of a DLPack tensor (`dltensor` points to a DLTensor, the struct of dlpack.h that
// PyTorch, JAX and CuPy exchange): float32, float64, float16, bfloat16 or uint8, on the CPU, a
// CUDA device (kDLCUDA, or kDLCUDAManaged memory, used as device memory) or an OpenCL device
// (byte_offset 0). Null strides mean a contiguous tensor. The view does not own the memory.
Status from_dlpack(const void* dltensor, TensorView* view);

// Whether calls on `device` can run here: the backend is compiled in, its driver loads and the
// device exists. Not ok: `unsupported`, naming what is missing.
Status device_status(Device device);

// Drops what the library keeps in the GPU context that `stream` names on `device` (the default
// context where `stream` names none, as in a call): the kernels loaded into it and the device
// memory kept there for reuse, after waiting for the work queued on that context. Call it before
// destroying a CUDA context or releasing an OpenCL context that calls ran in, at a time when no
// call runs in it: a context created later may get the same handle, and the library must not
// take it for the old one. The next call in the context loads its kernels again. (CUDA: the
// unused device memory kept for reuse is freed in every context, not only this one.) Not ok:
// `invalid_argument` for the cpu device, `unsupported` as for a call (backend, driver, device).
Status release_context(Device device, const Stream& stream = {});

// The bytes of one element of `dtype` (8, 4, 2, 2, 1); 0 for a value that is no DType.
int64_t element_size(DType dtype);

const char* to_string(Interpolation mode);
const char* to_string(Padding padding);
const char* to_string(DType dtype);
const char* to_string(CpuIsa isa);
const char* to_string(StatusCode code);
const char* to_string(DeviceType type);
// "cpu", "cuda:0", "opencl:1"
std::string to_string(Device device);

}  // namespace gridsample
