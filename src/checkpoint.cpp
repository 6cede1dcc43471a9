#include "tl/checkpoint.h"

#include "tl/errors.h"
#include "tl/files.h"

namespace tl {

namespace {
constexpr const char* kFormat = "tl-train-checkpoint";
constexpr int kFormatVersion = 1;
}  // namespace

Json normalization_to_json(const Normalization& n) {
  return Json{{"channel_order", n.channel_order}, {"scale", n.scale}, {"mean", n.mean}, {"std", n.std}};
}

Normalization normalization_from_json(const Json& j) {
  Normalization n;
  n.channel_order = j.at("channel_order").get<std::string>();
  n.scale = j.at("scale").get<double>();
  n.mean = j.at("mean").get<std::array<double, 3>>();
  n.std = j.at("std").get<std::array<double, 3>>();
  return n;
}

Json checkpoint_meta(const Config& config, const std::vector<std::string>& classes, const TransferModel& model,
                     int epoch, const Json& metrics) {
  return Json{{"format", kFormat},
              {"format_version", kFormatVersion},
              {"tl_train_version", TL_VERSION},
              {"classes", classes},
              {"input_size", config.model.input_size},
              {"resize", config.data.resize},
              {"normalization", normalization_to_json(config.data.normalize)},
              {"head", model.head_spec()},
              {"freeze", model.freeze_spec()},
              {"epoch", epoch},
              {"metrics", metrics},
              {"config", config.resolved}};
}

LoadedCheckpoint load_checkpoint(const std::string& path, const torch::Device& device) {
  std::string meta_text;
  torch::jit::Module module = load_torchscript(path, device, "tl_meta.json", &meta_text);
  if (meta_text.empty())
    throw ModelError(path + ": is a backbone, not a tl-train checkpoint (no tl_meta.json inside); train one with 'tl-train train' first");
  try {
    Json meta = Json::parse(meta_text);
    if (meta.value("format", "") != kFormat) throw ModelError(path + ": tl_meta.json is not a tl-train checkpoint record");
    CheckpointInfo info;
    info.config = parse_config(meta.at("config"), path + " (recorded config)");
    info.classes = meta.at("classes").get<std::vector<std::string>>();
    info.input_size = meta.at("input_size").get<int64_t>();
    info.resize = meta.at("resize").get<std::string>();
    info.normalize = normalization_from_json(meta.at("normalization"));
    info.epoch = meta.value("epoch", 0);
    info.meta = meta;
    TransferModel model = TransferModel::from_checkpoint(std::move(module), meta);
    return {std::move(model), std::move(info)};
  } catch (const Json::exception& e) {
    throw ModelError(path + ": damaged tl_meta.json (" + std::string(e.what()) + ")");
  }
}

void save_resume_state(const std::string& path, TransferModel& model, torch::optim::Optimizer& optimizer,
                       const Json& state) {
  torch::serialize::OutputArchive archive;
  archive.write("state", c10::IValue(state.dump()));
  auto params = model.all_parameters();
  for (size_t i = 0; i < params.size(); ++i) archive.write("param_" + std::to_string(i), params[i].detach().cpu());
  torch::serialize::OutputArchive optimizer_archive;
  optimizer.save(optimizer_archive);
  archive.write("optimizer", optimizer_archive);
  archive.write("rng", at::detail::getDefaultCPUGenerator().get_state());
  write_stream_atomic(path, [&](std::ostream& out) { archive.save_to(out); });
}

namespace {
ModelError unreadable_resume_state(const std::string& path, const c10::Error& e) {
  const std::string what = e.msg();
  return ModelError(path + ": cannot read the resume state (" + what.substr(0, what.find('\n')) +
                    "); start afresh with --overwrite");
}
}  // namespace

Json read_resume_state(const std::string& path) {
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    c10::IValue state;
    archive.read("state", state);
    return Json::parse(state.toStringRef());
  } catch (const c10::Error& e) {
    throw unreadable_resume_state(path, e);
  } catch (const Json::exception& e) {
    throw ModelError(path + ": damaged resume state (" + std::string(e.what()) + "); start afresh with --overwrite");
  }
}

Json load_resume_state(const std::string& path, TransferModel& model, torch::optim::Optimizer& optimizer) {
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path, model.device());
    c10::IValue state;
    archive.read("state", state);
    auto params = model.all_parameters();
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < params.size(); ++i) {
      torch::Tensor saved;
      archive.read("param_" + std::to_string(i), saved);
      if (!saved.sizes().equals(params[i].sizes()))
        throw ModelError(path + ": parameter " + std::to_string(i) + " has another shape; the run's config changed since it was saved");
      params[i].copy_(saved);
    }
    torch::serialize::InputArchive optimizer_archive;
    archive.read("optimizer", optimizer_archive);
    optimizer.load(optimizer_archive);
    torch::Tensor rng;
    archive.read("rng", rng);
    at::Generator generator = at::detail::getDefaultCPUGenerator();
    generator.set_state(rng.cpu());
    return Json::parse(state.toStringRef());
  } catch (const c10::Error& e) {
    throw unreadable_resume_state(path, e);
  }
}

}  // namespace tl
