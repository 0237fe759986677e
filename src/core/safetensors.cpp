// Safetensors: an 8-byte header length, a JSON header, then the tensor bytes; every offset is checked.
#include <minicnn/safetensors.h>

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include <minicnn/check.h>
#include <minicnn/file_io.h>

namespace minicnn {

const Tensor* SafetensorsFile::find(const std::string& name) const {
  for (const auto& [n, t] : tensors) {
    if (n == name) return &t;
  }
  return nullptr;
}

namespace {

constexpr const char* kChecksumKey = "minicnn.crc32";

uint32_t crc_of(const uint8_t* data, size_t size) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (size > 0) {
    const uInt chunk = static_cast<uInt>(std::min<size_t>(size, 1u << 30));
    crc = crc32(crc, data, chunk);
    data += chunk;
    size -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

}  // namespace

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, const Tensor*>>& tensors,
                      std::map<std::string, std::string> metadata) {
  nlohmann::json header = nlohmann::json::object();
  std::string body;
  for (const auto& [name, tensor] : tensors) {
    MINICNN_CHECK(name != "__metadata__" && !name.empty(), "safetensors: invalid tensor name '", name, "'");
    const Tensor t = tensor->to(Device::cpu());
    const size_t begin = body.size();
    body.append(static_cast<const char*>(t.raw_data()), t.nbytes());
    header[name] = {{"dtype", t.dtype() == DType::Float32 ? "F32" : "I32"},
                    {"shape", t.shape().dims()},
                    {"data_offsets", {begin, body.size()}}};
  }
  metadata[kChecksumKey] = std::to_string(crc_of(reinterpret_cast<const uint8_t*>(body.data()), body.size()));
  header["__metadata__"] = metadata;
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  out += json;
  out += body;
  write_file_atomic(path, out, "safetensors");
}

SafetensorsFile parse_safetensors(const uint8_t* data, size_t size, const std::string& name) {
  MINICNN_CHECK(size >= 8, "safetensors: '", name, "' is truncated (", size, " bytes, a header needs at least 8)");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t{data[i]} << (8 * i);
  MINICNN_CHECK(n <= size - 8, "safetensors: '", name, "' announces a header of ", n, " bytes, but the file has only ",
                size - 8, " after the length; the file is truncated or not safetensors");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(data + 8, data + 8 + n);
  } catch (const nlohmann::json::exception& e) {
    detail::throw_error(detail::concat("safetensors: '", name, "' has a header that is not valid JSON (", e.what(), ")"));
  }
  MINICNN_CHECK(header.is_object(), "safetensors: '", name, "' has a header that is not a JSON object");
  const uint8_t* body = data + 8 + n;
  const uint64_t body_size = size - 8 - n;

  SafetensorsFile file;
  struct Entry {
    std::string name;
    uint64_t begin, end;
    std::string dtype;
    std::vector<int64_t> shape;
  };
  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const nlohmann::json& v = it.value();
    if (it.key() == "__metadata__") {
      MINICNN_CHECK(v.is_object(), "safetensors: '", name, "' has __metadata__ that is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        MINICNN_CHECK(m.value().is_string(), "safetensors: '", name, "' has a non-string metadata value for '",
                      m.key(), "'");
        file.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = detail::concat("safetensors: '", name, "' tensor '", it.key(), "'");
    MINICNN_CHECK(v.is_object() && v.contains("dtype") && v.contains("shape") && v.contains("data_offsets"), where,
                  " should have dtype, shape and data_offsets");
    MINICNN_CHECK(v["dtype"].is_string(), where, " has a dtype that is not a string");
    MINICNN_CHECK(v["shape"].is_array() && v["shape"].size() <= 16, where, " has a shape that is not a short array");
    MINICNN_CHECK(v["data_offsets"].is_array() && v["data_offsets"].size() == 2 &&
                      v["data_offsets"][0].is_number_unsigned() && v["data_offsets"][1].is_number_unsigned(),
                  where, " should have data_offsets [begin, end]");
    Entry e{it.key(), v["data_offsets"][0].get<uint64_t>(), v["data_offsets"][1].get<uint64_t>(),
            v["dtype"].get<std::string>(), {}};
    uint64_t numel = 1;
    for (const auto& d : v["shape"]) {
      MINICNN_CHECK(d.is_number_unsigned(), where, " has a shape entry that is not a non-negative integer");
      const uint64_t dim = d.get<uint64_t>();
      MINICNN_CHECK(dim == 0 || numel <= (uint64_t{1} << 40) / dim, where, " announces too many elements");
      numel *= dim;
      e.shape.push_back(static_cast<int64_t>(dim));
    }
    uint64_t item = 0;
    if (e.dtype == "F32" || e.dtype == "I32") item = 4;
    else if (e.dtype == "I64") item = 8;
    MINICNN_CHECK(item != 0, where, " has dtype ", e.dtype, "; expected F32, I32 or I64");
    MINICNN_CHECK(e.begin <= e.end && e.end <= body_size, where, " has data_offsets [", e.begin, ", ", e.end,
                  "] outside the ", body_size, " bytes of data; the file is truncated or damaged");
    MINICNN_CHECK(e.end - e.begin == numel * item, where, " has ", e.end - e.begin, " bytes of data, but shape ",
                  Shape(e.shape), " of ", e.dtype, " needs ", numel * item);
    entries.push_back(std::move(e));
  }
  // Tensors must not overlap (the format lays them out back to back).
  std::vector<const Entry*> sorted;
  for (const auto& e : entries) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(), [](const Entry* a, const Entry* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < sorted.size(); ++i) {
    MINICNN_CHECK(sorted[i]->begin >= sorted[i - 1]->end || sorted[i - 1]->begin == sorted[i - 1]->end,
                  "safetensors: '", name, "' has overlapping tensors '", sorted[i - 1]->name, "' and '",
                  sorted[i]->name, "'");
  }
  if (auto it = file.metadata.find(kChecksumKey); it != file.metadata.end()) {
    const std::string actual = std::to_string(crc_of(body, body_size));
    MINICNN_CHECK(actual == it->second, "safetensors: '", name,
                  "' is damaged: the checksum of its tensor data does not match the one saved with it (",
                  it->second, " saved, ", actual, " now)");
  }
  for (const auto& e : entries) {
    const Shape shape(e.shape);
    if (e.dtype == "F32") {
      Tensor t = Tensor::empty(shape);
      std::memcpy(t.data(), body + e.begin, e.end - e.begin);
      file.tensors.emplace_back(e.name, t);
    } else if (e.dtype == "I32") {
      Tensor t = Tensor::empty(shape, DType::Int32);
      std::memcpy(t.data_i32(), body + e.begin, e.end - e.begin);
      file.tensors.emplace_back(e.name, t);
    } else {
      Tensor t = Tensor::empty(shape, DType::Int32);
      int32_t* out = t.data_i32();
      for (int64_t i = 0; i < t.numel(); ++i) {
        int64_t v;
        std::memcpy(&v, body + e.begin + static_cast<uint64_t>(i) * 8, 8);
        MINICNN_CHECK(v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max(),
                      "safetensors: '", name, "' tensor '", e.name, "' holds ", v, ", which does not fit in int32");
        out[i] = static_cast<int32_t>(v);
      }
      file.tensors.emplace_back(e.name, t);
    }
  }
  return file;
}

SafetensorsFile load_safetensors(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file(path, "safetensors");
  return parse_safetensors(bytes.data(), bytes.size(), path);
}

}  // namespace minicnn
