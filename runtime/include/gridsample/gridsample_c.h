/* gridsample: the C ABI, for FFI users. The same functions as gridsample.h, with plain structs
 * and integer status codes. Nothing here throws or aborts; every function validates its
 * arguments first and writes nothing on error. */
#ifndef GRIDSAMPLE_C_H
#define GRIDSAMPLE_C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Values of gridsample_tensor.dtype */
#define GRIDSAMPLE_FLOAT32 0
#define GRIDSAMPLE_FLOAT64 1

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

/* A non-owning strided view in PyTorch's dimension order; strides in elements (>= 0). Only the
 * first `rank` entries of sizes and strides are read. */
typedef struct gridsample_tensor {
    void *data;
    int32_t dtype;
    int32_t rank;
    int64_t sizes[5];
    int64_t strides[5];
} gridsample_tensor;

typedef struct gridsample_options {
    int32_t mode;
    int32_t padding;
    int32_t align_corners; /* 0 or 1 */
} gridsample_options;

/* torch.nn.functional.grid_sample; see gridsample.h for shapes. */
int32_t gridsample_grid_sample(const gridsample_tensor *input, const gridsample_tensor *grid,
                               const gridsample_tensor *output, const gridsample_options *options);

/* The gradients of grid_sample; see gridsample.h. grad_input and grad_grid may each be NULL (not
 * computed), but not both. */
int32_t gridsample_grid_sample_backward(const gridsample_tensor *grad_output,
                                        const gridsample_tensor *input,
                                        const gridsample_tensor *grid,
                                        const gridsample_tensor *grad_input,
                                        const gridsample_tensor *grad_grid,
                                        const gridsample_options *options);

/* torch.nn.functional.affine_grid; size has size_len (4 or 5) entries. */
int32_t gridsample_affine_grid(const gridsample_tensor *theta, const int64_t *size,
                               int32_t size_len, const gridsample_tensor *grid,
                               int32_t align_corners);

/* grid_sample through affine_grid(theta, output's size), fused; see gridsample.h. */
int32_t gridsample_affine_grid_sample(const gridsample_tensor *input,
                                      const gridsample_tensor *theta,
                                      const gridsample_tensor *output,
                                      const gridsample_options *options);

/* The message of the last failed call on this thread ("" after a successful call). */
const char *gridsample_last_error(void);

/* Thread count control (0 = all cores); returns the previous setting. */
int32_t gridsample_set_num_threads(int32_t n);
int32_t gridsample_num_threads(void);

#ifdef __cplusplus
}
#endif

#endif /* GRIDSAMPLE_C_H */
