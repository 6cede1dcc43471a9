// tl-train predict: the top-k classes of images and folders of images, preprocessed exactly as the
// checkpoint's training did. A file that cannot be classified is named on stderr; the rest go on.
#include <iomanip>
#include <iostream>

#include "command_helpers.h"
#include "tl/checkpoint.h"
#include "tl/commands.h"
#include "tl/device.h"
#include "tl/errors.h"
#include "tl/image.h"
#include "tl/logging.h"

namespace tl {
namespace {

// Every image named by the inputs (folders searched recursively); an input without one is a failure.
std::vector<std::string> input_files(const std::vector<std::string>& inputs, int& failures) {
  std::vector<std::string> files;
  for (const auto& input : inputs) {
    try {
      const std::vector<std::string> found = list_images(input);
      if (found.empty())
        throw DataError("'" + printable(input) + "' holds no image files (jpg, jpeg, png, bmp, webp, tif, tiff)");
      files.insert(files.end(), found.begin(), found.end());
    } catch (const Error& e) {
      std::cerr << "tl-train: error: " << e.what() << "\n";
      ++failures;
    }
  }
  return files;
}

void print_prediction(const std::string& path, const torch::Tensor& top_p, const torch::Tensor& top_i,
                      const std::vector<std::string>& classes, bool json) {
  const int64_t k = top_p.size(0);
  if (json) {
    Json top = Json::array();
    for (int64_t j = 0; j < k; ++j) {
      const int64_t index = top_i[j].item<int64_t>();
      top.push_back({{"label", classes[size_t(index)]}, {"index", index}, {"prob", top_p[j].item<double>()}});
    }
    std::cout << dump_json(Json{{"path", path}, {"top", top}}) << "\n";
    return;
  }
  std::cout << printable(path) << "\n";
  for (int64_t j = 0; j < k; ++j)
    std::cout << "  " << std::fixed << std::setprecision(4) << top_p[j].item<double>() << "  "
              << printable(classes[size_t(top_i[j].item<int64_t>())]) << "\n";
}

}  // namespace

int run_predict(const CliOptions& o) {
  init_logging(/*to_stderr=*/true, o.quiet);
  use_plain_jit_executor();
  LoadedCheckpoint ckpt = load_checkpoint(o.checkpoint, torch::kCPU);
  const torch::Device device = resolve_device(o.device.empty() ? ckpt.info.config.device : o.device);
  configure_threads(ckpt.info.config.threads);
  ckpt.model.to(device);
  ckpt.model.train(false);
  const CheckpointInfo& info = ckpt.info;

  int failures = 0;
  const std::vector<std::string> files = input_files(o.inputs, failures);
  const size_t batch_size = o.batch > 0 ? static_cast<size_t>(o.batch) : 16;
  const int64_t k = std::min<int64_t>(o.top_k, static_cast<int64_t>(info.classes.size()));
  const int64_t s = info.input_size;
  torch::NoGradGuard no_grad;
  for (size_t begin = 0; begin < files.size(); begin += batch_size) {
    const size_t end = std::min(files.size(), begin + batch_size);
    std::vector<std::string> paths;
    torch::Tensor images = torch::empty({static_cast<int64_t>(end - begin), 3, s, s});
    for (size_t i = begin; i < end; ++i) {
      try {
        const cv::Mat rgb =
            load_image(files[i], s, info.resize, info.config.data.max_pixels, info.config.data.interpolation);
        write_normalized(rgb, info.normalize, images[static_cast<int64_t>(paths.size())].data_ptr<float>());
        paths.push_back(files[i]);
      } catch (const std::exception& e) {
        std::cerr << "tl-train: error: " << printable(files[i]) << ": " << e.what() << "\n";
        ++failures;
      }
    }
    if (paths.empty()) continue;
    const torch::Tensor x = images.narrow(0, 0, static_cast<int64_t>(paths.size())).to(device);
    torch::Tensor probs = torch::softmax(ckpt.model.forward(x), 1);
    if (o.tta == "flip") probs = (probs + torch::softmax(ckpt.model.forward(x.flip({3})), 1)) / 2;
    const auto [top_p, top_i] = probs.cpu().topk(k, 1);
    for (size_t i = 0; i < paths.size(); ++i)
      print_prediction(paths[i], top_p[int64_t(i)], top_i[int64_t(i)], info.classes, o.json);
    std::cout.flush();
  }
  if (failures) std::cerr << "tl-train: " << failures << " input(s) could not be classified\n";
  return failures ? kExitPredict : kExitOk;
}

}  // namespace tl
