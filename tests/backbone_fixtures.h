#pragma once
// The committed tiny TorchScript backbones (tests/fixtures/backbones, written by
// scripts/make_test_fixtures.sh from torchvision's own classes): no test needs Python to get one.
#include <torch/script.h>

#include <mutex>
#include <string>

#include "test_util.h"

namespace tl::test {

inline std::string backbone_fixture(const std::string& name) {
  return (fs::path(TL_SOURCE_DIR) / "tests" / "fixtures" / "backbones" / (name + ".pt")).string();
}

// A random VGG: vgg16 or vgg19 conv layers at width / 16 (features only), or vgg16 at width / 64
// with its classifier. width_div 1: the vgg16 fixture with every convolution widened to full
// size (a TorchScript Conv2d's code does not depend on its width), for full-size counts.
inline std::string tiny_backbone(int width_div = 16, bool features_only = true, const std::string& arch = "vgg16") {
  if (!features_only) return backbone_fixture(arch + "_w64");
  if (width_div != 1) return backbone_fixture(arch + "_w16_features");
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  const fs::path out = fs::path(TL_FIXTURE_DIR) / "vgg16_full_width_features.pt";
  if (fs::exists(out)) return out.string();
  torch::jit::Module m = torch::jit::load(backbone_fixture("vgg16_w16_features"));
  torch::jit::Module features = m.attr("features").toModule();
  for (const auto& child : features.named_children()) {
    if (!child.value.hasattr("weight")) continue;
    torch::jit::Module conv = child.value;
    const auto w = conv.attr("weight").toTensor();
    const int64_t in = w.size(1) == 3 ? 3 : w.size(1) * 16;
    conv.register_parameter("weight", torch::randn({w.size(0) * 16, in, 3, 3}) * 0.01, false);
    conv.register_parameter("bias", torch::zeros({w.size(0) * 16}), false);
  }
  fs::create_directories(out.parent_path());
  const std::string tmp = out.string() + ".tmp" + std::to_string(::getpid());
  m.save(tmp);
  fs::rename(tmp, out);
  return out.string();
}

// A full-width random torchvision network (resnet50, efficientnet_b0, ...) for exact parameter
// counts: too large to commit, so exported once per build tree with Debian's torchvision.
inline std::string full_width_backbone(const std::string& arch) {
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  const fs::path out = fs::path(TL_FIXTURE_DIR) / (arch + "_full_width.pt");
  if (fs::exists(out)) return out.string();
  const std::string python = python_with_torch();
  EXPECT_FALSE(python.empty()) << "Debian's python3-torchvision is needed (scripts/install_deps.sh installs it)";
  const RunResult r = run_shell(python + " " TL_SOURCE_DIR "/scripts/export_backbone.py --weights random --arch " + arch +
                                " --out " + out.string());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return out.string();
}

}  // namespace tl::test
