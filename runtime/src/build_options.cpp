// What this build compiled (GRIDSAMPLE_OPERATIONS, _MODES, _PADDINGS, _DIMS, _DTYPES in
// cmake/GridsampleVariants.cmake), and the `unsupported` answer to a call for a variant it left
// out, naming the variant and the configure options that would compile it.
#include "internal.h"

#include "build_options.inc"

#include <cstring>

namespace gridsample::detail {
namespace {

bool compiled(const char* list, const std::string& value) {
    return std::strstr(list, ("," + value + ",").c_str()) != nullptr;
}

// "a,b," -> "a, b"
std::string listed(const char* list) {
    std::string s(list + 1);
    if (!s.empty()) s.pop_back();
    std::string out;
    for (char c : s) out += c == ',' ? std::string(", ") : std::string(1, c);
    return out;
}

// What the selection lacks for a variant, "value to OPTION (this build has ...)" joined by
// " and "; empty when the selection holds it.
std::string missing_options(const char* operation, int spatial_dims, const Interpolation* mode,
                            const Padding* padding, DType dtype) {
    std::string missing;
    auto need = [&](const char* list, const std::string& value, const char* option) {
        if (compiled(list, value)) return;
        if (!missing.empty()) missing += " and ";
        missing += value + " to " + option + " (this build has " + listed(list) + ")";
    };
    need(kCompiled_operations, operation, "GRIDSAMPLE_OPERATIONS");
    need(kCompiled_dims, std::to_string(spatial_dims), "GRIDSAMPLE_DIMS");
    if (mode != nullptr) need(kCompiled_modes, to_string(*mode), "GRIDSAMPLE_MODES");
    if (padding != nullptr) need(kCompiled_paddings, to_string(*padding), "GRIDSAMPLE_PADDINGS");
    need(kCompiled_dtypes, to_string(dtype), "GRIDSAMPLE_DTYPES");
    return missing;
}

}  // namespace

Status not_compiled(const char* function, const char* operation, int spatial_dims,
                    const Interpolation* mode, const Padding* padding, DType dtype) {
    std::string variant = std::to_string(spatial_dims) + "-D ";
    if (mode != nullptr) variant += std::string(to_string(*mode)) + " ";
    if (padding != nullptr) variant += std::string(to_string(*padding)) + " ";
    variant += to_string(dtype);
    const std::string missing = missing_options(operation, spatial_dims, mode, padding, dtype);
    if (missing.empty()) {
        return unsupported(std::string(function) + ": no compiled variant for " + variant);
    }
    return unsupported(std::string(function) + ": " + variant +
                       " is not compiled into this build of the library; to compile it, add " +
                       missing);
}

Status check_selected(const char* function, const char* operation, int spatial_dims,
                      const Interpolation* mode, const Padding* padding, DType dtype) {
    return missing_options(operation, spatial_dims, mode, padding, dtype).empty()
               ? Status::Ok()
               : not_compiled(function, operation, spatial_dims, mode, padding, dtype);
}

}  // namespace gridsample::detail
