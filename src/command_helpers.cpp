#include "command_helpers.h"

#include "tl/errors.h"
#include "tl/training_loss.h"

#include <torch/csrc/jit/runtime/graph_executor.h>

namespace tl {

LoaderOptions checkpoint_loader_options(const CheckpointInfo& info, int batch, const torch::Device& device) {
  LoaderOptions o;
  o.batch_size = batch > 0 ? batch : info.config.train.batch_size;
  o.workers = info.config.data.workers;
  o.image_size = info.input_size;
  o.resize = info.resize;
  o.interpolation = info.config.data.interpolation;  // old checkpoints: area, what they were trained with
  o.max_pixels = info.config.data.max_pixels;
  o.normalize = info.normalize;
  o.pin_memory = device.is_cuda();
  return o;
}

EvalResult score_checkpoint(LoadedCheckpoint& checkpoint, const std::vector<Sample>& samples, int batch,
                            const torch::Device& device) {
  Loader loader(samples, checkpoint_loader_options(checkpoint.info, batch, device));
  loader.start_epoch(0);
  checkpoint.model.train(false);
  return evaluate([&] { return loader.next(); }, [&](const torch::Tensor& x) { return checkpoint.model.forward(x); },
                  checkpoint.info.classes, device, checkpoint.info.config.train.label_smoothing);
}

TransferModel build_model(const Config& config, int64_t num_classes) {
  torch::manual_seed(config.train.seed);
  TransferModel model = TransferModel::create(config.model, num_classes, config.train.seed);
  for (const auto& [epoch, spec] : config.model.unfreeze_at)  // every spec, now rather than at its epoch
    model.check_freeze(spec, "model.unfreeze_at." + std::to_string(epoch));
  return model;
}

void use_plain_jit_executor() { torch::jit::setGraphExecutorOptimize(false); }

void check_config_against_data(const Config& config, const DatasetIndex& data) {
  class_weight_tensor(config.train, data.train, data.classes.size());  // throws for a wrong list length
  if (config.data.drop_last && data.train.size() < size_t(config.train.batch_size))
    throw ConfigError("data.drop_last with train.batch_size " + std::to_string(config.train.batch_size) +
                      " drops all " + std::to_string(data.train.size()) +
                      " training images; lower train.batch_size or set data.drop_last to false");
}

}  // namespace tl
