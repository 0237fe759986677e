// .npy and .safetensors: round trips, atomic writes, and clear errors for truncated or damaged files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <minicnn/check.h>
#include <minicnn/npy.h>
#include <minicnn/safetensors.h>
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

// The rule of every command that computes on .npy values: float32 as is, other numbers converted exactly.
TEST(Npy, ValuesAreFloat32FromEveryAcceptedDtype) {
  TempDir tmp("npyvalues");
  auto values = [&](const std::string& descr, const void* bytes, size_t size, size_t count) {
    const std::string path = tmp / "v.npy";
    write_bytes(path, testing::npy_file(descr, "(" + std::to_string(count) + ",)", bytes, size));
    const Tensor t = load_npy_values(path);
    EXPECT_EQ(t.dtype(), DType::Float32) << descr;
    return t.to_vector();
  };
  const float f4[] = {0.5f, -3.0f};
  const double f8[] = {0.1, -1e30};
  const uint8_t u1[] = {0, 255};
  const int32_t i4[] = {-16777216, 7};
  const int64_t i8[] = {16777216, -5};
  EXPECT_EQ(values("<f4", f4, sizeof f4, 2), std::vector<float>({0.5f, -3.0f}));
  EXPECT_EQ(values("<f8", f8, sizeof f8, 2), std::vector<float>({0.1f, -1e30f}));
  EXPECT_EQ(values("|u1", u1, sizeof u1, 2), std::vector<float>({0, 255}));
  EXPECT_EQ(values("<i4", i4, sizeof i4, 2), std::vector<float>({-16777216.0f, 7}));
  EXPECT_EQ(values("<i8", i8, sizeof i8, 2), std::vector<float>({16777216.0f, -5}));
}

TEST(Npy, ValuesRefuseWhatFloat32CannotHoldNamingFileDtypeAndValue) {
  TempDir tmp("npyvaluesbad");
  const std::string path = tmp / "v.npy";
  auto error = [&](const std::string& descr, const void* bytes, size_t size, size_t count) {
    write_bytes(path, testing::npy_file(descr, "(" + std::to_string(count) + ",)", bytes, size));
    return error_of([&] { load_npy_values(path); });
  };
  const int64_t i8[] = {3, 16777217};
  EXPECT_EQ(
      error("<i8", i8, sizeof i8, 2),
      "npy: '" + path +
          "' holds the int64 value 16777217 at flat index 1, but float32 holds integers exactly only up "
          "to 2^24 = 16777216 in magnitude; convert the array to float32 yourself if rounding is "
          "acceptable");
  const int32_t i4[] = {-16777217};
  EXPECT_TRUE(
      testing::contains(error("<i4", i4, sizeof i4, 1), "holds the int32 value -16777217 at flat index 0"));
  const double f8[] = {1e39};
  EXPECT_EQ(error("<f8", f8, sizeof f8, 1),
            "npy: '" + path +
                "' holds the float64 value 1e+39 at flat index 0, beyond float32's range (largest "
                "3.4028235e+38)");
  const int16_t i2[] = {1};
  EXPECT_EQ(error("<i2", i2, sizeof i2, 1),
            "npy: '" + path +
                "' has dtype '<i2'; expected float32 ('<f4'), float64 ('<f8'), int32 ('<i4'), int64 "
                "('<i8') or uint8 ('|u1')");
  // Index files keep their integers: the same int64 file read by load_npy is an int32 tensor.
  write_bytes(path, testing::npy_file("<i8", "(2,)", i8, sizeof i8));
  EXPECT_EQ(load_npy(path).to_vector_i32(), std::vector<int32_t>({3, 16777217}));
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
