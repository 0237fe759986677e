// Optimizer updates against torch.optim's formulas worked by hand, and the learning-rate schedules.
#include <gtest/gtest.h>

#include <cmath>

#include <minicnn/adam.h>
#include <minicnn/check.h>
#include <minicnn/lr_scheduler.h>
#include <minicnn/sgd.h>

namespace minicnn {
namespace {

Parameter make_param(float value, float grad) {
  return Parameter{"weight", Tensor::from_vector({1}, {value}), Tensor::from_vector({1}, {grad})};
}

TEST(SGD, MomentumBufferStartsAsTheFirstGradient) {
  Parameter p = make_param(1.0f, 0.5f);
  SGD opt({&p}, SGDOptions(0.1).momentum(0.9).weight_decay(0.1));
  opt.step();  // d = 0.5 + 0.1*1 = 0.6; buf = 0.6; p = 1 - 0.06
  EXPECT_FLOAT_EQ(p.value.data()[0], 0.94f);
  opt.step();  // d = 0.5 + 0.094 = 0.594; buf = 0.9*0.6 + 0.594 = 1.134; p = 0.94 - 0.1134
  EXPECT_NEAR(p.value.data()[0], 0.8266f, 1e-6);
}

TEST(SGD, NesterovLooksAhead) {
  Parameter p = make_param(1.0f, 1.0f);
  SGD opt({&p}, SGDOptions(0.1).momentum(0.5).nesterov(true));
  opt.step();  // buf = 1; d = 1 + 0.5*1 = 1.5
  EXPECT_FLOAT_EQ(p.value.data()[0], 0.85f);
}

TEST(SGD, DampeningScalesNewGradientsAfterTheFirstStep) {
  Parameter p = make_param(0.0f, 1.0f);
  SGD opt({&p}, SGDOptions(1.0).momentum(0.5).dampening(0.5));
  opt.step();  // buf = 1 (no dampening on the first step)
  opt.step();  // buf = 0.5 + 0.5 = 1
  EXPECT_FLOAT_EQ(p.value.data()[0], -2.0f);
}

TEST(SGD, RejectsNesterovWithoutMomentum) {
  Parameter p = make_param(0.0f, 1.0f);
  EXPECT_THROW(SGD({&p}, SGDOptions(0.1).nesterov(true)), Error);
}

TEST(Adam, FirstStepMovesByLrTimesTheGradientsSign) {
  Parameter p = make_param(1.0f, -3.0f);
  Adam opt({&p}, AdamOptions(0.01));
  opt.step();
  EXPECT_NEAR(p.value.data()[0], 1.01f, 1e-6);
}

TEST(Adam, SecondStepUsesBiasCorrectedMoments) {
  Parameter p = make_param(0.0f, 1.0f);
  Adam opt({&p}, AdamOptions(0.1).weight_decay(0.5));
  opt.step();  // g = 1 + 0 = 1; p = -0.1
  p.grad.data()[0] = 2.0f;
  opt.step();  // g = 2 + 0.5*(-0.1) = 1.95
  const double m = 0.9 * 0.1 + 0.1 * 1.95, v = 0.999 * 0.001 + 0.001 * 1.95 * 1.95;
  const double expected = -0.1 - 0.1 / (1 - 0.81) * m / (std::sqrt(v) / std::sqrt(1 - 0.998001) + 1e-8);
  EXPECT_NEAR(p.value.data()[0], expected, 5e-6);  // float32 arithmetic
}

TEST(AdamW, DecaysWeightsDirectly) {
  Parameter p = make_param(2.0f, 0.0f);
  AdamW opt({&p}, AdamOptions(0.1).weight_decay(0.5));
  opt.step();  // p *= 1 - 0.05; the zero gradient moves nothing
  EXPECT_FLOAT_EQ(p.value.data()[0], 1.9f);
}

TEST(LRScheduler, StepAndCosineFollowTorch) {
  StepLR step(2, 0.5);
  EXPECT_DOUBLE_EQ(step.lr_at(0, 0.1), 0.1);
  EXPECT_DOUBLE_EQ(step.lr_at(1, 0.1), 0.1);
  EXPECT_DOUBLE_EQ(step.lr_at(2, 0.1), 0.05);
  EXPECT_DOUBLE_EQ(step.lr_at(5, 0.1), 0.025);
  CosineAnnealingLR cosine(4);
  EXPECT_DOUBLE_EQ(cosine.lr_at(0, 1.0), 1.0);
  EXPECT_NEAR(cosine.lr_at(2, 1.0), 0.5, 1e-12);
  EXPECT_NEAR(cosine.lr_at(4, 1.0), 0.0, 1e-12);
  // A second group's base rate follows the same curve (torch schedules every param_group).
  EXPECT_NEAR(cosine.lr_at(2, 64.0), 32.0, 1e-12);
}

}  // namespace
}  // namespace minicnn
