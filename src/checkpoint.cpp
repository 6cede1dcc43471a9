#include "tl/checkpoint.h"

#include <spdlog/spdlog.h>

#include "tl/errors.h"
#include "tl/files.h"

namespace tl {

namespace {
constexpr const char* kFormat = "tl-train-checkpoint";
constexpr const char* kCheckpointHint = "pass a checkpoint written by 'tl-train train' (RUN/best.pt or RUN/last.pt)";

ModelError unreadable_resume_state(const std::string& path, const std::string& why) {
  return ModelError(path + ": cannot read the resume state (" + why.substr(0, why.find('\n')) +
                    "); start afresh with --overwrite");
}

CheckpointInfo info_from_meta(const Json& meta, const std::string& path) {
  CheckpointInfo info;
  info.format_version = meta.value("format_version", 1);
  if (info.format_version > kCheckpointFormatVersion)
    throw ModelError(path + ": written by a newer tl-train (checkpoint format " + std::to_string(info.format_version) +
                     ", this one reads up to " + std::to_string(kCheckpointFormatVersion) + "); use that version");
  info.config = parse_config_leniently(meta.at("config"), path + " (recorded config)");
  info.classes = meta.at("classes").get<std::vector<std::string>>();
  info.input_size = meta.at("input_size").get<int64_t>();
  info.resize = parse_choice<ResizeMode>(meta.value("resize", "stretch")).value_or(ResizeMode::Stretch);
  info.normalize = normalization_from_json(meta.at("normalization"));
  info.epoch = meta.value("epoch", 0);
  info.split_digest = meta.value("split_digest", "");
  info.meta = meta;
  return info;
}

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
                     int epoch, const Json& metrics, const std::string& split_digest) {
  return Json{{"format", kFormat},
              {"format_version", kCheckpointFormatVersion},
              {"tl_train_version", TL_VERSION},
              {"classes", classes},
              {"input_size", config.model.input_size},
              {"resize", name_of(config.data.resize)},
              {"normalization", normalization_to_json(config.data.normalize)},
              {"head", model.head_spec()},
              {"freeze", model.freeze_spec()},
              {"epoch", epoch},
              {"metrics", metrics},
              {"split_digest", split_digest},
              {"config", config.resolved}};
}

LoadedCheckpoint load_checkpoint(const std::string& path, const torch::Device& device) {
  std::string meta_text;
  torch::jit::Module module = load_torchscript(path, device, kCheckpointHint, "tl_meta.json", &meta_text);
  if (meta_text.empty()) {
    if (module.hasattr("state") && module.hasattr("optimizer"))
      throw ModelError(path +
                       ": is a resume state (what --resume continues from), not a checkpoint; use best.pt or "
                       "last.pt of the same run");
    throw ModelError(path +
                     ": is a backbone, not a tl-train checkpoint (no tl_meta.json inside); train one with "
                     "'tl-train train' first");
  }
  try {
    const Json meta = parse_json(meta_text);
    if (meta.value("format", "") != kFormat)
      throw ModelError(path + ": tl_meta.json is not a tl-train checkpoint record");
    CheckpointInfo info = info_from_meta(meta, path);
    TransferModel model = TransferModel::from_checkpoint(std::move(module), meta);
    return {std::move(model), std::move(info)};
  } catch (const Json::exception& e) {
    throw ModelError(path + ": damaged tl_meta.json (" + std::string(e.what()) + ")");
  }
}

void save_resume_state(const std::string& path, TransferModel& model, torch::optim::Optimizer& optimizer,
                       const Json& state) {
  torch::serialize::OutputArchive archive;
  archive.write("state", c10::IValue(dump_json(state)));
  auto params = model.all_parameters();
  for (size_t i = 0; i < params.size(); ++i) archive.write("param_" + std::to_string(i), params[i].detach().cpu());
  const auto buffers = model.buffers();
  for (size_t b = 0; b < buffers.size(); ++b)
    archive.write("buffer_" + std::to_string(b), buffers[b].detach().cpu(), true);
  torch::serialize::OutputArchive optimizer_archive;
  optimizer.save(optimizer_archive);
  archive.write("optimizer", optimizer_archive);
  archive.write("rng", at::detail::getDefaultCPUGenerator().get_state());
  write_stream_atomic(path, [&](std::ostream& out) { archive.save_to(out); });
}

Json read_resume_state(const std::string& path) {
  std::string bytes;
  try {
    bytes = read_file(path);
  } catch (const IoError& e) {
    throw unreadable_resume_state(path, e.what());
  }
  return resume_state_json(bytes, path);
}

Json resume_state_json(const std::string& bytes, const std::string& path) {
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(bytes.data(), bytes.size());
    c10::IValue state;
    archive.read("state", state);
    return parse_json(state.toStringRef());
  } catch (const c10::Error& e) {
    throw unreadable_resume_state(path, e.msg());
  } catch (const Json::exception& e) {
    throw unreadable_resume_state(path, e.what());
  }
}

Json load_resume_state(const std::string& bytes, const std::string& path, TransferModel& model,
                       torch::optim::Optimizer& optimizer) {
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(bytes.data(), bytes.size(), model.device());
    c10::IValue state;
    archive.read("state", state);
    auto params = model.all_parameters();
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < params.size(); ++i) {
      torch::Tensor saved;
      archive.read("param_" + std::to_string(i), saved);
      if (!saved.sizes().equals(params[i].sizes()))
        throw ModelError(path + ": parameter " + std::to_string(i) +
                         " has another shape; the model changed since it was "
                         "saved (resume with the run's config or start afresh with --overwrite)");
      params[i].copy_(saved);
    }
    const auto buffers = model.buffers();
    for (size_t b = 0; b < buffers.size(); ++b) {
      torch::Tensor saved;
      if (!archive.try_read("buffer_" + std::to_string(b), saved, true)) break;  // states of format 1 have none
      if (saved.sizes().equals(buffers[b].sizes())) buffers[b].copy_(saved);
    }
    torch::serialize::InputArchive optimizer_archive;
    archive.read("optimizer", optimizer_archive);
    optimizer.load(optimizer_archive);
    torch::Tensor rng;
    archive.read("rng", rng);
    at::Generator generator = at::detail::getDefaultCPUGenerator();
    generator.set_state(rng.cpu());
    return parse_json(state.toStringRef());
  } catch (const c10::Error& e) {
    throw unreadable_resume_state(path, e.msg());
  } catch (const Json::exception& e) {
    throw unreadable_resume_state(path, e.what());
  }
}

}  // namespace tl
