// Tensor basics: shapes print like PyTorch's, views share storage, clones do not, dtypes are checked.
#include <gtest/gtest.h>

#include <limits>
#include <vector>

#include <minicnn/check.h>
#include <minicnn/tensor.h>

namespace minicnn {
namespace {

TEST(Shape, PrintsLikeAList) {
  EXPECT_EQ(Shape({2, 3, 7, 7}).str(), "[2, 3, 7, 7]");
  EXPECT_EQ(Shape().str(), "[]");
  EXPECT_EQ(Shape({2, 3, 7, 7}).numel(), 294);
  EXPECT_EQ(Shape({2, 3})[-1], 3);
}

TEST(Tensor, ZerosAreZero) {
  Tensor t = Tensor::zeros({3, 5});
  for (float v : t.to_vector()) EXPECT_EQ(v, 0.0f);
}

TEST(Tensor, ReshapeIsAViewAndCloneIsACopy) {
  Tensor t = Tensor::from_vector({2, 2}, {1, 2, 3, 4});
  Tensor v = t.reshape({4});
  Tensor c = t.clone();
  t.data()[0] = 9;
  EXPECT_EQ(v.data()[0], 9);
  EXPECT_EQ(c.data()[0], 1);
  EXPECT_TRUE(v.shares_storage_with(t));
  EXPECT_FALSE(c.shares_storage_with(t));
}

TEST(Tensor, ReshapeRejectsAnotherElementCount) {
  Tensor t = Tensor::zeros({2, 3});
  EXPECT_THROW(t.reshape({4}), Error);
}

TEST(Tensor, DTypeIsChecked) {
  Tensor idx = Tensor::zeros({2}, DType::Int32);
  EXPECT_THROW(idx.data(), Error);
  EXPECT_NO_THROW(idx.data_i32());
}

TEST(Tensor, CachingAllocatorReusesFreedBlocks) {
  const void* first;
  {
    Tensor a = Tensor::empty({1000});
    first = a.raw_data();
  }
  Tensor b = Tensor::empty({1000});
  EXPECT_EQ(b.raw_data(), first);
}

// Large enough (> 65536) that the CPU check runs its threaded pass.
TEST(Tensor, FirstNonFiniteNamesTheFirstTensorHoldingANaNOrAnInfinity) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  Tensor a = Tensor::full({100000}, 1e38f), b = Tensor::full({100000}, -2.0f), c = Tensor::zeros({3});
  const Tensor undefined;
  const std::vector<const Tensor*> all{&a, &undefined, &b, &c};
  EXPECT_EQ(first_non_finite(all), -1);
  EXPECT_EQ(first_non_finite({}), -1);
  c.data()[2] = nan;
  EXPECT_EQ(first_non_finite(all), 3);
  b.data()[99999] = -inf;
  EXPECT_EQ(first_non_finite(all), 2);
  a.data()[0] = inf;
  EXPECT_EQ(first_non_finite(all), 0);
  const Tensor indices = Tensor::zeros({2}, DType::Int32);
  EXPECT_THROW(first_non_finite({&indices}), Error);
}

TEST(Device, CudaWithoutCudaIsAClearError) {
  if (cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is present";
  try {
    Tensor::zeros({2}).to(Device::cuda());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("cuda:0 was asked for, but"), std::string::npos) << msg;
  }
}

TEST(Device, ParsesNames) {
  EXPECT_EQ(Device::parse("cpu"), Device::cpu());
  EXPECT_EQ(Device::parse("cuda"), Device::cuda(0));
  EXPECT_EQ(Device::parse("cuda:1"), Device::cuda(1));
  EXPECT_THROW(Device::parse("gpu"), Error);
}

}  // namespace
}  // namespace minicnn
