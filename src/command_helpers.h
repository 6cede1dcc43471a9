#pragma once
// What the commands share: scoring a checkpoint on a list of samples, and running TorchScript
// for one-shot inference.
#include <string>
#include <vector>

#include <torch/torch.h>

#include "tl/checkpoint.h"
#include "tl/config.h"
#include "tl/dataset.h"
#include "tl/evaluate.h"
#include "tl/loader.h"

namespace tl {

// Loader options that preprocess exactly as the checkpoint's training did. `batch` 0: the
// training batch size.
LoaderOptions checkpoint_loader_options(const CheckpointInfo& info, int batch, const torch::Device& device);

// Scores `samples` with the checkpoint's model (eval mode, the training's label smoothing).
EvalResult score_checkpoint(LoadedCheckpoint& checkpoint, const std::vector<Sample>& samples, int batch,
                            const torch::Device& device);

// The config's model for a dataset of `num_classes` classes, seeded by train.seed; every
// model.unfreeze_at spec is checked now rather than at its epoch.
TransferModel build_model(const Config& config, int64_t num_classes);

// Every command runs the TorchScript modules with the plain executor, not the profiling one, whose
// first calls profile and optimise each graph (on a cold `predict` of one image this took ~55 ms of
// the first forward pass at 64 px; ~1.3 s of a 7 s ResNet-50 training run) and which found nothing
// to fuse on CPU: VGG16 epochs ran as fast without it.
void use_plain_jit_executor();

// Checks of the config against the dataset that train and check-data share, made before anything
// is written: a class_weights list of the wrong length, drop_last with fewer images than a batch.
void check_config_against_data(const Config& config, const DatasetIndex& data);

}  // namespace tl
