// tl-train predict: the top-k classes of images and folders of images, preprocessed exactly as the
// checkpoint's training did. A file that cannot be classified is named on stderr; the rest go on.
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <optional>
#include <set>

#include <opencv2/imgcodecs.hpp>

#include "command_helpers.h"
#include "tl/checkpoint.h"
#include "tl/commands.h"
#include "tl/device.h"
#include "tl/errors.h"
#include "tl/files.h"
#include "tl/grad_cam.h"
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

// --explain: the Grad-CAM overlays, one PNG per image named after it (made unique in the folder).
class Explainer {
 public:
  Explainer(std::string dir, std::string layer, const CheckpointInfo& info)
      : dir_(std::move(dir)), layer_(std::move(layer)), info_(info) {}
  const std::string& layer() const { return layer_; }

  // Writes the overlay of `map` on the image at `path`; returns {"png", "peak": [x, y] or null}.
  Json write(const std::string& path, const torch::Tensor& map) {
    const cv::Mat original = decode_image(path, info_.config.data.max_pixels);
    const CamOverlay overlay = cam_overlay(original, map, info_.resize);
    std::vector<unsigned char> png;
    cv::imencode(".png", overlay.bgr, png);
    const std::string out = unique_name(std::filesystem::path(path).stem().string());
    write_file_atomic(out, png);
    Json cam{{"png", out}, {"peak", nullptr}};
    if (overlay.peak) cam["peak"] = {overlay.peak->x, overlay.peak->y};
    return cam;
  }

 private:
  std::string unique_name(const std::string& stem) {
    std::string name = stem + "_cam.png";
    for (int n = 2; !used_.insert(name).second; ++n) name = stem + "_" + std::to_string(n) + "_cam.png";
    return (std::filesystem::path(dir_) / name).string();
  }
  std::string dir_, layer_;
  const CheckpointInfo& info_;
  std::set<std::string> used_;
};

void print_prediction(const std::string& path, const torch::Tensor& top_p, const torch::Tensor& top_i,
                      const std::vector<std::string>& classes, bool json, const Json& cam) {
  const int64_t k = top_p.size(0);
  if (json) {
    Json top = Json::array();
    for (int64_t j = 0; j < k; ++j) {
      const int64_t index = top_i[j].item<int64_t>();
      top.push_back({{"label", classes[size_t(index)]}, {"index", index}, {"prob", top_p[j].item<double>()}});
    }
    Json line{{"path", path}, {"top", top}};
    if (!cam.is_null()) line["cam"] = cam;
    std::cout << dump_json(line) << "\n";
    return;
  }
  std::cout << printable(path) << "\n";
  for (int64_t j = 0; j < k; ++j)
    std::cout << "  " << std::fixed << std::setprecision(4) << top_p[j].item<double>() << "  "
              << printable(classes[size_t(top_i[j].item<int64_t>())]) << "\n";
  if (cam.is_null()) return;
  std::cout << "  Grad-CAM: " << printable(cam["png"].get<std::string>());
  if (cam["peak"].is_null())
    std::cout << " (no positive evidence at this layer)\n";
  else
    std::cout << " (peak at x " << cam["peak"][0] << ", y " << cam["peak"][1] << ")\n";
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
  std::optional<Explainer> explainer;
  if (!o.explain_dir.empty()) {
    const std::string layer = o.explain_layer.empty() ? ckpt.model.default_explain_layer() : o.explain_layer;
    ckpt.model.explain_stage(layer);  // an unknown name fails before any work
    create_output_folder(o.explain_dir, "--explain");
    explainer.emplace(o.explain_dir, layer, info);
  }
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
    torch::Tensor probs;
    {
      torch::NoGradGuard no_grad;
      probs = torch::softmax(ckpt.model.forward(x), 1);
      if (o.tta == "flip") probs = (probs + torch::softmax(ckpt.model.forward(x.flip({3})), 1)) / 2;
    }
    const auto [top_p, top_i] = probs.cpu().topk(k, 1);
    torch::Tensor maps;
    if (explainer) maps = grad_cam(ckpt.model, x, explainer->layer(), top_i.select(1, 0));
    for (size_t i = 0; i < paths.size(); ++i) {
      Json cam;
      try {
        if (explainer) cam = explainer->write(paths[i], maps[int64_t(i)]);
      } catch (const std::exception& e) {
        std::cerr << "tl-train: error: " << printable(paths[i]) << ": no Grad-CAM overlay: " << e.what() << "\n";
        ++failures;
      }
      print_prediction(paths[i], top_p[int64_t(i)], top_i[int64_t(i)], info.classes, o.json, cam);
    }
    std::cout.flush();
  }
  if (failures) std::cerr << "tl-train: " << failures << " input(s) could not be classified\n";
  return failures ? kExitPredict : kExitOk;
}

}  // namespace tl
