// .npy parsing with every size checked before allocation, and writing.
#include <minicnn/npy.h>

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string_view>

#include <minicnn/check.h>
#include <minicnn/file_io.h>

namespace minicnn {
namespace {

// Finds the value of 'key' in the header dict text (e.g. "'descr': '<f4'").
std::string_view dict_value(std::string_view header, std::string_view key, const std::string& name) {
  const std::string quoted = "'" + std::string(key) + "'";
  const size_t at = header.find(quoted);
  MINICNN_CHECK(at != std::string_view::npos, "npy: '", name, "' has no ", key, " in its header");
  size_t p = header.find(':', at + quoted.size());
  MINICNN_CHECK(p != std::string_view::npos, "npy: '", name, "' has a malformed header near ", key);
  ++p;
  while (p < header.size() && header[p] == ' ') ++p;
  size_t end = p;
  if (p < header.size() && header[p] == '(') {
    end = header.find(')', p);
    MINICNN_CHECK(end != std::string_view::npos, "npy: '", name, "' has an unterminated shape in its header");
    ++end;
  } else if (p < header.size() && (header[p] == '\'' || header[p] == '"')) {
    end = header.find(header[p], p + 1);
    MINICNN_CHECK(end != std::string_view::npos, "npy: '", name, "' has an unterminated string in its header");
    ++end;
  } else {
    while (end < header.size() && header[end] != ',' && header[end] != '}') ++end;
  }
  return header.substr(p, end - p);
}

// float32's 24-bit significand holds every integer of at most this magnitude, and not 2^24 + 1.
constexpr int64_t kFloat32ExactInteger = int64_t{1} << 24;

// A checked header and where its data lies; the dtype is one of those the error below lists.
struct RawNpy {
  char kind;    // 'f' float, 'i' signed integer, 'u' unsigned integer
  size_t item;  // bytes per element: 4 or 8 for 'f' and 'i', 1 for 'u'
  Shape shape;
  int64_t numel;
  const uint8_t* data;

  const char* dtype_name() const {
    if (kind == 'f') return item == 4 ? "float32" : "float64";
    if (kind == 'i') return item == 4 ? "int32" : "int64";
    return "uint8";
  }

  double float64(int64_t i) const {
    double v;
    std::memcpy(&v, data + i * 8, 8);
    return v;
  }
  // Element i of an integer dtype.
  int64_t integer(int64_t i) const {
    if (item == 8) {
      int64_t v;
      std::memcpy(&v, data + i * 8, 8);
      return v;
    }
    if (item == 4) {
      int32_t v;
      std::memcpy(&v, data + i * 4, 4);
      return v;
    }
    return data[i];
  }
};

RawNpy parse_raw(const uint8_t* data, size_t size, const std::string& name) {
  static const char kMagic[] = "\x93NUMPY";
  MINICNN_CHECK(size >= 10 && std::memcmp(data, kMagic, 6) == 0, "npy: '", name,
                "' is not a .npy file (it does not start with \\x93NUMPY)");
  const uint8_t major = data[6];
  MINICNN_CHECK(major >= 1 && major <= 3, "npy: '", name, "' has format version ", int(major), ", expected 1, 2 or 3");
  size_t header_len, header_start;
  if (major == 1) {
    header_len = data[8] | (size_t{data[9]} << 8);
    header_start = 10;
  } else {
    MINICNN_CHECK(size >= 12, "npy: '", name, "' is truncated inside its header");
    header_len = data[8] | (size_t{data[9]} << 8) | (size_t{data[10]} << 16) | (size_t{data[11]} << 24);
    header_start = 12;
  }
  MINICNN_CHECK(header_len <= size - header_start, "npy: '", name, "' is truncated: its header announces ", header_len,
                " bytes but the file has ", size - header_start, " after the preamble");
  const std::string_view header(reinterpret_cast<const char*>(data + header_start), header_len);

  std::string_view descr = dict_value(header, "descr", name);
  MINICNN_CHECK(descr.size() >= 2, "npy: '", name, "' has a malformed descr");
  descr = descr.substr(1, descr.size() - 2);
  const std::string_view fortran = dict_value(header, "fortran_order", name);
  MINICNN_CHECK(fortran.substr(0, 5) == "False", "npy: '", name,
                "' is in Fortran order; save it in C order (np.ascontiguousarray)");

  std::string_view shape_text = dict_value(header, "shape", name);
  MINICNN_CHECK(shape_text.size() >= 2 && shape_text.front() == '(', "npy: '", name, "' has a malformed shape");
  std::vector<int64_t> dims;
  int64_t numel = 1;
  for (size_t p = 1; p + 1 < shape_text.size();) {
    while (p < shape_text.size() && (shape_text[p] == ' ' || shape_text[p] == ',')) ++p;
    if (p + 1 >= shape_text.size()) break;
    int64_t v = 0;
    bool any = false;
    while (p < shape_text.size() && shape_text[p] >= '0' && shape_text[p] <= '9') {
      MINICNN_CHECK(v < (int64_t{1} << 40), "npy: '", name, "' announces a dimension that is too large");
      v = v * 10 + (shape_text[p] - '0');
      ++p;
      any = true;
    }
    while (p < shape_text.size() && shape_text[p] == 'L') ++p;  // Python 2 longs
    MINICNN_CHECK(any, "npy: '", name, "' has a malformed shape ", std::string(shape_text));
    MINICNN_CHECK(v == 0 || numel <= (int64_t{1} << 40) / v, "npy: '", name, "' announces more elements than fit in memory");
    numel *= v;
    dims.push_back(v);
    MINICNN_CHECK(dims.size() <= 16, "npy: '", name, "' has more than 16 dimensions");
  }

  size_t item = 0;
  if (descr == "<f4" || descr == "<i4") item = 4;
  else if (descr == "<f8" || descr == "<i8") item = 8;
  else if (descr == "|u1" || descr == "<u1") item = 1;
  MINICNN_CHECK(item != 0, "npy: '", name, "' has dtype '", std::string(descr),
                "'; expected float32 ('<f4'), float64 ('<f8'), int32 ('<i4'), int64 ('<i8') or uint8 ('|u1')");
  const size_t body = size - header_start - header_len;
  const uint64_t need = static_cast<uint64_t>(numel) * item;
  MINICNN_CHECK(body >= need, "npy: '", name, "' is truncated: shape ", Shape(dims), " needs ", need,
                " bytes of data, but the file has ", body);
  return {descr[1], item, Shape(dims), numel, data + header_start + header_len};
}

}  // namespace

Tensor parse_npy(const uint8_t* data, size_t size, const std::string& name) {
  const RawNpy raw = parse_raw(data, size, name);
  const uint8_t* src = raw.data;
  const int64_t numel = raw.numel;
  if (raw.kind == 'f' && raw.item == 4) {
    Tensor t = Tensor::empty(raw.shape);
    std::memcpy(t.data(), src, static_cast<size_t>(numel) * 4);
    return t;
  }
  if (raw.kind == 'i' && raw.item == 4) {
    Tensor t = Tensor::empty(raw.shape, DType::Int32);
    std::memcpy(t.data_i32(), src, static_cast<size_t>(numel) * 4);
    return t;
  }
  if (raw.kind == 'i') {
    Tensor t = Tensor::empty(raw.shape, DType::Int32);
    int32_t* out = t.data_i32();
    for (int64_t i = 0; i < numel; ++i) {
      const int64_t v = raw.integer(i);
      MINICNN_CHECK(v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max(), "npy: '",
                    name, "' holds the int64 value ", v, ", which does not fit in int32");
      out[i] = static_cast<int32_t>(v);
    }
    return t;
  }
  Tensor t = Tensor::empty(raw.shape);
  float* out = t.data();
  for (int64_t i = 0; i < numel; ++i) out[i] = raw.kind == 'f' ? static_cast<float>(raw.float64(i)) : src[i];
  return t;
}

Tensor parse_npy_values(const uint8_t* data, size_t size, const std::string& name) {
  const RawNpy raw = parse_raw(data, size, name);
  const int64_t numel = raw.numel;
  Tensor t = Tensor::empty(raw.shape);
  float* out = t.data();
  if (raw.kind == 'f' && raw.item == 4) {
    std::memcpy(out, raw.data, static_cast<size_t>(numel) * 4);
  } else if (raw.kind == 'f') {
    for (int64_t i = 0; i < numel; ++i) {
      const double v = raw.float64(i);
      out[i] = static_cast<float>(v);
      // Rounding to float32 is what a float32 computation asks for; overflowing to infinity is not.
      MINICNN_CHECK(!std::isinf(out[i]) || std::isinf(v), "npy: '", name, "' holds the float64 value ",
                    fmt::format("{}", v), " at flat index ", i, ", beyond float32's range (largest ",
                    fmt::format("{}", std::numeric_limits<float>::max()), ")");
    }
  } else {
    for (int64_t i = 0; i < numel; ++i) {
      const int64_t v = raw.integer(i);
      MINICNN_CHECK(v >= -kFloat32ExactInteger && v <= kFloat32ExactInteger, "npy: '", name, "' holds the ",
                    raw.dtype_name(), " value ", v, " at flat index ", i,
                    ", but float32 holds integers exactly only up to 2^24 = ", kFloat32ExactInteger,
                    " in magnitude; convert the array to float32 yourself if rounding is acceptable");
      out[i] = static_cast<float>(v);
    }
  }
  return t;
}

Tensor load_npy(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file(path, "npy");
  return parse_npy(bytes.data(), bytes.size(), path);
}

Tensor load_npy_values(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file(path, "npy");
  return parse_npy_values(bytes.data(), bytes.size(), path);
}

std::string npy_bytes(const Tensor& tensor) {
  const Tensor t = tensor.to(Device::cpu());
  std::string shape = "(";
  for (int64_t d : t.shape().dims()) shape += std::to_string(d) + ", ";
  if (t.dim() > 1) shape.resize(shape.size() - 2);
  else if (t.dim() == 1) shape.resize(shape.size() - 1);
  shape += ")";
  std::string header = std::string("{'descr': '") + (t.dtype() == DType::Float32 ? "<f4" : "<i4") +
                       "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Pad so that the data starts on a 64-byte boundary; the header ends with a newline.
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>((header.size() >> 8) & 0xff);
  out += header;
  out.append(static_cast<const char*>(t.raw_data()), t.nbytes());
  return out;
}

void save_npy(const std::string& path, const Tensor& tensor) { write_file_atomic(path, npy_bytes(tensor), "npy"); }

}  // namespace minicnn
