// .npy and .safetensors: round trips, atomic writes, and clear errors for truncated or damaged files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "check.h"
#include "npy.h"
#include "safetensors.h"
#include "test_util.h"

namespace minicnn {
namespace {

namespace fs = std::filesystem;

using testing::error_of;

using testing::TempDir;
using testing::write_bytes;

TEST(Npy, RoundTripsFloatAndIntTensors) {
  TempDir tmp("npy");
  const fs::path dir = tmp.path();
  Tensor f = Tensor::from_vector({2, 3}, {1, -2, 3.5f, 0, 1e-8f, -7});
  save_npy((dir / "f.npy").string(), f);
  EXPECT_EQ(load_npy((dir / "f.npy").string()).to_vector(), f.to_vector());
  EXPECT_EQ(load_npy((dir / "f.npy").string()).shape(), f.shape());
  Tensor i = Tensor::from_vector_i32({4}, {0, -1, 5, 2147483647});
  save_npy((dir / "i.npy").string(), i);
  Tensor back = load_npy((dir / "i.npy").string());
  EXPECT_EQ(back.dtype(), DType::Int32);
  EXPECT_EQ(back.to_vector_i32(), i.to_vector_i32());
}

TEST(Npy, ReadsInt64AndFloat64AsNumPyWritesThem) {
  TempDir tmp("npy64");
  const fs::path dir = tmp.path();
  std::string header = "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }";
  header.append(117 - header.size(), ' ');
  header += '\n';
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8) + char(header.size()) + char(0) + header;
  const int64_t values[2] = {3, -4};
  bytes.append(reinterpret_cast<const char*>(values), 16);
  write_bytes((dir / "a.npy").string(), bytes);
  EXPECT_EQ(load_npy((dir / "a.npy").string()).to_vector_i32(), std::vector<int32_t>({3, -4}));
}

TEST(Npy, TruncatedFileIsAClearError) {
  TempDir tmp("npytrunc");
  const fs::path dir = tmp.path();
  std::string full = npy_bytes(Tensor::zeros({10}));
  write_bytes((dir / "t.npy").string(), full.substr(0, full.size() - 4));
  const std::string msg = error_of([&] { load_npy((dir / "t.npy").string()); });
  EXPECT_NE(msg.find("is truncated: shape [10] needs 40 bytes of data, but the file has 36"), std::string::npos) << msg;
  EXPECT_NE(error_of([&] { load_npy((dir / "missing.npy").string()); }).find("cannot open"), std::string::npos);
  write_bytes((dir / "x.npy").string(), "hello");
  EXPECT_NE(error_of([&] { load_npy((dir / "x.npy").string()); }).find("is not a .npy file"), std::string::npos);
}

TEST(Safetensors, RoundTripsTensorsAndMetadata) {
  TempDir tmp("st");
  const fs::path dir = tmp.path();
  Tensor w = Tensor::from_vector({2, 2}, {1, 2, 3, 4});
  Tensor n = Tensor::from_vector_i32({1}, {7});
  save_safetensors((dir / "m.safetensors").string(), {{"0.weight", &w}, {"n", &n}}, {{"spec", "ReLU"}});
  SafetensorsFile f = load_safetensors((dir / "m.safetensors").string());
  EXPECT_EQ(f.metadata.at("spec"), "ReLU");
  ASSERT_NE(f.find("0.weight"), nullptr);
  EXPECT_EQ(f.find("0.weight")->to_vector(), w.to_vector());
  EXPECT_EQ(f.find("n")->to_vector_i32(), std::vector<int32_t>({7}));
  // No temporary file is left behind.
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir)) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
}

TEST(Safetensors, FlippedTensorBytesAreReportedAsDamaged) {
  TempDir tmp("stdamage");
  const fs::path dir = tmp.path();
  Tensor w = Tensor::from_vector({4}, {1, 2, 3, 4});
  const fs::path p = dir / "m.safetensors";
  save_safetensors(p.string(), {{"w", &w}}, {});
  std::string bytes = testing::read_bytes(p.string());
  bytes[bytes.size() - 3] ^= 0x40;
  write_bytes(p.string(), bytes);
  const std::string msg = error_of([&] { load_safetensors(p.string()); });
  EXPECT_NE(msg.find("is damaged"), std::string::npos) << msg;
  write_bytes(p.string(), bytes.substr(0, bytes.size() - 8));
  const std::string trunc = error_of([&] { load_safetensors(p.string()); });
  EXPECT_NE(trunc.find("outside the"), std::string::npos) << trunc;
}

TEST(Safetensors, HugeHeaderLengthIsRejectedBeforeAllocation) {
  std::string bytes(8, '\xff');
  bytes += "{}";
  const std::string msg = error_of([&] {
    parse_safetensors(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "x.safetensors");
  });
  EXPECT_NE(msg.find("announces a header of"), std::string::npos) << msg;
}

}  // namespace
}  // namespace minicnn
