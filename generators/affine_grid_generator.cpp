// affine_grid as torch.nn.functional.affine_grid: a grid of normalized sampling coordinates from
// a batch of affine matrices. float16 and bfloat16 (S10) compute in float32 and round the grid
// once. The variants compiled from this generator are listed in
// cmake/GridsampleVariants.cmake.
#include "Halide.h"
#include "algorithm/sampling_math.h"
#include "algorithm/storage_types.h"
#include "autoschedule/any_shape.h"
#include "gpu/backward_schedule.h"

#include <vector>

namespace gridsample_gen {
namespace {

using namespace Halide;

class AffineGrid : public Generator<AffineGrid> {
public:
    GeneratorParam<int> spatial_dims{"spatial_dims", 2, 2, 3};
    GeneratorParam<Type> dtype{"dtype", Float(32)};

    // theta: (j, k, n), PyTorch's (N, d, d+1) reversed: row k maps (x, y, [z,] 1) to component k.
    Input<Buffer<>> theta{"theta"};
    Input<bool> align_corners{"align_corners"};
    // grid: (k, x, y, [z,] n), PyTorch's (N, [D,] H, W, d) reversed.
    Output<Buffer<>> grid{"grid"};

    void configure() {
        theta.set_type(buffer_type(dtype));
        theta.set_dimensions(3);
        grid.set_type(buffer_type(dtype));
        grid.set_dimensions(spatial_dims + 2);
    }

    void generate() {
        const int d = spatial_dims;
        const Type t = compute_type(dtype);
        for (int k = 0; k < d; k++) space.push_back(Var("s" + std::to_string(k)));

        // The base coordinate of each output point along each axis (then the constant 1), and
        // grid(k) = sum_j theta(k, j) * base(j).
        std::vector<Expr> base;
        for (int k = 0; k < d; k++) {
            base.push_back(affine_base_coordinate(space[k], grid.dim(k + 1).extent(),
                                                  align_corners, t));
        }
        base.push_back(constant(t, 1));
        std::vector<Expr> theta_row;
        for (int j = 0; j <= d; j++) {
            const Expr at = theta(within_bounds(theta, {j, kk, n}, using_autoscheduler()));
            theta_row.push_back(to_compute(at, dtype, t));
        }
        std::vector<Expr> args{kk};
        for (const Var &v : space) args.push_back(v);
        args.push_back(n);
        grid(args) = to_storage(affine_component(theta_row, base), dtype, get_target());
    }

    void schedule() {
        const int d = spatial_dims;
        grid.dim(0).set_bounds(0, d);
        for (int k = 0; k < d + 2; k++) grid.dim(k).set_stride(Expr());
        for (int k = 0; k < 3; k++) theta.dim(k).set_stride(Expr());
        theta.set_estimates({{0, d + 1}, {0, d}, {0, 8}});
        align_corners.set_estimate(false);
        Region est{{0, d}};
        for (int k = 0; k < d; k++) est.push_back({0, 128});
        est.push_back({0, 8});
        grid.set_estimates(est);
        if (using_autoscheduler()) return;
        if (get_target().has_gpu_feature()) {
            schedule_affine_grid_gpu(grid, kk, space, n);
            return;
        }

        // CPU: parallel over rows (fused with the outer dims and the batch), vectorized along x
        // with the components unrolled.
        Func out = grid;
        Var fused = n;
        for (int k = d - 1; k >= 1; k--) {
            Var rows("rows_" + std::to_string(k));
            out.fuse(space[k], fused, rows);
            fused = rows;
        }
        out.reorder(kk, space[0], fused)
            .unroll(kk)
            .vectorize(space[0], natural_vector_size(compute_type(dtype)), TailStrategy::GuardWithIf)
            .parallel(fused);
    }

private:
    Var kk{"k"}, n{"n"};
    std::vector<Var> space;
};

}  // namespace
}  // namespace gridsample_gen

HALIDE_REGISTER_GENERATOR(gridsample_gen::AffineGrid, affine_grid)
