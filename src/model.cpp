#include "tl/model.h"

#include <caffe2/serialize/inline_container.h>

#include <algorithm>
#include <filesystem>
#include <iomanip>
#include <sstream>

#include "tl/backbone_family.h"
#include "tl/errors.h"
#include "tl/files.h"
#include "tl/text_width.h"

namespace tl {
namespace {

constexpr double kVggDropout = 0.5;  // torchvision's classifier dropout between fc1, fc2 and the output

std::string export_hint(const std::string& path) {
  return "export one with: /usr/bin/python3 scripts/export_backbone.py --arch vgg16 --out " + path +
         " (add --weights random when offline)";
}

int64_t count_params(const std::vector<torch::Tensor>& params) {
  int64_t n = 0;
  for (const auto& p : params) n += p.numel();
  return n;
}

std::vector<torch::Tensor> module_params(const torch::jit::Module& m) {
  std::vector<torch::Tensor> out;
  for (const auto& p : m.parameters()) out.push_back(p);
  return out;
}

std::string number(double v) {
  std::ostringstream s;
  s << std::setprecision(17) << v;
  std::string text = s.str();
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

// Thousands separators, as Keras prints parameter counts.
std::string grouped(int64_t n) {
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

// Head "vgg" keeps the pretrained fc1 and fc2 (from the exported classifier, or from a tl-train
// checkpoint that had this head) and needs the backbone's avgpool.
void attach_vgg_classifier(torch::jit::Module& m, const torch::jit::Module& backbone, const std::string& path,
                           bool is_checkpoint) {
  torch::jit::Module classifier;
  if (backbone.hasattr("classifier")) classifier = backbone.attr("classifier").toModule();
  if (backbone.hasattr("classifier") && classifier.hasattr("0") && classifier.hasattr("3")) {
    m.register_module("fc1", classifier.attr("0").toModule());
    m.register_module("fc2", classifier.attr("3").toModule());
  } else if (backbone.hasattr("fc1") && backbone.hasattr("fc2")) {  // a tl-train checkpoint with a "vgg" head
    m.register_module("fc1", backbone.attr("fc1").toModule());
    m.register_module("fc2", backbone.attr("fc2").toModule());
  } else {
    throw ModelError(path + ": model.head.pool \"vgg\" needs the pretrained classifier (fc1 and fc2), but " +
                     (is_checkpoint                    ? "this checkpoint has none"
                      : backbone.hasattr("classifier") ? "its classifier has no layers 0 and 3"
                                                       : "this file was exported with --features-only") +
                     "; export the whole VGG, or use pool \"avg\", \"max\" or \"flatten\"");
  }
  if (!m.hasattr("avgpool")) throw ModelError(path + ": pool \"vgg\" needs the backbone's avgpool");
}

// The new dense layers head_w<i>/head_b<i>: Xavier/Glorot-uniform weights and zero biases, as Keras' Dense.
void add_head_parameters(torch::jit::Module& m, std::vector<int64_t> widths, int64_t num_classes, int64_t width) {
  widths.push_back(num_classes);
  for (size_t i = 0; i < widths.size(); ++i) {
    torch::Tensor w = torch::empty({widths[i], width});
    torch::nn::init::xavier_uniform_(w);
    torch::Tensor b = torch::zeros({widths[i]});
    m.register_parameter("head_w" + std::to_string(i), w.set_requires_grad(true), false);
    m.register_parameter("head_b" + std::to_string(i), b.set_requires_grad(true), false);
    width = widths[i];
  }
}

// VGG keeps its historical layout (`features`, `avgpool`, `fc1`, `fc2` at the top); every other
// family is held whole as `backbone`, so its parameters keep torchvision's names under one prefix.
void attach_backbone(torch::jit::Module& m, const torch::jit::Module& backbone, BackboneFamily family) {
  if (family != BackboneFamily::Vgg) return m.register_module("backbone", backbone);
  m.register_module("features", backbone.attr("features").toModule());
  if (backbone.hasattr("avgpool")) m.register_module("avgpool", backbone.attr("avgpool").toModule());
}

// A tl-train checkpoint carries its backbone whole as `backbone` (VGG: its `features` at the top).
BackboneFamily family_of_model(const torch::jit::Module& module, const std::string& path) {
  if (module.hasattr("backbone") && module.hasattr("head_w0"))
    return recognise_family(module.attr("backbone").toModule(), path);
  return recognise_family(module, path);
}

int64_t infer_head_width(TransferModel& model, int64_t input_size, const std::string& path) {
  torch::NoGradGuard no_grad;
  torch::Tensor x = model.forward_backbone(torch::zeros({1, 3, input_size, input_size}));
  if (x.dim() != 2) throw ModelError("unexpected feature shape from " + path);
  return x.size(1);
}

}  // namespace

torch::jit::Module load_torchscript(const std::string& path, const torch::Device& device, const std::string& hint,
                                    const std::string& meta_name, std::string* meta_text) {
  if (!std::filesystem::exists(path)) throw ModelError(path + ": no such file; " + hint);
  if (std::filesystem::is_directory(path))
    throw ModelError(path + ": is a directory, expected a TorchScript .pt file; " + hint);
  // Look inside the zip first: torch.save'd state_dicts are zips too, but without code.
  try {
    caffe2::serialize::PyTorchStreamReader reader(path);
    bool has_code = false;
    for (const auto& record : reader.getAllRecords())
      if (record.rfind("code/", 0) == 0) has_code = true;
    if (!has_code)
      throw ModelError(path + ": this is a state_dict or pickled model saved with torch.save, not TorchScript; " +
                       hint);
  } catch (const c10::Error& e) {
    throw ModelError(path + ": not a TorchScript archive (random bytes or a truncated file?): " + first_line(e.msg()) +
                     "; " + hint);
  }
  try {
    torch::jit::ExtraFilesMap extra;
    if (!meta_name.empty()) extra[meta_name] = "";
    torch::jit::Module module = torch::jit::load(path, device, extra);
    if (meta_text) *meta_text = meta_name.empty() ? "" : extra[meta_name];
    return module;
  } catch (const c10::Error& e) {
    throw ModelError(path + ": cannot load the TorchScript model (" + first_line(e.msg()) + "); " + hint);
  }
}

TransferModel TransferModel::create(const ModelConfig& config, int64_t num_classes, uint64_t seed) {
  std::string meta_text;
  torch::jit::Module loaded =
      load_torchscript(config.backbone, torch::kCPU, export_hint(config.backbone), "tl_meta.json", &meta_text);
  const bool is_checkpoint = !meta_text.empty();
  TransferModel model;
  model.family_ = family_of_model(loaded, config.backbone);
  const torch::jit::Module backbone =
      loaded.hasattr("backbone") && loaded.hasattr("head_w0") ? loaded.attr("backbone").toModule() : loaded;
  if (config.head.pool == HeadPool::Vgg && model.family_ != BackboneFamily::Vgg)
    throw ModelError(config.backbone + ": model.head.pool \"vgg\" reuses VGG's pretrained fc1 and fc2, but this is a " +
                     family_name(model.family_) + " backbone; use pool \"avg\", \"max\" or \"flatten\"");
  model.num_classes_ = num_classes;
  model.head_spec_ =
      Json{{"pool", name_of(config.head.pool)}, {"hidden", config.head.hidden}, {"dropout", config.head.dropout}};

  auto cu = std::make_shared<torch::jit::CompilationUnit>();
  model.module_ = torch::jit::Module(c10::QualifiedName("__torch__.tl.TransferModel"), cu, /*shouldMangle=*/true);
  torch::jit::Module& m = model.module_;
  m.register_attribute("training", c10::BoolType::get(), false);
  attach_backbone(m, backbone, model.family_);
  if (config.head.pool == HeadPool::Vgg) attach_vgg_classifier(m, backbone, config.backbone, is_checkpoint);

  torch::manual_seed(seed);
  model.build_stages();
  model.train(false);  // a model scripted in training mode would otherwise update BatchNorm statistics
  add_head_parameters(m, config.head.hidden, num_classes, infer_head_width(model, config.input_size, config.backbone));
  model.define_methods();
  model.set_freeze(config.freeze);
  return model;
}

TransferModel TransferModel::from_checkpoint(torch::jit::Module module, const Json& meta) {
  TransferModel model;
  model.module_ = std::move(module);
  model.family_ = family_of_model(model.module_, "the checkpoint");
  model.head_spec_ = meta.at("head");
  model.num_classes_ = static_cast<int64_t>(meta.at("classes").size());
  model.build_stages();
  model.set_freeze(meta.value("freeze", std::string("none")));
  return model;
}

torch::jit::Module TransferModel::backbone_root() const {
  return family_ == BackboneFamily::Vgg ? module_ : module_.attr("backbone").toModule();
}

void TransferModel::build_stages() {
  stages_.clear();
  const torch::jit::Module root = backbone_root();
  int block = 1, conv_in_block = 0;
  for (const std::string& name : feature_stage_names(root, family_)) {
    Stage stage{Stage::Feature, name, "", 0, submodule_at(root, name)};
    const std::string type = module_type_name(stage.module);
    if (family_ == BackboneFamily::Vgg && type == "Conv2d")  // Keras' names for VGG's layers
      stage.keras_name = "block" + std::to_string(block) + "_conv" + std::to_string(++conv_in_block);
    if (family_ == BackboneFamily::Vgg && type == "MaxPool2d")
      stage.keras_name = "block" + std::to_string(block++) + "_pool", conv_in_block = 0;
    stages_.push_back(stage);
  }
  const std::string pool = head_spec_.at("pool");
  stages_.push_back({Stage::Pool, pool == "vgg" ? "avgpool" : "pool",
                     pool == "avg"   ? "global_average_pooling2d"
                     : pool == "max" ? "global_max_pooling2d"
                                     : "flatten",
                     0, {}});
  if (pool == "vgg") {
    stages_.push_back({Stage::Fc, "fc1", "fc1", 1, module_.attr("fc1").toModule()});
    stages_.push_back({Stage::Fc, "fc2", "fc2", 2, module_.attr("fc2").toModule()});
  }
  stages_.push_back({Stage::Head, "head", "", 0, {}});
  frozen_.assign(stages_.size(), false);
}

// The TorchScript forward that a saved checkpoint runs: the same computation as the stages, in
// eval mode identical to TransferModel::forward (a test checks this).
void TransferModel::define_methods() {
  const std::string pool = head_spec_.at("pool");
  std::ostringstream src;
  src << "def forward(self, x):\n";
  if (family_ == BackboneFamily::Vgg) src << "    x = self.features.forward(x)\n";
  if (family_ == BackboneFamily::ResNet)
    for (const Stage& s : stages_)
      if (s.kind == Stage::Feature) src << "    x = self.backbone." << s.name << ".forward(x)\n";
  if (family_ != BackboneFamily::Vgg && family_ != BackboneFamily::ResNet) src << "    x = self.backbone.features.forward(x)\n";
  if (pool == "avg") src << "    x = torch.mean(x, [2, 3])\n";
  if (pool == "max") src << "    x = torch.amax(x, [2, 3])\n";
  if (pool == "flatten") src << "    x = torch.flatten(x, 1)\n";
  if (pool == "vgg") {
    src << "    x = torch.flatten(self.avgpool.forward(x), 1)\n";
    for (int fc = 1; fc <= 2; ++fc)
      src << "    x = torch.dropout(torch.relu(self.fc" << fc << ".forward(x)), " << number(kVggDropout)
          << ", self.training)\n";
  }
  const auto& dropout = head_spec_.at("dropout");
  const size_t layers = head_spec_.at("hidden").size() + 1;
  for (size_t i = 0; i < layers; ++i) {
    src << "    x = torch.linear(torch.dropout(x, " << number(dropout.at(i).get<double>())
        << ", self.training), self.head_w" << i << ", self.head_b" << i << ")\n";
    if (i + 1 < layers) src << "    x = torch.relu(x)\n";
  }
  src << "    return x\n";
  module_.define(src.str());
}

int64_t TransferModel::parameter_stage_count() const {
  return std::count_if(stages_.begin(), stages_.end(),
                       [](const Stage& s) { return s.kind == Stage::Feature && !module_params(s.module).empty(); });
}

// The names a freeze spec may use, for the message that rejects one.
std::string TransferModel::freeze_names_hint() const {
  std::string first, last, first_keras, last_keras;
  for (const Stage& s : stages_) {
    if (s.kind != Stage::Feature || module_params(s.module).empty()) continue;
    (first.empty() ? first : last) = s.name;
    if (!s.keras_name.empty()) (first_keras.empty() ? first_keras : last_keras) = s.keras_name;
  }
  std::string hint = "; use \"none\", \"all\", 0.." + std::to_string(parameter_stage_count()) + " (leading layers with weights), " +
                     first + ".." + last;
  if (!first_keras.empty()) hint += ", " + first_keras + ".." + last_keras + " (Keras' names)";
  if (head_spec_.at("pool") == "vgg") hint += ", fc1 or fc2";
  return hint + "; `tl-train summary` lists them";
}

std::pair<int64_t, int64_t> TransferModel::resolve_freeze(const std::string& spec, const std::string& key) const {
  const int64_t blocks = parameter_stage_count();
  const bool has_fc = head_spec_.at("pool") == "vgg";
  if (spec == "none") return {0, 0};
  if (spec == "all") return {blocks, has_fc ? 2 : 0};
  if (!spec.empty() && std::all_of(spec.begin(), spec.end(), ::isdigit)) {
    if (spec.size() > 6 || std::stoll(spec) > blocks)
      throw ConfigError(key + " " + spec + " is beyond the backbone's " + std::to_string(blocks) + " layers with weights" +
                        freeze_names_hint());
    return {std::stoll(spec), 0};
  }
  if (spec == "fc1" || spec == "fc2") {
    if (!has_fc)
      throw ConfigError(key + " \"" + spec + "\" exists only with model.head.pool \"vgg\"" + freeze_names_hint());
    return {blocks, spec == "fc1" ? 1 : 2};
  }
  int64_t seen = 0;
  for (const Stage& s : stages_) {  // a layer by torchvision's or Keras' name: frozen through it
    if (s.kind != Stage::Feature) break;
    if (!module_params(s.module).empty()) ++seen;
    if (s.name == spec || s.keras_name == spec) return {seen, 0};
  }
  throw ConfigError(key + " \"" + spec + "\" is not a layer of this backbone" + freeze_names_hint());
}

void TransferModel::check_freeze(const std::string& spec, const std::string& key) const { resolve_freeze(spec, key); }

void TransferModel::set_freeze(const std::string& spec, const std::string& key) {
  const auto [frozen_blocks, frozen_fcs] = resolve_freeze(spec, key);
  int64_t ordinal = 0;
  for (size_t i = 0; i < stages_.size(); ++i) {
    const Stage& s = stages_[i];
    bool frozen = false;
    if (s.kind == Stage::Feature) {
      if (!module_params(s.module).empty())
        frozen = ordinal++ < frozen_blocks;
      else
        frozen = i == 0 || frozen_[i - 1];  // parameter-free layers follow the layer before
    } else if (s.kind == Stage::Pool) {
      frozen = frozen_[i - 1];
    } else if (s.kind == Stage::Fc) {
      frozen = s.index <= frozen_fcs;
    }
    frozen_[i] = frozen;
    for (auto& p : stage_parameters(s)) p.set_requires_grad(!frozen);
  }
  first_trainable_stage_ = 0;
  while (first_trainable_stage_ < stages_.size() && frozen_[first_trainable_stage_]) ++first_trainable_stage_;
  freeze_spec_ = spec;
  apply_training_flags();
}

bool TransferModel::prefix_is_whole_backbone() const { return stages_[first_trainable_stage_].kind == Stage::Head; }

bool TransferModel::stage_trainable(const Stage& stage) const {
  return !frozen_[static_cast<size_t>(&stage - stages_.data())];
}

std::vector<torch::Tensor> TransferModel::stage_parameters(const Stage& s) {
  if (s.kind == Stage::Head) return head_parameters();
  return s.kind == Stage::Pool ? std::vector<torch::Tensor>{} : module_params(s.module);
}

torch::Tensor TransferModel::run_stage(const Stage& s, torch::Tensor x, bool training_stage) {
  torch::jit::Module module = s.module;  // a handle: forward is not const
  switch (s.kind) {
    case Stage::Feature:
      return module.forward({x}).toTensor();
    case Stage::Pool: {
      const std::string& pool = head_spec_.at("pool").get_ref<const std::string&>();
      if (pool == "avg") return x.mean({2, 3});
      if (pool == "max") return x.amax({2, 3});
      if (pool == "flatten") return x.flatten(1);
      return module_.attr("avgpool").toModule().forward({x}).toTensor().flatten(1);
    }
    case Stage::Fc: {
      x = torch::relu(module.forward({x}).toTensor());
      return torch::dropout(x, kVggDropout, training_stage);
    }
    case Stage::Head: {
      const auto& dropout = head_spec_.at("dropout");
      const size_t layers = head_spec_.at("hidden").size() + 1;
      for (size_t i = 0; i < layers; ++i) {
        x = torch::dropout(x, dropout.at(i).get<double>(), training_stage);
        x = torch::linear(x, module_.attr("head_w" + std::to_string(i)).toTensor(),
                          module_.attr("head_b" + std::to_string(i)).toTensor());
        if (i + 1 < layers) x = torch::relu(x);
      }
      return x;
    }
  }
  return x;
}

torch::Tensor TransferModel::forward_prefix(const torch::Tensor& images) {
  torch::NoGradGuard no_grad;
  torch::Tensor x = images;
  for (size_t i = 0; i < first_trainable_stage_; ++i) x = run_stage(stages_[i], x, false);
  return x;
}

torch::Tensor TransferModel::forward_from_prefix(const torch::Tensor& prefix_output) {
  torch::Tensor x = prefix_output;
  for (size_t i = first_trainable_stage_; i < stages_.size(); ++i)
    x = run_stage(stages_[i], x, training_ && !frozen_[i]);
  return x;
}

torch::Tensor TransferModel::forward(const torch::Tensor& images) {
  return forward_from_prefix(forward_prefix(images));
}

torch::Tensor TransferModel::forward_backbone(const torch::Tensor& images) {
  torch::Tensor x = images;
  for (const Stage& s : stages_) {
    if (s.kind == Stage::Head) break;
    x = run_stage(s, x, false);
  }
  return x;
}

size_t TransferModel::explain_stage(const std::string& layer) const {
  for (size_t i = 0; i < stages_.size(); ++i) {
    const Stage& s = stages_[i];
    if (s.kind == Stage::Feature && (s.name == layer || (!s.keras_name.empty() && s.keras_name == layer))) return i;
  }
  std::string names;
  for (const Stage& s : stages_)
    if (s.kind == Stage::Feature) names += (names.empty() ? "" : ", ") + s.name;
  throw ModelError("--explain-layer '" + layer + "' is not a feature stage of this " + family_name(family_) +
                   " model; use one of: " + names);
}

torch::Tensor TransferModel::forward_exposing(const torch::Tensor& images, const std::string& layer,
                                              torch::Tensor& activation) {
  const auto target = stages_.begin() + static_cast<std::ptrdiff_t>(explain_stage(layer));
  torch::Tensor x = images;
  {
    torch::NoGradGuard no_grad;  // nothing before the explained stage needs gradients
    for (auto it = stages_.begin(); it <= target; ++it) x = run_stage(*it, x, false);
  }
  activation = x.detach().requires_grad_(true);
  x = activation.clone();  // the next stage may be an in-place ReLU, which a leaf cannot take
  torch::AutoGradMode grad(true);
  for (auto it = target + 1; it != stages_.end(); ++it) x = run_stage(*it, x, training_ && !frozen_[size_t(it - stages_.begin())]);
  return x;
}

std::string TransferModel::default_explain_layer() const {
  std::string name;
  for (const Stage& s : stages_)
    if (s.kind == Stage::Feature && module_type_name(s.module) != "MaxPool2d") name = s.name;
  return name;
}

void TransferModel::train(bool on) {
  training_ = on;
  module_.train(on);
  apply_training_flags();
}

// Frozen layers always run in inference mode: a frozen BatchNorm normalises with its running
// statistics and never updates them (Keras' `trainable = False`, timm's freeze_batch_norm_2d).
void TransferModel::apply_training_flags() {
  for (size_t i = 0; i < stages_.size(); ++i)
    if (stages_[i].kind == Stage::Feature || stages_[i].kind == Stage::Fc)
      stages_[i].module.train(training_ && !frozen_[i]);
}

void TransferModel::to(const torch::Device& device) { module_.to(device); }

torch::Device TransferModel::device() const {
  for (const auto& p : module_.parameters()) return p.device();
  return torch::kCPU;
}

std::vector<torch::Tensor> TransferModel::head_parameters() {
  std::vector<torch::Tensor> out;
  const size_t layers = head_spec_.at("hidden").size() + 1;
  for (size_t i = 0; i < layers; ++i) {
    out.push_back(module_.attr("head_w" + std::to_string(i)).toTensor());
    out.push_back(module_.attr("head_b" + std::to_string(i)).toTensor());
  }
  return out;
}

std::vector<torch::Tensor> TransferModel::trainable_backbone_parameters() {
  std::vector<torch::Tensor> out;
  for (const Stage& s : stages_)
    if (s.kind != Stage::Head && stage_trainable(s))
      for (auto& p : stage_parameters(s)) out.push_back(p);
  return out;
}

std::vector<torch::Tensor> TransferModel::buffers() {
  std::vector<torch::Tensor> out;
  for (const auto& b : module_.buffers()) out.push_back(b);
  return out;
}

std::vector<torch::Tensor> TransferModel::all_parameters() {
  std::vector<torch::Tensor> out;
  for (const Stage& s : stages_)
    for (auto& p : stage_parameters(s)) out.push_back(p);
  return out;
}

ModelSummary TransferModel::summary(int64_t input_size) {
  torch::NoGradGuard no_grad;
  const bool was_training = training_;
  train(false);  // a batch of one through BatchNorm, without touching its statistics
  ModelSummary summary;
  torch::Tensor x = torch::zeros({1, 3, input_size, input_size}, torch::TensorOptions().device(device()));
  for (const Stage& s : stages_) {
    const auto input_shape = x.sizes().vec();
    x = run_stage(s, x, false);
    auto params = stage_parameters(s);
    if (s.kind == Stage::Feature && params.empty() && x.sizes().vec() == input_shape) continue;  // ReLU and the like
    LayerSummary layer;
    layer.name = s.name;
    layer.keras_name = s.keras_name;
    layer.type = s.kind == Stage::Feature
                     ? module_type_name(s.module)
                 : s.kind == Stage::Pool ? "Pool(" + head_spec_.at("pool").get<std::string>() + ")"
                 : s.kind == Stage::Fc   ? "Linear"
                                         : "DenseHead";
    layer.output_shape = x.sizes().vec();
    layer.params = count_params(params);
    layer.trainable = !params.empty() && !frozen_[static_cast<size_t>(&s - stages_.data())];
    (layer.trainable ? summary.trainable_params : summary.frozen_params) += layer.params;
    summary.layers.push_back(layer);
  }
  summary.total_params = summary.trainable_params + summary.frozen_params;
  train(was_training);
  return summary;
}

std::string ModelSummary::to_text() const {
  auto shape = [](const std::vector<int64_t>& s) {
    std::string t = "(None";
    for (size_t i = 1; i < s.size(); ++i) t += ", " + std::to_string(s[i]);
    return t + ")";
  };
  // Columns as wide as their widest cell plus two spaces, so that no cell runs into the next.
  std::vector<std::vector<std::string>> rows{{"Layer (type)", "Keras name", "Output Shape", "Param #", "Trainable"}};
  for (const auto& l : layers)
    rows.push_back({l.name + " (" + l.type + ")", l.keras_name, shape(l.output_shape), grouped(l.params),
                    l.params == 0 ? ""
                    : l.trainable ? "yes"
                                  : "no"});
  std::vector<size_t> widths(rows[0].size(), 0);
  for (const auto& row : rows)
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], display_width(row[c]) + 2);
  size_t total = 1;
  for (size_t w : widths) total += w;
  std::ostringstream out;
  out << std::string(total, '_') << "\n";
  for (size_t r = 0; r < rows.size(); ++r) {
    std::string line = " ";
    for (size_t c = 0; c < rows[r].size(); ++c) line += pad_right(rows[r][c], widths[c]);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
    if (r == 0) out << std::string(total, '=') << "\n";
  }
  out << std::string(total, '=') << "\n"
      << "Total params: " << grouped(total_params) << "\n"
      << "Trainable params: " << grouped(trainable_params) << "\n"
      << "Non-trainable params: " << grouped(frozen_params) << "\n"
      << std::string(total, '_') << "\n";
  return out.str();
}

Json ModelSummary::to_json() const {
  Json layers_json = Json::array();
  for (const auto& l : layers)
    layers_json.push_back({{"name", l.name},
                           {"keras_name", l.keras_name},
                           {"type", l.type},
                           {"output_shape", l.output_shape},
                           {"params", l.params},
                           {"trainable", l.trainable}});
  return Json{{"trainable_params", trainable_params},
              {"frozen_params", frozen_params},
              {"total_params", total_params},
              {"layers", layers_json}};
}

void TransferModel::save(const std::string& path, const Json& meta) {
  torch::jit::ExtraFilesMap extra{{"tl_meta.json", dump_json(meta, 2)}};
  const bool was_training = training_;
  module_.train(false);  // Python users get the model in eval mode
  write_stream_atomic(path, [&](std::ostream& out) {
    if (device().is_cpu()) {
      module_.save(out, extra);
    } else {
      torch::jit::Module copy = module_.clone();
      copy.to(torch::kCPU);  // loadable on machines without a GPU
      copy.save(out, extra);
    }
  });
  module_.train(was_training);
}

}  // namespace tl
