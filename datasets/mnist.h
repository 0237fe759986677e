// MNIST and Fashion-MNIST from IDX files, raw or gzipped.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <minicnn/dataset.h>

namespace minicnn {

/// An IDX array of unsigned bytes: dims (big-endian in the file) and the bytes.
struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};

/// Parses IDX bytes of unsigned-byte type with `rank` dimensions (3 for images, 1 for labels). Checks
/// the magic, the dims and the byte count before allocating; `component` and `file` name the source.
IdxArray parse_idx(const uint8_t* bytes, size_t size, int rank, const std::string& component, const std::string& file);
/// Decompresses gzip bytes held in memory into at most `max_bytes` bytes (2 GiB by default); throws Error
/// naming `component` and `name` for a corrupt or truncated stream, or one that decompresses to more.
/// Example: std::vector<uint8_t> raw = gunzip_bounded(bytes.data(), bytes.size(), "MNIST", "t10k-labels.gz");
std::vector<uint8_t> gunzip_bounded(const uint8_t* data, size_t size, const std::string& component,
                                    const std::string& name, uint64_t max_bytes = uint64_t{1} << 31);
/// Reads a file, gunzipping it when it starts with the gzip magic (decompressed size bounded).
std::vector<uint8_t> read_maybe_gzip(const std::string& path, const std::string& component);

/// Loads train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte
/// (each raw or with .gz) from `dir`. `name` is "MNIST" or "Fashion-MNIST" (classes and messages).
DatasetSplit load_mnist(const std::string& dir, const std::string& name = "MNIST");

}  // namespace minicnn
