#pragma once
// What a checkpoint records besides the weights (tl_meta.json inside the TorchScript archive), and
// the resume state kept beside it (RUN/last.resume.pt): every parameter, the optimizer, the
// trainer's counters and history, and the RNG, in one file written atomically.
//
// Format versions: 1 (tl-train 0.1), 2 (adds split_digest). Newer readers read every older
// version; the recorded config is read leniently (see parse_config_leniently), so renaming a key
// never makes an old checkpoint unloadable.
#include <string>
#include <vector>

#include <torch/torch.h>

#include "tl/config.h"
#include "tl/model.h"

namespace tl {

constexpr int kCheckpointFormatVersion = 2;

struct CheckpointInfo {
  Config config;  // the resolved config the model was trained with
  std::vector<std::string> classes;
  int64_t input_size = 224;
  ResizeMode resize = ResizeMode::Stretch;
  Normalization normalize;
  int epoch = 0;
  int format_version = 1;
  std::string split_digest;  // of the run's split.json; "" before format 2
  Json meta;                 // the whole tl_meta.json
};

Json normalization_to_json(const Normalization& n);
Normalization normalization_from_json(const Json& j);

// tl_meta.json: format, format_version, classes, input_size, resize, normalization, head, freeze,
// config, epoch, metrics, split_digest.
Json checkpoint_meta(const Config& config, const std::vector<std::string>& classes, const TransferModel& model,
                     int epoch, const Json& metrics, const std::string& split_digest);

struct LoadedCheckpoint {
  TransferModel model;
  CheckpointInfo info;
};

// Loads a tl-train checkpoint onto `device` (ModelError naming the file for anything unusable:
// missing, not TorchScript, a backbone, a resume state, a newer format, a damaged record).
LoadedCheckpoint load_checkpoint(const std::string& path, const torch::Device& device);

void save_resume_state(const std::string& path, TransferModel& model, torch::optim::Optimizer& optimizer,
                       const Json& state);
// Restores parameters, optimizer state and the CPU RNG from a resume state's bytes (the file's
// content; data-parallel ranks get rank 0's by broadcast); returns the trainer state JSON. `path`
// names the file in messages.
Json load_resume_state(const std::string& bytes, const std::string& path, TransferModel& model,
                       torch::optim::Optimizer& optimizer);
// The trainer state JSON alone, restoring nothing (ModelError naming `path` when unreadable).
Json resume_state_json(const std::string& bytes, const std::string& path);
// The same from the file: a check, before a resumed run touches its directory, that it is readable.
Json read_resume_state(const std::string& path);

}  // namespace tl
