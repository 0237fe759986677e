// PyTorch parity for pooling: replays every case of tests/golden/pool/manifest.json (made by
// tests/golden/make_golden.py), one test per case. Max pooling values and indices must match exactly.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <minicnn/npy.h>
#include <minicnn/pool2d.h>
#include "test_util.h"

namespace minicnn {
namespace {

using testing::close_values;
using testing::same_values;

const std::string kPoolDir = std::string(MINICNN_SOURCE_DIR) + "/tests/golden/pool/";

// The manifest, read once; null when the file is missing (reported by PoolGoldenManifest).
const nlohmann::json& manifest() {
  static const nlohmann::json m = [] {
    std::ifstream in(kPoolDir + "manifest.json");
    return in ? nlohmann::json::parse(in) : nlohmann::json();
  }();
  return m;
}

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  if (manifest().is_null()) return names;
  for (const auto& c : manifest()["cases"]) names.push_back(c["name"].get<std::string>());
  return names;
}

const nlohmann::json* find_case(const std::string& name) {
  for (const auto& c : manifest()["cases"]) {
    if (c["name"] == name) return &c;
  }
  return nullptr;
}

// ---- Options from the manifest (torch's keyword names; an int means both sides, null means unset).

bool has(const nlohmann::json& o, const char* key) { return o.contains(key) && !o[key].is_null(); }

IntPair pair_of(const nlohmann::json& v) {
  if (v.is_array()) return IntPair(v.at(0).get<int64_t>(), v.at(1).get<int64_t>());
  return IntPair(v.get<int64_t>());
}

AdaptiveSize adaptive_size_of(const nlohmann::json& v) {
  auto one = [](const nlohmann::json& s) { return s.is_null() ? int64_t{-1} : s.get<int64_t>(); };
  if (v.is_array()) return {one(v.at(0)), one(v.at(1))};
  return {one(v), one(v)};
}

MaxPool2dOptions max_options(const nlohmann::json& o) {
  MaxPool2dOptions opt(pair_of(o.at("kernel_size")));
  if (has(o, "stride")) opt.stride(pair_of(o["stride"]));
  if (has(o, "padding")) opt.padding(pair_of(o["padding"]));
  if (has(o, "dilation")) opt.dilation(pair_of(o["dilation"]));
  if (has(o, "ceil_mode")) opt.ceil_mode(o["ceil_mode"].get<bool>());
  return opt;
}

AvgPool2dOptions avg_options(const nlohmann::json& o) {
  AvgPool2dOptions opt(pair_of(o.at("kernel_size")));
  if (has(o, "stride")) opt.stride(pair_of(o["stride"]));
  if (has(o, "padding")) opt.padding(pair_of(o["padding"]));
  if (has(o, "ceil_mode")) opt.ceil_mode(o["ceil_mode"].get<bool>());
  if (has(o, "count_include_pad")) opt.count_include_pad(o["count_include_pad"].get<bool>());
  if (has(o, "divisor_override")) opt.divisor_override(o["divisor_override"].get<int64_t>());
  return opt;
}

MaxUnpool2dOptions unpool_options(const nlohmann::json& o) {
  MaxUnpool2dOptions opt(pair_of(o.at("kernel_size")));
  if (has(o, "stride")) opt.stride(pair_of(o["stride"]));
  if (has(o, "padding")) opt.padding(pair_of(o["padding"]));
  return opt;
}

// ---- The suite.

TEST(PoolGoldenManifest, ListsAtLeastFortyCasesMadeByTorch) {
  ASSERT_FALSE(manifest().is_null()) << "missing " << kPoolDir
                                     << "manifest.json; run /usr/bin/python3 tests/golden/make_golden.py";
  EXPECT_FALSE(manifest()["torch_version"].get<std::string>().empty());
  EXPECT_GE(manifest()["cases"].size(), 40u);
}

class PoolGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(PoolGolden, MatchesTorch) {
  const nlohmann::json* found = find_case(GetParam());
  ASSERT_NE(found, nullptr) << GetParam();
  const nlohmann::json& c = *found;
  const std::string name = c["name"].get<std::string>(), op = c["op"].get<std::string>();
  const nlohmann::json& o = c["options"];
  auto file = [&](const char* key) { return load_npy(kPoolDir + c["files"][key].get<std::string>()); };
  const std::string at = name + " (" + op + ")";
  const Tensor x = file("x"), y_ref = file("y"), dy = file("dy"), dx_ref = file("dx");
  // Indices are int32 (half of torch's bytes), equal to torch's int64 ones as read from the file.
  auto expect_indices = [&](const Tensor& idx) {
    EXPECT_EQ(idx.dtype(), DType::Int32) << at << " indices";
    EXPECT_TRUE(same_values(idx, file("indices"))) << at << " indices";
  };

  if (op == "MaxPool2d") {
    MaxPool2d pool(max_options(o));
    auto [y, idx] = pool.forward_with_indices(x);
    EXPECT_TRUE(same_values(y, y_ref)) << at << " output";
    expect_indices(idx);
    EXPECT_TRUE(close_values(pool.backward(dy), dx_ref, {.abs = 1e-6})) << at << " grad input";
  } else if (op == "AvgPool2d") {
    AvgPool2d pool(avg_options(o));
    EXPECT_TRUE(close_values(pool.forward(x, Mode::Train), y_ref, {.abs = 1e-6})) << at << " output";
    EXPECT_TRUE(close_values(pool.backward(dy), dx_ref, {.abs = 1e-6})) << at << " grad input";
  } else if (op == "AdaptiveAvgPool2d") {
    AdaptiveAvgPool2d pool(adaptive_size_of(o.at("output_size")));
    EXPECT_TRUE(close_values(pool.forward(x, Mode::Train), y_ref, {.abs = 1e-6})) << at << " output";
    EXPECT_TRUE(close_values(pool.backward(dy), dx_ref, {.abs = 1e-6})) << at << " grad input";
  } else if (op == "AdaptiveMaxPool2d") {
    AdaptiveMaxPool2d pool(adaptive_size_of(o.at("output_size")));
    EXPECT_TRUE(same_values(pool.forward(x, Mode::Train), y_ref)) << at << " output";
    expect_indices(pool.indices());
    EXPECT_TRUE(close_values(pool.backward(dy), dx_ref, {.abs = 1e-6})) << at << " grad input";
  } else if (op == "MaxUnpool2d") {
    MaxUnpool2d unpool(unpool_options(o));
    std::optional<IntPair> size;
    if (has(o, "output_size")) size = pair_of(o["output_size"]);
    EXPECT_TRUE(same_values(unpool.forward(x, file("indices"), size), y_ref)) << at << " output";
    EXPECT_TRUE(same_values(unpool.backward(dy), dx_ref)) << at << " grad input";
  } else {
    FAIL() << at << ": unknown op in the manifest";
  }
}

INSTANTIATE_TEST_SUITE_P(Torch, PoolGolden, ::testing::ValuesIn(case_names()),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(PoolGolden);

}  // namespace
}  // namespace minicnn
