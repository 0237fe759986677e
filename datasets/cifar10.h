// CIFAR-10 from the official binary batches (cifar-10-batches-bin/): records of a label byte and 32x32 RGB
// planes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <minicnn/dataset.h>

namespace minicnn {

/// Bytes in one CIFAR-10 record: 1 label byte, then 3,072 pixel bytes (the R plane, then G, then B; each
/// 32x32 and row-major), which is already the (C, H, W) order of an ImageDataset.
constexpr size_t kCifar10RecordBytes = 1 + 3 * 32 * 32;

/// Parses one batch file held in memory (any whole number of records, at least one). Checks the size
/// before allocating and every label (0..9); errors name `name`. The result is named "CIFAR-10", is
/// 3x32x32 and has no class names (load_cifar10() adds them).
/// Example: ImageDataset d = parse_cifar10_batch(bytes.data(), bytes.size(), "test_batch.bin");
ImageDataset parse_cifar10_batch(const uint8_t* bytes, size_t size, const std::string& name);

/// Loads data_batch_1.bin ... data_batch_5.bin (train) and test_batch.bin (test) from `dir`, the official
/// cifar-10-batches-bin/ folder. Class names come from batches.meta.txt (one per line, in label order);
/// when it is missing, a warning goes through log_warning() and the classes are named 0..9.
DatasetSplit load_cifar10(const std::string& dir);

}  // namespace minicnn
