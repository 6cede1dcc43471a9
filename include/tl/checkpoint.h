#pragma once
// What a checkpoint records besides the weights (tl_meta.json inside the TorchScript archive), and
// the resume state kept beside it (RUN/last.resume.pt): every parameter, the optimizer, the
// trainer's counters and history, and the RNG, in one file written atomically.
#include <string>
#include <vector>

#include <torch/torch.h>

#include "tl/config.h"
#include "tl/model.h"

namespace tl {

struct CheckpointInfo {
  Config config;                     // the resolved config the model was trained with
  std::vector<std::string> classes;
  int64_t input_size = 224;
  std::string resize = "stretch";
  Normalization normalize;
  int epoch = 0;
  Json meta;                         // the whole tl_meta.json
};

Json normalization_to_json(const Normalization& n);
Normalization normalization_from_json(const Json& j);

// tl_meta.json: format, classes, input_size, resize, normalization, head, freeze, config, epoch, metrics.
Json checkpoint_meta(const Config& config, const std::vector<std::string>& classes, const TransferModel& model,
                     int epoch, const Json& metrics);

struct LoadedCheckpoint {
  TransferModel model;
  CheckpointInfo info;
};

// Loads a tl-train checkpoint onto `device` (ModelError naming the file for anything unusable).
LoadedCheckpoint load_checkpoint(const std::string& path, const torch::Device& device);

void save_resume_state(const std::string& path, TransferModel& model, torch::optim::Optimizer& optimizer,
                       const Json& state);
// Restores parameters, optimizer state and the CPU RNG; returns the trainer state JSON.
Json load_resume_state(const std::string& path, TransferModel& model, torch::optim::Optimizer& optimizer);
// The trainer state JSON alone, restoring nothing: a check that the file is readable (ModelError
// naming it otherwise) before a resumed run touches its directory.
Json read_resume_state(const std::string& path);

}  // namespace tl
