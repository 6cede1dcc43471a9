#pragma once
// In-process training for the trainer's tests: a tiny committed backbone, a small learnable
// dataset, a config from the schema's defaults, and a Trainer writing into a temporary run
// directory. No Python, no subprocess: one epoch takes well under a second.
#include <functional>
#include <memory>
#include <optional>

#include "backbone_fixtures.h"
#include "test_util.h"
#include "tl/config.h"
#include "tl/dataset.h"
#include "tl/model.h"
#include "tl/parallel.h"
#include "tl/run_dir.h"
#include "tl/run_outputs.h"
#include "tl/trainer.h"
#include "train_fixtures.h"

namespace tl::test {

// A config for the tiny VGG16 (width / 16) at 32 px on `data_root` (Food-11 layout), one thread.
inline Config tiny_config(const std::string& data_root, const std::string& out) {
  Config c = default_config();
  c.name = "tiny";
  c.threads = 1;
  c.data.root = data_root;
  c.data.layout = Layout::Food11;
  c.data.workers = 1;
  c.model.backbone = backbone_fixture("vgg16_w16_features");
  c.model.input_size = 32;
  c.model.head.hidden = {16};
  c.model.head.dropout = {0.0, 0.0};
  c.train.epochs = 3;
  c.train.batch_size = 8;
  c.train.seed = 3;
  c.train.out = out;
  c.train.eval_test = false;
  return c;
}

// One training run in this process. Change `config` before the first call of trainer().
struct InProcessRun {
  TempDir dir;
  Config config;
  std::optional<DatasetIndex> data;
  std::optional<TransferModel> model;
  std::unique_ptr<RunDirectory> run;
  std::unique_ptr<RunOutputs> outputs;
  Parallel alone;
  std::unique_ptr<Trainer> trainer_;

  explicit InProcessRun(int classes = 3, int train_per_class = 9, int val_per_class = 3) {
    write_food11_dataset(dir.path() / "data", classes, train_per_class, val_per_class, 0);
    config = tiny_config(dir.str("data"), dir.str("run"));
  }

  Trainer& trainer(StopCheck stop = [](int, int64_t) { return 0; }) {
    if (!data) data = scan_dataset(config.data);
    torch::manual_seed(config.train.seed);
    model = TransferModel::create(config.model, static_cast<int64_t>(data->classes.size()), config.train.seed);
    run = std::make_unique<RunDirectory>(config.train.out);
    run->prepare(RunStart::Resume);
    outputs = std::make_unique<RunOutputs>(*run, true);
    trainer_ =
        std::make_unique<Trainer>(TrainerSetup{config, *data, *model, torch::kCPU, *outputs, alone, stop, "digest"});
    return *trainer_;
  }

  FitResult fit(bool resume = false) { return trainer().fit(resume); }

  // Every parameter, copied.
  std::vector<torch::Tensor> weights() {
    std::vector<torch::Tensor> out;
    for (const auto& p : model->all_parameters()) out.push_back(p.detach().clone());
    return out;
  }
};

inline double max_difference(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  double most = 0;
  for (size_t i = 0; i < a.size(); ++i) most = std::max(most, (a[i] - b[i]).abs().max().item<double>());
  return most;
}

}  // namespace tl::test
