#include "tl/config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "tl/errors.h"

namespace tl {
namespace {

// Defaults double as the schema: a key that is not here is unknown, and a value must have the
// default's JSON type unless the key is listed in flexible_types().
const char* kDefaults = R"json({
  "name": "",
  "device": "auto",
  "threads": 0,
  "data": {
    "root": "",
    "layout": "auto",
    "class_names": [],
    "exclude": ["BACKGROUND_Google"],
    "split": [0.7, 0.15, 0.15],
    "seed": 42,
    "val_from": "train",
    "val_fraction": 0.15,
    "on_bad_image": "skip",
    "max_pixels": 100000000,
    "resize": "stretch",
    "normalize": "imagenet",
    "workers": 0,
    "cache": "none",
    "cache_bytes": 2147483648,
    "drop_last": false,
    "augment": {
      "rotation_range": 0.0,
      "width_shift_range": 0.0,
      "height_shift_range": 0.0,
      "zoom_range": 0.0,
      "shear_range": 0.0,
      "horizontal_flip": false,
      "vertical_flip": false,
      "brightness_range": null,
      "fill_mode": "nearest",
      "random_resized_crop": null,
      "color_jitter": 0.0
    }
  },
  "model": {
    "backbone": "models/vgg16.pt",
    "freeze": "none",
    "input_size": 224,
    "num_classes": 0,
    "head": {"pool": "avg", "hidden": [], "dropout": 0.0},
    "unfreeze_at": {}
  },
  "optim": {
    "name": "adam",
    "lr": 0.001,
    "betas": [0.9, 0.999],
    "eps": 1e-8,
    "weight_decay": 0.0,
    "amsgrad": false,
    "momentum": 0.0,
    "nesterov": false,
    "backbone_lr_mult": 1.0,
    "schedule": {
      "name": "constant",
      "step_size": 10,
      "gamma": 0.1,
      "warmup_epochs": 0,
      "monitor": "val_loss",
      "factor": 0.1,
      "patience": 5,
      "min_lr": 0.0
    }
  },
  "train": {
    "epochs": 10,
    "batch_size": 32,
    "seed": 42,
    "label_smoothing": 0.0,
    "class_weights": "none",
    "clip_grad_norm": 0.0,
    "accumulate": 1,
    "out": "",
    "monitor": "val_loss",
    "mode": "auto",
    "early_stopping": {
      "enabled": false,
      "monitor": "",
      "patience": 5,
      "min_delta": 0.0,
      "restore_best": true
    },
    "feature_cache": "auto",
    "feature_cache_bytes": 4294967296,
    "amp": "off",
    "channels_last": false,
    "eval_test": true
  }
})json";

constexpr int64_t kMaxEpochs = 1000000;  // bound of every epoch count, so all fit an int

// Keys whose value may take more than one JSON type; the parser checks them itself.
const std::set<std::string>& flexible_types() {
  static const std::set<std::string> keys{
      "model.freeze",      "model.head.dropout",           "train.class_weights",
      "data.normalize",    "data.augment.brightness_range", "data.augment.random_resized_crop",
      "model.unfreeze_at",
  };
  return keys;
}

std::string type_name(const Json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number_integer()) return "an integer";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "a list";
  return "an object";
}

bool same_kind(const Json& def, const Json& v) {
  if (def.is_number_integer()) return v.is_number_integer() || (v.is_number_float() && v.get<double>() == std::floor(v.get<double>()));
  if (def.is_number()) return v.is_number();
  return def.type() == v.type();
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string suggestion(const std::string& key, const Json& schema_object, const std::string& prefix) {
  std::string best;
  size_t best_distance = std::max<size_t>(3, key.size() / 3) + 1;
  for (const auto& item : schema_object.items()) {
    size_t d = edit_distance(key, item.key());
    if (d < best_distance) best_distance = d, best = item.key();
  }
  return best.empty() ? "" : " (did you mean '" + prefix + best + "'?)";
}

// Collects problems so that a config with several mistakes is reported in one go.
class Checker {
 public:
  explicit Checker(std::string source) : source_(std::move(source)) {}
  void fail(const std::string& key, const std::string& message) {
    problems_.push_back(source_ + ": " + (key.empty() ? "" : "'" + key + "' ") + message);
  }
  void throw_if_failed() const {
    if (problems_.empty()) return;
    std::string all;
    for (const auto& p : problems_) all += (all.empty() ? "" : "\n") + p;
    throw ConfigError(all);
  }
  const std::string& source() const { return source_; }

 private:
  std::string source_;
  std::vector<std::string> problems_;
};

void merge_checked(Json& target, const Json& user, const Json& schema, const std::string& prefix, Checker& check) {
  for (const auto& item : user.items()) {
    const std::string key = prefix + item.key();
    if (!schema.contains(item.key())) {
      check.fail(key, "is not a known key" + suggestion(item.key(), schema, prefix) +
                          "; see the configuration reference in README.md");
      continue;
    }
    const Json& def = schema.at(item.key());
    const Json& value = item.value();
    if (flexible_types().count(key)) {
      target[item.key()] = value;
    } else if (def.is_object() && value.is_object()) {
      merge_checked(target[item.key()], value, def, key + ".", check);
    } else if (!same_kind(def, value)) {
      std::string expected = def.is_number_integer() ? "an integer" : type_name(def);
      check.fail(key, "must be " + expected + ", got " + type_name(value) + " " + value.dump());
    } else {
      target[item.key()] = value;
    }
  }
}

// Typed reads with range checks. Each records a problem instead of throwing.
struct Reader {
  const Json& root;
  Checker& check;

  const Json& at(const std::string& dotted) const {
    const Json* node = &root;
    std::stringstream ss(dotted);
    std::string part;
    while (std::getline(ss, part, '.')) node = &node->at(part);
    return *node;
  }
  std::string str(const std::string& key, std::initializer_list<const char*> allowed = {}) const {
    std::string v = at(key).get<std::string>();
    if (allowed.size() && std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return v == a; })) {
      std::string list;
      for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      check.fail(key, "is \"" + v + "\"; use one of: " + list);
    }
    return v;
  }
  double num(const std::string& key, double lo, double hi, bool lo_open = false) const {
    double v = at(key).get<double>();
    if (v < lo || v > hi || (lo_open && v == lo)) {
      std::ostringstream m;
      m << "is " << v << "; it must be " << (lo_open ? "> " : ">= ") << lo;
      if (hi < 1e300) m << " and <= " << hi;
      check.fail(key, m.str());
    }
    return v;
  }
  // The range is checked on the value as written (a double), before any narrowing: 1e300 is
  // reported as 1e+300, not as an overflowed cast. Without `hi`, up to 2^53 (exact in a double).
  static constexpr int64_t kExact = int64_t(1) << 53;
  int64_t integer(const std::string& key, int64_t lo, int64_t hi = kExact) const {
    const double v = at(key).get<double>();
    if (!(v >= double(lo) && v <= double(hi))) {
      std::string m = "is " + at(key).dump() + "; it must be >= " + std::to_string(lo);
      if (hi != kExact) m += " and <= " + std::to_string(hi);
      check.fail(key, m);
      return lo;
    }
    return static_cast<int64_t>(v);
  }
  bool boolean(const std::string& key) const { return at(key).get<bool>(); }
  template <size_t N>
  std::array<double, N> numbers(const std::string& key) const {
    std::array<double, N> out{};
    const Json& v = at(key);
    if (!v.is_array() || v.size() != N || !std::all_of(v.begin(), v.end(), [](const Json& x) { return x.is_number(); })) {
      check.fail(key, "must be a list of " + std::to_string(N) + " numbers, got " + v.dump());
      return out;
    }
    for (size_t i = 0; i < N; ++i) out[i] = v[i].get<double>();
    return out;
  }
  std::vector<std::string> strings(const std::string& key) const {
    std::vector<std::string> out;
    for (const Json& x : at(key)) {
      if (!x.is_string()) check.fail(key, "must be a list of strings, got " + at(key).dump());
      else out.push_back(x.get<std::string>());
    }
    return out;
  }
};

void parse_normalization(const Json& v, DataConfig& data, Checker& check) {
  const std::string key = "data.normalize";
  if (v.is_string()) {
    data.normalize_name = v.get<std::string>();
    if (data.normalize_name != "imagenet" && data.normalize_name != "caffe" && data.normalize_name != "unit")
      check.fail(key, "is \"" + data.normalize_name + "\"; use imagenet, caffe, unit or {\"mean\": [...], \"std\": [...]}");
    else
      data.normalize = normalization_preset(data.normalize_name);
    return;
  }
  if (!v.is_object() || !v.contains("mean") || !v.contains("std")) {
    check.fail(key, "must be a preset name or an object with \"mean\" and \"std\" lists, got " + v.dump());
    return;
  }
  data.normalize_name = "custom";
  Normalization n;
  for (const auto& item : v.items())
    if (item.key() != "mean" && item.key() != "std" && item.key() != "scale" && item.key() != "channel_order")
      check.fail(key + "." + item.key(), "is not a known key; use mean, std, scale, channel_order");
  auto triple = [&](const char* name, std::array<double, 3>& out) {
    const Json& t = v.at(name);
    if (!t.is_array() || t.size() != 3 || !std::all_of(t.begin(), t.end(), [](const Json& x) { return x.is_number(); }))
      return check.fail(key + "." + name, "must be a list of 3 numbers");
    for (int i = 0; i < 3; ++i) out[i] = t[i].get<double>();
  };
  triple("mean", n.mean);
  triple("std", n.std);
  if (std::any_of(n.std.begin(), n.std.end(), [](double s) { return s <= 0; }))
    check.fail(key + ".std", "values must be > 0");
  if (v.contains("scale")) {
    if (!v["scale"].is_number() || v["scale"].get<double>() <= 0) check.fail(key + ".scale", "must be a number > 0");
    else n.scale = v["scale"].get<double>();
  }
  if (v.contains("channel_order")) {
    const Json& c = v["channel_order"];
    if (!c.is_string() || (c != "RGB" && c != "BGR")) check.fail(key + ".channel_order", "must be \"RGB\" or \"BGR\"");
    else n.channel_order = c.get<std::string>();
  }
  data.normalize = n;
}

void parse_augment(const Reader& r, AugmentConfig& a, Checker& check) {
  const std::string p = "data.augment.";
  a.rotation_range = r.num(p + "rotation_range", 0, 180);
  a.width_shift_range = r.num(p + "width_shift_range", 0, 1);
  a.height_shift_range = r.num(p + "height_shift_range", 0, 1);
  a.zoom_range = r.num(p + "zoom_range", 0, 0.99);
  a.shear_range = r.num(p + "shear_range", 0, 89);
  a.horizontal_flip = r.boolean(p + "horizontal_flip");
  a.vertical_flip = r.boolean(p + "vertical_flip");
  a.fill_mode = r.str(p + "fill_mode", {"nearest", "constant", "reflect", "wrap"});
  a.color_jitter = r.num(p + "color_jitter", 0, 1);
  const Json& br = r.at(p + "brightness_range");
  if (!br.is_null()) {
    a.brightness_range = r.numbers<2>(p + "brightness_range");
    if (a.brightness_range[0] <= 0 || a.brightness_range[0] > a.brightness_range[1])
      check.fail(p + "brightness_range", "must be [low, high] with 0 < low <= high");
  }
  const Json& rrc = r.at(p + "random_resized_crop");
  if (!rrc.is_null()) {
    if (!rrc.is_object()) {
      check.fail(p + "random_resized_crop", "must be null or {\"scale\": [lo, hi], \"ratio\": [lo, hi]}");
      return;
    }
    a.crop_scale = {0.08, 1.0};
    for (const auto& item : rrc.items()) {
      const Json& t = item.value();
      bool pair = t.is_array() && t.size() == 2 && t[0].is_number() && t[1].is_number() && t[0].get<double>() > 0 &&
                  t[0].get<double>() <= t[1].get<double>();
      if (item.key() != "scale" && item.key() != "ratio")
        check.fail(p + "random_resized_crop." + item.key(), "is not a known key; use scale or ratio");
      else if (!pair)
        check.fail(p + "random_resized_crop." + item.key(), "must be [low, high] with 0 < low <= high");
      else
        (item.key() == "scale" ? a.crop_scale : a.crop_ratio) = {t[0].get<double>(), t[1].get<double>()};
    }
    if (a.crop_scale[1] > 1) check.fail(p + "random_resized_crop.scale", "must be within (0, 1]");
  }
}

bool is_integer_text(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string parse_freeze_spec(const Json& v, const std::string& key, Checker& check) {
  if (v.is_number_integer()) {
    if (v.get<int64_t>() < 0) check.fail(key, "must be >= 0");
    return std::to_string(v.get<int64_t>());
  }
  if (!v.is_string() || v.get<std::string>().empty()) {
    check.fail(key, "must be \"none\", \"all\", a number of conv layers or a layer name like \"block3_conv3\"");
    return "none";
  }
  return v.get<std::string>();  // names are checked against the backbone when it is loaded
}

void parse_model(const Reader& r, ModelConfig& m, Checker& check) {
  m.backbone = r.str("model.backbone");
  if (m.backbone.empty()) check.fail("model.backbone", "is empty; export one with scripts/export_vgg16.py");
  m.freeze = parse_freeze_spec(r.at("model.freeze"), "model.freeze", check);
  m.input_size = r.integer("model.input_size", 32, 4096);
  m.num_classes = r.integer("model.num_classes", 0, 1000000);
  m.head.pool = r.str("model.head.pool", {"avg", "max", "flatten", "vgg"});
  const Json& hidden = r.at("model.head.hidden");
  for (const Json& h : hidden) {
    if (!h.is_number_integer() || h.get<double>() < 1 || h.get<double>() > 65536)
      check.fail("model.head.hidden", "must be a list of layer widths from 1 to 65536, got " + hidden.dump());
    else m.head.hidden.push_back(h.get<int64_t>());
  }
  if (m.head.pool == "vgg" && !m.head.hidden.empty())
    check.fail("model.head.hidden", "must be empty with pool \"vgg\" (the pretrained fc1 and fc2 are the hidden layers)");
  const size_t dense_layers = m.head.hidden.size() + 1;
  const Json& dropout = r.at("model.head.dropout");
  auto rate_ok = [](const Json& x) { return x.is_number() && x.get<double>() >= 0 && x.get<double>() < 1; };
  if (rate_ok(dropout)) {
    m.head.dropout.assign(dense_layers, dropout.get<double>());
  } else if (dropout.is_array() && dropout.size() == dense_layers && std::all_of(dropout.begin(), dropout.end(), rate_ok)) {
    for (const Json& x : dropout) m.head.dropout.push_back(x.get<double>());
  } else {
    check.fail("model.head.dropout", "must be a rate in [0, 1) or a list of " + std::to_string(dense_layers) +
                                         " rates (one per dense layer), got " + dropout.dump());
    m.head.dropout.assign(dense_layers, 0.0);
  }
  const Json& unfreeze = r.at("model.unfreeze_at");
  if (!unfreeze.is_object()) {
    check.fail("model.unfreeze_at", "must be an object {\"epoch\": freeze-spec}, got " + unfreeze.dump());
  } else {
    for (const auto& item : unfreeze.items()) {
      if (!is_integer_text(item.key()) || item.key().size() > 7 || std::stoi(item.key()) < 1 || std::stoi(item.key()) > kMaxEpochs)
        check.fail("model.unfreeze_at." + item.key(), "key must be an epoch number from 1 to " + std::to_string(kMaxEpochs));
      else
        m.unfreeze_at[std::stoi(item.key())] = parse_freeze_spec(item.value(), "model.unfreeze_at." + item.key(), check);
    }
  }
}

void parse_optim(const Reader& r, OptimConfig& o) {
  o.name = r.str("optim.name", {"adam", "adamw", "sgd"});
  o.lr = r.num("optim.lr", 0, 10, true);
  o.betas = r.numbers<2>("optim.betas");
  for (double b : o.betas)
    if (b < 0 || b >= 1) r.check.fail("optim.betas", "values must be in [0, 1)");
  o.eps = r.num("optim.eps", 0, 1, true);
  o.weight_decay = r.num("optim.weight_decay", 0, 1);
  o.amsgrad = r.boolean("optim.amsgrad");
  o.momentum = r.num("optim.momentum", 0, 0.999999);
  o.nesterov = r.boolean("optim.nesterov");
  if (o.nesterov && o.momentum <= 0) r.check.fail("optim.nesterov", "needs optim.momentum > 0");
  o.backbone_lr_mult = r.num("optim.backbone_lr_mult", 0, 100);
  auto& s = o.schedule;
  s.name = r.str("optim.schedule.name", {"constant", "step", "cosine", "plateau"});
  s.step_size = static_cast<int>(r.integer("optim.schedule.step_size", 1, kMaxEpochs));
  s.gamma = r.num("optim.schedule.gamma", 0, 1, true);
  s.warmup_epochs = static_cast<int>(r.integer("optim.schedule.warmup_epochs", 0, kMaxEpochs));
  s.monitor = r.str("optim.schedule.monitor", {"val_loss", "val_acc", "loss", "acc"});
  s.factor = r.num("optim.schedule.factor", 0, 1, true);
  s.patience = static_cast<int>(r.integer("optim.schedule.patience", 0, kMaxEpochs));
  s.min_lr = r.num("optim.schedule.min_lr", 0, 10);
}

void parse_train(const Reader& r, TrainConfig& t) {
  t.epochs = static_cast<int>(r.integer("train.epochs", 1, kMaxEpochs));
  t.batch_size = static_cast<int>(r.integer("train.batch_size", 1, 1 << 20));
  t.seed = static_cast<uint64_t>(r.integer("train.seed", 0));
  t.label_smoothing = r.num("train.label_smoothing", 0, 0.999);
  const Json& cw = r.at("train.class_weights");
  if (cw.is_string() && (cw == "none" || cw == "balanced")) {
    t.class_weights_mode = cw.get<std::string>();
  } else if (cw.is_array() && !cw.empty() &&
             std::all_of(cw.begin(), cw.end(), [](const Json& x) { return x.is_number() && x.get<double>() >= 0; })) {
    t.class_weights_mode = "list";
    for (const Json& x : cw) t.class_weights.push_back(x.get<double>());
  } else {
    r.check.fail("train.class_weights", "must be \"none\", \"balanced\" or a list of weights >= 0, got " + cw.dump());
  }
  t.clip_grad_norm = r.num("train.clip_grad_norm", 0, 1e12);
  t.accumulate = static_cast<int>(r.integer("train.accumulate", 1, 1 << 16));
  t.out = r.str("train.out");
  t.monitor = r.str("train.monitor", {"val_loss", "val_acc", "loss", "acc"});
  t.mode = r.str("train.mode", {"auto", "min", "max"});
  auto& es = t.early_stopping;
  es.enabled = r.boolean("train.early_stopping.enabled");
  es.monitor = r.str("train.early_stopping.monitor", {"", "val_loss", "val_acc", "loss", "acc"});
  es.patience = static_cast<int>(r.integer("train.early_stopping.patience", 0, kMaxEpochs));
  es.min_delta = r.num("train.early_stopping.min_delta", 0, 1e12);
  es.restore_best = r.boolean("train.early_stopping.restore_best");
  t.feature_cache = r.str("train.feature_cache", {"auto", "off"});
  t.feature_cache_bytes = r.integer("train.feature_cache_bytes", 0);
  t.amp = r.str("train.amp", {"off", "fp16", "bf16"});
  t.channels_last = r.boolean("train.channels_last");
  t.eval_test = r.boolean("train.eval_test");
}

void parse_data(const Reader& r, DataConfig& d, Checker& check) {
  d.root = r.str("data.root");
  d.layout = r.str("data.layout", {"auto", "food11", "caltech101", "fruits360", "folder"});
  d.class_names = r.strings("data.class_names");
  d.exclude = r.strings("data.exclude");
  d.split = r.numbers<3>("data.split");
  double sum = d.split[0] + d.split[1] + d.split[2];
  if (std::abs(sum - 1.0) > 1e-6 || d.split[0] <= 0 || d.split[1] < 0 || d.split[2] < 0) {
    std::ostringstream m;
    m << "fractions must be >= 0 (train > 0) and sum to 1, got " << r.at("data.split").dump() << " (sum " << sum << ")";
    check.fail("data.split", m.str());
  }
  d.seed = static_cast<uint64_t>(r.integer("data.seed", 0));
  d.val_from = r.str("data.val_from", {"train", "test"});
  d.val_fraction = r.num("data.val_fraction", 0, 0.95);
  d.on_bad_image = r.str("data.on_bad_image", {"skip", "fail"});
  d.max_pixels = r.integer("data.max_pixels", 1);
  d.resize = r.str("data.resize", {"stretch", "shorter_center_crop"});
  parse_normalization(r.at("data.normalize"), d, check);
  d.workers = static_cast<int>(r.integer("data.workers", 0, 256));
  d.cache = r.str("data.cache", {"none", "memory"});
  d.cache_bytes = r.integer("data.cache_bytes", 0);
  d.drop_last = r.boolean("data.drop_last");
  parse_augment(r, d.augment, check);
}

}  // namespace

bool AugmentConfig::enabled() const {
  return rotation_range > 0 || width_shift_range > 0 || height_shift_range > 0 || zoom_range > 0 ||
         shear_range > 0 || horizontal_flip || vertical_flip || brightness_range[0] != 1.0 ||
         brightness_range[1] != 1.0 || crop_scale[0] != 1.0 || crop_scale[1] != 1.0 || color_jitter > 0;
}

const Json& default_config_json() {
  static const Json defaults = Json::parse(kDefaults);
  return defaults;
}

Normalization normalization_preset(const std::string& name) {
  Normalization n;  // imagenet: torchvision's RGB mean/std on [0, 1]
  if (name == "caffe") {
    n.channel_order = "BGR";
    n.scale = 1.0;
    n.mean = {103.939, 116.779, 123.68};
    n.std = {1.0, 1.0, 1.0};
  } else if (name == "unit") {
    n.mean = {0, 0, 0};
    n.std = {1, 1, 1};
  } else if (name != "imagenet") {
    throw ConfigError("unknown normalisation preset '" + name + "'; use imagenet, caffe or unit");
  }
  return n;
}

void apply_override(Json& config, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ConfigError("--set '" + assignment + "': expected key=value, e.g. --set train.epochs=3");
  try {
    (void)Json(assignment).dump();  // a JSON config holds UTF-8 text only (dump() rejects anything else)
  } catch (const Json::type_error&) {
    throw ConfigError("--set: '" + assignment.substr(0, eq) + "=...' is not UTF-8 text; pass it as UTF-8");
  }
  const std::string key = assignment.substr(0, eq);
  const std::string text = assignment.substr(eq + 1);
  Json value;
  try {
    value = Json::parse(text);
  } catch (const Json::exception&) {  // a syntax error, or a number beyond a double (1e400)
    value = text;  // not JSON: take it as a plain string (paths, names)
  }
  Json* node = &config;
  std::stringstream ss(key);
  std::string part;
  std::vector<std::string> parts;
  while (std::getline(ss, part, '.')) parts.push_back(part);
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].empty()) throw ConfigError("--set '" + assignment + "': empty part in key '" + key + "'");
    if (!node->is_object()) *node = Json::object();
    if (i + 1 == parts.size()) (*node)[parts[i]] = value;
    else node = &(*node)[parts[i]];
  }
}

Config parse_config(const Json& user, const std::string& source) {
  Checker check(source);
  if (!user.is_object()) {
    check.fail("", "must hold a JSON object at the top level");
    check.throw_if_failed();
  }
  Json merged = default_config_json();
  merge_checked(merged, user, default_config_json(), "", check);
  check.throw_if_failed();  // typed reads below rely on the types being right

  Config c;
  Reader r{merged, check};
  c.name = r.str("name");
  c.device = r.str("device");
  if (c.device != "auto" && c.device != "cpu" && c.device.rfind("cuda", 0) != 0)
    check.fail("device", "is \"" + c.device + "\"; use auto, cpu, cuda or cuda:N");
  c.threads = static_cast<int>(r.integer("threads", 0, 1024));
  parse_data(r, c.data, check);
  parse_model(r, c.model, check);
  parse_optim(r, c.optim);
  parse_train(r, c.train);
  check.throw_if_failed();
  c.resolved = merged;
  return c;
}

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path);
  if (!in) {
    throw ConfigError(path + ": cannot open the config file" +
                      std::string(std::filesystem::exists(path) ? " (permission denied?)" : " (no such file)") +
                      "; pass an existing file with --config, e.g. configs/demo_fashion.json");
  }
  Json user;
  try {
    user = Json::parse(in, nullptr, true, /*ignore_comments=*/true);
  } catch (const Json::parse_error& e) {
    // nlohmann reports a byte offset; turn it into line:column for the user.
    std::ifstream again(path);
    std::string text((std::istreambuf_iterator<char>(again)), std::istreambuf_iterator<char>());
    size_t line = 1, column = 1;
    for (size_t i = 0; i + 1 < e.byte && i < text.size(); ++i) {
      if (text[i] == '\n') ++line, column = 1;
      else ++column;
    }
    std::string what = e.what();
    auto pos = what.find("syntax error");
    throw ConfigError(path + ":" + std::to_string(line) + ":" + std::to_string(column) + ": invalid JSON (" +
                      (pos == std::string::npos ? what : what.substr(pos)) + ")");
  } catch (const Json::out_of_range& e) {  // nlohmann reports no position for it
    const std::string what = e.what();
    throw ConfigError(path + ": invalid JSON (" + what.substr(what.find("] ") + 2) + "); numbers must fit in a double");
  }
  for (const auto& o : overrides) apply_override(user, o);
  Config c = parse_config(user, path);
  if (c.name.empty()) {
    c.name = std::filesystem::path(path).stem().string();
    c.resolved["name"] = c.name;
  }
  return c;
}

}  // namespace tl
