// .npy reading and writing; see npy.h. Format reference: numpy.lib.format (NEP 1).
#include "npy.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <unistd.h>

namespace gridsample::npy {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
// Bounds on what a header may declare: enough for any real tensor, small enough that the
// arithmetic below cannot overflow.
constexpr size_t kMaxHeaderLen = 1 << 20;
constexpr int kMaxDims = 32;
constexpr int64_t kMaxBytes = int64_t{1} << 46;


// The element types of .npy files: descr (without quotes) -> dtype; 2-byte elements without a
// float type ('<u2', and the '|V2' that ml_dtypes' bfloat16 is saved as) are read as bfloat16
// bits, marked `untyped16` for the caller to confirm.
struct Descr {
    const char* text;
    DType dtype;
    bool untyped16;
};
constexpr Descr kDescrs[] = {
    {"<f4", DType::float32, false},  {"<f8", DType::float64, false},
    {"<f2", DType::float16, false},  {"|u1", DType::uint8, false},
    {"<u1", DType::uint8, false},    {"u1", DType::uint8, false},
    {"<u2", DType::bfloat16, true},  {"|V2", DType::bfloat16, true},
    {"<V2", DType::bfloat16, true},
};

const char* descr_of(DType dtype) {
    switch (dtype) {
    case DType::float64: return "<f8";
    case DType::float16: return "<f2";
    case DType::bfloat16: return "<u2";  // NumPy has no bfloat16: the bits
    case DType::uint8: return "|u1";
    default: return "<f4";
    }
}

// The value of `key` in the header dictionary, as raw text up to the next top-level comma or
// closing brace ("'<f4'", "False", "(2, 3)").
bool find_value(const std::string& header, const std::string& key, std::string& value) {
    const std::string quoted[] = {"'" + key + "'", "\"" + key + "\""};
    size_t pos = std::string::npos;
    for (const std::string& q : quoted) {
        pos = header.find(q);
        if (pos != std::string::npos) {
            pos += q.size();
            break;
        }
    }
    if (pos == std::string::npos) return false;
    pos = header.find(':', pos);
    if (pos == std::string::npos) return false;
    pos++;
    int depth = 0;
    size_t end = pos;
    for (; end < header.size(); end++) {
        const char c = header[end];
        if (c == '(') depth++;
        if (c == ')') depth--;
        if (depth == 0 && (c == ',' || c == '}')) break;
        if (depth < 0) return false;
    }
    value = header.substr(pos, end - pos);
    const size_t first = value.find_first_not_of(" \t");
    const size_t last = value.find_last_not_of(" \t");
    value = first == std::string::npos ? "" : value.substr(first, last - first + 1);
    return true;
}

bool parse_shape(const std::string& text, std::vector<int64_t>& shape, std::string& problem) {
    if (text.size() < 2 || text.front() != '(' || text.back() != ')') {
        problem = "shape is not a tuple: " + text;
        return false;
    }
    shape.clear();
    size_t i = 1;
    const size_t end = text.size() - 1;
    while (i < end) {
        while (i < end && (text[i] == ' ' || text[i] == ',')) i++;
        if (i >= end) break;
        if (text[i] < '0' || text[i] > '9') {
            problem = "shape has a non-integer entry: " + text;
            return false;
        }
        int64_t v = 0;
        while (i < end && text[i] >= '0' && text[i] <= '9') {
            if (v > (kMaxBytes - 9) / 10) {
                problem = "shape entry too large: " + text;
                return false;
            }
            v = v * 10 + (text[i] - '0');
            i++;
        }
        if (i < end && text[i] != ',' && text[i] != ' ') {
            problem = "shape has a malformed entry: " + text;
            return false;
        }
        shape.push_back(v);
        if (shape.size() > kMaxDims) {
            problem = "shape has too many dimensions: " + text;
            return false;
        }
    }
    return true;
}

}  // namespace


int64_t Array::numel() const {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    return n;
}

TensorView Array::view() const {
    return TensorView::make(bytes.data(), dtype, static_cast<int32_t>(shape.size()),
                            shape.data());
}

Array zeros(DType dtype, std::vector<int64_t> shape) {
    Array a;
    a.dtype = dtype;
    a.shape = std::move(shape);
    a.bytes.assign(static_cast<size_t>(a.numel() * element_size(dtype)), 0);
    return a;
}

bool load(const std::string& path, Array& out, std::string& error) {
    auto fail = [&](const std::string& problem) {
        error = path + ": " + problem;
        return false;
    };
    std::ifstream f(path, std::ios::binary);
    if (!f) return fail("cannot open file for reading");
    char preamble[10];
    f.read(preamble, 8);
    if (f.gcount() != 8 || std::memcmp(preamble, kMagic, kMagicLen) != 0) {
        return fail("not a NumPy .npy file (bad magic string)");
    }
    const int major = static_cast<unsigned char>(preamble[6]);
    size_t header_len = 0;
    if (major == 1) {
        unsigned char len[2];
        f.read(reinterpret_cast<char*>(len), 2);
        if (f.gcount() != 2) return fail("truncated header");
        header_len = len[0] | (len[1] << 8);
    } else if (major == 2 || major == 3) {
        unsigned char len[4];
        f.read(reinterpret_cast<char*>(len), 4);
        if (f.gcount() != 4) return fail("truncated header");
        header_len = size_t{len[0]} | (size_t{len[1]} << 8) | (size_t{len[2]} << 16) |
                     (size_t{len[3]} << 24);
    } else {
        return fail("unsupported .npy format version " + std::to_string(major));
    }
    if (header_len > kMaxHeaderLen) return fail("header length is implausibly large");
    std::string header(header_len, '\0');
    f.read(header.data(), static_cast<std::streamsize>(header_len));
    if (static_cast<size_t>(f.gcount()) != header_len) return fail("truncated header");
    // Versions 1.0 and 2.0 have an ASCII header (3.0: UTF-8); none has control characters but
    // the final newline (and whitespace).
    for (const char ch : header) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 && c != '\n' && c != '\r' && c != '\t') {
            return fail("malformed header (control character " + std::to_string(c) + ")");
        }
        if (c >= 0x7f && major < 3) return fail("malformed header (not ASCII text)");
    }
    if (header.find('{') == std::string::npos || header.find('}') == std::string::npos) {
        return fail("malformed header (no dictionary)");
    }

    std::string descr, fortran, shape_text;
    if (!find_value(header, "descr", descr)) return fail("header has no 'descr'");
    if (!find_value(header, "fortran_order", fortran)) return fail("header has no 'fortran_order'");
    if (!find_value(header, "shape", shape_text)) return fail("header has no 'shape'");
    Array a;
    bool known = false;
    for (const Descr& d : kDescrs) {
        if (descr == "'" + std::string(d.text) + "'" || descr == "\"" + std::string(d.text) + "\"") {
            a.dtype = d.dtype;
            a.untyped16 = d.untyped16;
            known = true;
        }
    }
    if (!known) {
        return fail("unsupported dtype " + descr + " (expected little-endian float32 '<f4', "
                    "float64 '<f8', float16 '<f2', uint8 '|u1', or bfloat16 bits as '<u2' or '|V2')");
    }
    if (fortran == "True") return fail("Fortran-order arrays are not supported (save in C order)");
    if (fortran != "False") return fail("malformed 'fortran_order' value " + fortran);
    std::string problem;
    if (!parse_shape(shape_text, a.shape, problem)) return fail(problem);
    int64_t bytes = element_size(a.dtype);
    for (int64_t s : a.shape) {
        if (s != 0 && bytes > kMaxBytes / s) return fail("shape " + shape_text + " is too large");
        bytes *= s;
    }
    if (bytes > kMaxBytes) return fail("shape " + shape_text + " is too large");

    // Check the length before allocating, so an absurd shape in a small file fails cleanly.
    const std::streampos data_start = f.tellg();
    f.seekg(0, std::ios::end);
    const std::streampos file_end = f.tellg();
    f.seekg(data_start);
    const int64_t available = static_cast<int64_t>(file_end - data_start);
    if (available < bytes) {
        return fail("truncated data: shape " + shape_text + " needs " + std::to_string(bytes) +
                    " bytes, the file holds " + std::to_string(available));
    }
    if (available > bytes) {
        return fail("trailing data: shape " + shape_text + " needs " + std::to_string(bytes) +
                    " bytes, the file holds " + std::to_string(available));
    }
    try {
        a.bytes.resize(static_cast<size_t>(bytes));
    } catch (const std::bad_alloc&) {
        return fail("not enough memory for " + std::to_string(bytes) + " bytes");
    }
    f.read(reinterpret_cast<char*>(a.bytes.data()), bytes);
    if (f.gcount() != bytes) return fail("read error");
    out = std::move(a);
    return true;
}

bool save(const std::string& path, const Array& array, std::string& error) {
    std::string header = std::string("{'descr': '") +
                         descr_of(array.dtype) +
                         "', 'fortran_order': False, 'shape': (";
    for (size_t i = 0; i < array.shape.size(); i++) {
        header += std::to_string(array.shape[i]);
        if (array.shape.size() == 1 || i + 1 < array.shape.size()) header += ",";
        if (i + 1 < array.shape.size()) header += " ";
    }
    header += "), }";
    // Pad with spaces and a newline so the data starts on a 64-byte boundary (version 1.0).
    const size_t unpadded = kMagicLen + 2 + 2 + header.size() + 1;
    header.append((64 - unpadded % 64) % 64, ' ');
    header += '\n';

    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        if (!f) {
            error = path + ": cannot open for writing";
            return false;
        }
        f.write(kMagic, kMagicLen);
        const char version[2] = {1, 0};
        f.write(version, 2);
        const char len[2] = {static_cast<char>(header.size() & 0xff),
                             static_cast<char>(header.size() >> 8)};
        f.write(len, 2);
        f.write(header.data(), static_cast<std::streamsize>(header.size()));
        f.write(reinterpret_cast<const char*>(array.bytes.data()),
                static_cast<std::streamsize>(array.bytes.size()));
        f.flush();
        if (!f) {
            f.close();
            std::remove(tmp.c_str());
            error = path + ": write failed";
            return false;
        }
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        error = path + ": cannot replace the file";
        return false;
    }
    return true;
}

}  // namespace gridsample::npy
