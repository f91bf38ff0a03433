/* gridsample: the C ABI, for FFI users. The same functions as gridsample.h, with plain structs
 * and integer status codes. Nothing here throws or aborts; every function validates its
 * arguments first and writes nothing on error. */
#ifndef GRIDSAMPLE_C_H
#define GRIDSAMPLE_C_H

#include <stddef.h>
#include <stdint.h>

/* Every function is exported from the shared library (libgridsample_c.so). */
#if defined(__GNUC__) || defined(__clang__)
#define GRIDSAMPLE_C_API __attribute__((visibility("default")))
#else
#define GRIDSAMPLE_C_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Values of gridsample_tensor.dtype */
#define GRIDSAMPLE_FLOAT32 0
#define GRIDSAMPLE_FLOAT64 1
#define GRIDSAMPLE_FLOAT16 2
#define GRIDSAMPLE_BFLOAT16 3 /* the 16 bits of each element, as uint16_t */
#define GRIDSAMPLE_UINT8 4    /* images: forward calls only, with a float32 grid */

/* Values of gridsample_options.mode and .padding (PyTorch's integers, SEMANTICS.md S1) */
#define GRIDSAMPLE_BILINEAR 0
#define GRIDSAMPLE_NEAREST 1
#define GRIDSAMPLE_BICUBIC 2
#define GRIDSAMPLE_ZEROS 0
#define GRIDSAMPLE_BORDER 1
#define GRIDSAMPLE_REFLECTION 2

/* Status codes returned by every function */
#define GRIDSAMPLE_OK 0
#define GRIDSAMPLE_INVALID_ARGUMENT 1
#define GRIDSAMPLE_UNSUPPORTED 2
#define GRIDSAMPLE_OUT_OF_MEMORY 3
#define GRIDSAMPLE_INTERNAL 4

/* Values of gridsample_tensor.device_type (DLPack's; 0 is also the CPU, so that a zeroed struct
 * is a host tensor) */
#define GRIDSAMPLE_CPU 1
#define GRIDSAMPLE_CUDA 2
#define GRIDSAMPLE_OPENCL 4

/* A non-owning strided view in PyTorch's dimension order; strides in elements (>= 0). Only the
 * first `rank` entries of sizes and strides are read. data is a host pointer (CPU), a
 * CUdeviceptr (CUDA) or a cl_mem (OpenCL), as gridsample.h's TensorView says. */
typedef struct gridsample_tensor {
    void *data;
    int32_t dtype;
    int32_t rank;
    int64_t sizes[5];
    int64_t strides[5];
    int32_t device_type; /* GRIDSAMPLE_CPU (or 0), GRIDSAMPLE_CUDA, GRIDSAMPLE_OPENCL */
    int32_t device_id;
} gridsample_tensor;

/* Where a GPU call runs; null members pick the defaults of gridsample.h's Stream (the device's
 * primary CUDA context and the legacy default stream; the library's own OpenCL context and
 * queue). */
typedef struct gridsample_stream {
    void *cuda_context;   /* CUcontext */
    void *cuda_stream;    /* CUstream */
    void *opencl_context; /* cl_context */
    void *opencl_queue;   /* cl_command_queue */
} gridsample_stream;

typedef struct gridsample_options {
    int32_t mode;
    int32_t padding;
    int32_t align_corners; /* 0 or 1 */
    /* 0: the GPU backward's grad_input is bit for bit reproducible (the default); 1 allows a
     * faster non-reproducible one where the build has it */
    int32_t nondeterministic;
    gridsample_stream stream;
} gridsample_options;

/* torch.nn.functional.grid_sample; see gridsample.h for shapes. */
GRIDSAMPLE_C_API
int32_t gridsample_grid_sample(const gridsample_tensor *input, const gridsample_tensor *grid,
                               const gridsample_tensor *output, const gridsample_options *options);

/* The gradients of grid_sample; see gridsample.h. grad_input and grad_grid may each be NULL (not
 * computed), but not both. */
GRIDSAMPLE_C_API
int32_t gridsample_grid_sample_backward(const gridsample_tensor *grad_output,
                                        const gridsample_tensor *input,
                                        const gridsample_tensor *grid,
                                        const gridsample_tensor *grad_input,
                                        const gridsample_tensor *grad_grid,
                                        const gridsample_options *options);

/* torch.nn.functional.affine_grid; size has size_len (4 or 5) entries. */
GRIDSAMPLE_C_API
int32_t gridsample_affine_grid(const gridsample_tensor *theta, const int64_t *size,
                               int32_t size_len, const gridsample_tensor *grid,
                               int32_t align_corners);

/* affine_grid on a GPU stream or queue (stream may be NULL: the defaults). */
GRIDSAMPLE_C_API
int32_t gridsample_affine_grid_on(const gridsample_tensor *theta, const int64_t *size,
                                  int32_t size_len, const gridsample_tensor *grid,
                                  int32_t align_corners, const gridsample_stream *stream);

/* grid_sample through affine_grid(theta, output's size), fused; see gridsample.h. */
GRIDSAMPLE_C_API
int32_t gridsample_affine_grid_sample(const gridsample_tensor *input,
                                      const gridsample_tensor *theta,
                                      const gridsample_tensor *output,
                                      const gridsample_options *options);

/* A view of a DLPack DLTensor (pass a DLTensor*); see gridsample.h's from_dlpack. */
GRIDSAMPLE_C_API
int32_t gridsample_from_dlpack(const void *dltensor, gridsample_tensor *view);

/* GRIDSAMPLE_OK if calls on the device can run here, else GRIDSAMPLE_UNSUPPORTED with the reason in
 * gridsample_last_error(). */
GRIDSAMPLE_C_API
int32_t gridsample_device_status(int32_t device_type, int32_t device_id);

/* Drops what the library keeps in the GPU context that stream names (NULL or null members: the
 * defaults); call before destroying a context that calls ran in. See gridsample.h's
 * release_context. */
GRIDSAMPLE_C_API
int32_t gridsample_release_context(int32_t device_type, int32_t device_id,
                                   const gridsample_stream *stream);

/* The message of the last failed call on this thread ("" after a successful call). */
GRIDSAMPLE_C_API
const char *gridsample_last_error(void);

/* Thread count control (0 = all cores); returns the previous setting. */
GRIDSAMPLE_C_API
int32_t gridsample_set_num_threads(int32_t n);
GRIDSAMPLE_C_API
int32_t gridsample_num_threads(void);

#ifdef __cplusplus
}
#endif

#endif /* GRIDSAMPLE_C_H */
