// The fp16 loss scaler's arithmetic, on CPU (the same code runs on CUDA): it follows
// torch.cuda.amp.GradScaler's defaults (initial scale 2^16, halve on overflow, double after 2000
// clean steps), and does nothing when disabled.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <limits>

#include "tl/amp.h"

namespace {

torch::Tensor parameter_with_grad(float value) {
  torch::Tensor p = torch::zeros({2}, torch::requires_grad());
  p.mutable_grad() = torch::full({2}, value);
  return p;
}

TEST(LossScaler, ScalesTheLossAndReportsTheFactor) {
  tl::LossScaler scaler(true);
  EXPECT_EQ(scaler.value(), 65536.0);
  EXPECT_FLOAT_EQ(scaler.scale(torch::tensor(0.5f)).item<float>(), 32768.0f);
}

TEST(LossScaler, HalvesOnOverflowAndDoublesAfter2000CleanSteps) {
  tl::LossScaler scaler(true);
  EXPECT_TRUE(scaler.gradients_finite({parameter_with_grad(1.0f)}));
  EXPECT_FALSE(scaler.gradients_finite({parameter_with_grad(1.0f), parameter_with_grad(INFINITY)}));
  EXPECT_FALSE(scaler.gradients_finite({parameter_with_grad(std::numeric_limits<float>::quiet_NaN())}));
  scaler.update(false);
  EXPECT_EQ(scaler.value(), 32768.0);
  for (int i = 0; i < 1999; ++i) scaler.update(true);
  EXPECT_EQ(scaler.value(), 32768.0);
  scaler.update(true);  // the 2000th clean step in a row
  EXPECT_EQ(scaler.value(), 65536.0);
  for (int i = 0; i < 1000; ++i) scaler.update(true);
  scaler.update(false);  // an overflow restarts the count
  for (int i = 0; i < 1999; ++i) scaler.update(true);
  EXPECT_EQ(scaler.value(), 32768.0);
}

TEST(LossScaler, DisabledLeavesEverythingAlone) {
  tl::LossScaler scaler(torch::Device(torch::kCPU), tl::Amp::Fp16);  // fp16 only scales on CUDA
  EXPECT_FALSE(scaler.enabled());
  EXPECT_EQ(scaler.value(), 1.0);
  EXPECT_FLOAT_EQ(scaler.scale(torch::tensor(0.5f)).item<float>(), 0.5f);
  EXPECT_TRUE(scaler.gradients_finite({parameter_with_grad(INFINITY)}));
  scaler.update(false);
  EXPECT_EQ(scaler.value(), 1.0);
}

}  // namespace
