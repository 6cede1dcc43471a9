#include "command_helpers.h"

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

void use_plain_jit_executor() { torch::jit::setGraphExecutorOptimize(false); }

}  // namespace tl
