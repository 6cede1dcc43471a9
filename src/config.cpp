#include "tl/config.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <set>
#include <sstream>

#include <spdlog/spdlog.h>

#include "tl/errors.h"

namespace tl {
namespace {

constexpr int64_t kMaxEpochs = 1000000;       // bound of every epoch count, so all fit an int
constexpr int64_t kExact = int64_t(1) << 53;  // integers a double holds exactly
constexpr double kMaxShiftPixels = 4096;      // shifts >= 1 are pixels; input_size is at most 4096

std::string parent_key(const std::string& key) {
  const auto dot = key.rfind('.');
  return dot == std::string::npos ? "" : key.substr(0, dot);
}

// Collects problems so that a config with several mistakes is reported in one go. Each names the
// file, or the --set that gave the value. Lenient (recorded configs): problems become warnings.
class Problems {
 public:
  Problems(std::string source, const Origins& origins, bool lenient)
      : source_(std::move(source)), origins_(origins), lenient_(lenient) {}
  void fail(const std::string& key, const std::string& message) {
    const std::string line = where(key) + ": " + (key.empty() ? "" : "'" + key + "' ") + message;
    if (lenient_)
      spdlog::warn("{}; using the default", line);
    else
      problems_.push_back(line);
  }
  bool wrong_type(const std::string& key, const std::string& expected, const Json& value) {
    fail(key, "must be " + expected + ", got " + type_name(value) + " " + value.dump());
    return false;
  }
  bool any() const { return !problems_.empty(); }
  bool lenient() const { return lenient_; }
  void throw_if_any() const {
    if (problems_.empty()) return;
    std::string all;
    for (const auto& p : problems_) all += (all.empty() ? "" : "\n") + p;
    throw ConfigError(all);
  }
  static std::string type_name(const Json& v) {
    if (v.is_null()) return "null";
    if (v.is_boolean()) return "a boolean";
    if (v.is_number_integer()) return "an integer";
    if (v.is_number()) return "a number";
    if (v.is_string()) return "a string";
    if (v.is_array()) return "a list";
    return "an object";
  }

 private:
  std::string where(const std::string& key) const {
    for (std::string k = key; !k.empty(); k = parent_key(k)) {
      auto it = origins_.find(k);
      if (it != origins_.end()) return it->second;
    }
    return source_;
  }
  std::string source_;
  const Origins& origins_;
  bool lenient_;
  std::vector<std::string> problems_;
};

// One key of the schema: its default, how the reference documents it, and how its value is
// checked and stored. `read` returns false when it refused the value (a problem was reported).
struct KeySpec {
  std::string key;
  Json default_value;
  std::string type;
  std::string help;
  std::function<bool(const Json& value, Config& config, Problems& problems)> read;
};

template <typename T>
using Setter = std::function<void(Config&, T)>;

std::string number_text(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

KeySpec boolean(const std::string& key, bool def, const std::string& help, Setter<bool> set) {
  return {key, def, "bool", help, [=](const Json& v, Config& c, Problems& p) {
            if (!v.is_boolean()) return p.wrong_type(key, "a boolean", v);
            set(c, v.get<bool>());
            return true;
          }};
}

// Integral numbers (3.0 counts); the range is checked on the value as written, before narrowing.
KeySpec integer(const std::string& key, int64_t def, int64_t lo, int64_t hi, const std::string& help,
                Setter<int64_t> set) {
  return {key, def, "int", help, [=](const Json& v, Config& c, Problems& p) {
            if (!v.is_number() || (v.is_number_float() && v.get<double>() != std::floor(v.get<double>())))
              return p.wrong_type(key, "an integer", v);
            const double x = v.get<double>();
            if (!(x >= double(lo) && x <= double(hi))) {
              p.fail(key, "is " + v.dump() + "; it must be >= " + std::to_string(lo) +
                              (hi != kExact ? " and <= " + std::to_string(hi) : ""));
              return false;
            }
            set(c, static_cast<int64_t>(x));
            return true;
          }};
}

KeySpec number(const std::string& key, double def, double lo, double hi, bool lo_open, const std::string& help,
               Setter<double> set) {
  return {key, def, "number", help, [=](const Json& v, Config& c, Problems& p) {
            if (!v.is_number()) return p.wrong_type(key, "a number", v);
            const double x = v.get<double>();
            if (x < lo || x > hi || (lo_open && x == lo)) {
              p.fail(key, "is " + number_text(x) + "; it must be " + (lo_open ? "> " : ">= ") + number_text(lo) +
                              (hi < 1e300 ? " and <= " + number_text(hi) : ""));
              return false;
            }
            set(c, x);
            return true;
          }};
}

KeySpec text(const std::string& key, const std::string& def, const std::string& help, Setter<std::string> set) {
  return {key, def, "string", help, [=](const Json& v, Config& c, Problems& p) {
            if (!v.is_string()) return p.wrong_type(key, "a string", v);
            set(c, v.get<std::string>());
            return true;
          }};
}

template <typename E>
KeySpec choice(const std::string& key, E def, const std::string& help, Setter<E> set) {
  return {key, name_of(def), "string", help, [=](const Json& v, Config& c, Problems& p) {
            if (!v.is_string()) return p.wrong_type(key, "a string", v);
            const auto e = parse_choice<E>(v.get<std::string>());
            if (!e) {
              p.fail(key, "is " + v.dump() + "; use one of: " + choice_list<E>());
              return false;
            }
            set(c, *e);
            return true;
          }};
}

template <size_t N>
KeySpec numbers(const std::string& key, std::array<double, N> def, const std::string& help,
                std::function<bool(Config&, std::array<double, N>, Problems&)> set) {
  return {key, def, "[" + std::to_string(N) + " numbers]", help, [=](const Json& v, Config& c, Problems& p) {
            if (!v.is_array() || v.size() != N ||
                !std::all_of(v.begin(), v.end(), [](const Json& x) { return x.is_number(); })) {
              p.fail(key, "must be a list of " + std::to_string(N) + " numbers, got " + v.dump());
              return false;
            }
            std::array<double, N> out{};
            for (size_t i = 0; i < N; ++i) out[i] = v[i].get<double>();
            return set(c, out, p);
          }};
}

KeySpec strings(const std::string& key, std::vector<std::string> def, const std::string& help,
                Setter<std::vector<std::string>> set) {
  return {key, def, "list of strings", help, [=](const Json& v, Config& c, Problems& p) {
            if (!v.is_array() || !std::all_of(v.begin(), v.end(), [](const Json& x) { return x.is_string(); }))
              return p.wrong_type(key, "a list of strings", v);
            set(c, v.get<std::vector<std::string>>());
            return true;
          }};
}

// ---- readers of the keys that take more than one form ----

bool read_normalize(const Json& v, Config& c, Problems& p) {
  const std::string key = "data.normalize";
  DataConfig& d = c.data;
  if (v.is_string()) {
    const auto preset = parse_choice<NormalizePreset>(v.get<std::string>());
    if (!preset || *preset == NormalizePreset::Custom) {
      p.fail(key, "is " + v.dump() + "; use imagenet, caffe, unit or {\"mean\": [...], \"std\": [...]}");
      return false;
    }
    d.normalize_preset = *preset;
    d.normalize = normalization_preset(*preset);
    return true;
  }
  if (!v.is_object() || !v.contains("mean") || !v.contains("std")) {
    p.fail(key, "must be a preset name or an object with \"mean\" and \"std\" lists, got " + v.dump());
    return false;
  }
  bool ok = true;
  Normalization n;
  for (const auto& item : v.items())
    if (item.key() != "mean" && item.key() != "std" && item.key() != "scale" && item.key() != "channel_order")
      p.fail(key + "." + item.key(), "is not a known key; use mean, std, scale, channel_order"), ok = false;
  auto triple = [&](const char* name, std::array<double, 3>& out) {
    const Json& t = v.at(name);
    if (!t.is_array() || t.size() != 3 || !std::all_of(t.begin(), t.end(), [](const Json& x) { return x.is_number(); }))
      return p.fail(key + "." + name, "must be a list of 3 numbers"), void(ok = false);
    for (size_t i = 0; i < 3; ++i) out[i] = t[i].get<double>();
  };
  triple("mean", n.mean);
  triple("std", n.std);
  if (std::any_of(n.std.begin(), n.std.end(), [](double s) { return s <= 0; }))
    p.fail(key + ".std", "values must be > 0"), ok = false;
  if (v.contains("scale")) {
    if (!v["scale"].is_number() || v["scale"].get<double>() <= 0)
      p.fail(key + ".scale", "must be a number > 0"), ok = false;
    else
      n.scale = v["scale"].get<double>();
  }
  if (v.contains("channel_order")) {
    const Json& order = v["channel_order"];
    if (!order.is_string() || (order != "RGB" && order != "BGR"))
      p.fail(key + ".channel_order", "must be \"RGB\" or \"BGR\""), ok = false;
    else
      n.channel_order = order.get<std::string>();
  }
  d.normalize_preset = NormalizePreset::Custom;
  d.normalize = n;
  return ok;
}

// [low, high] with 0 < low <= high.
bool is_range(const Json& t) {
  return t.is_array() && t.size() == 2 && t[0].is_number() && t[1].is_number() && t[0].get<double>() > 0 &&
         t[0].get<double>() <= t[1].get<double>();
}

bool read_brightness(const Json& v, Config& c, Problems& p) {
  if (v.is_null()) return c.data.augment.brightness_range = {1.0, 1.0}, true;
  if (!is_range(v)) {
    p.fail("data.augment.brightness_range", "must be null or [low, high] with 0 < low <= high, got " + v.dump());
    return false;
  }
  c.data.augment.brightness_range = {v[0].get<double>(), v[1].get<double>()};
  return true;
}

bool read_random_resized_crop(const Json& v, Config& c, Problems& p) {
  const std::string key = "data.augment.random_resized_crop";
  AugmentConfig& a = c.data.augment;
  a.crop_scale = {1.0, 1.0};
  a.crop_ratio = {0.75, 4.0 / 3.0};
  if (v.is_null()) return true;
  if (!v.is_object()) {
    p.fail(key, "must be null or {\"scale\": [lo, hi], \"ratio\": [lo, hi]}, got " + v.dump());
    return false;
  }
  bool ok = true;
  a.crop_scale = {0.08, 1.0};
  for (const auto& item : v.items()) {
    if (item.key() != "scale" && item.key() != "ratio")
      p.fail(key + "." + item.key(), "is not a known key; use scale or ratio"), ok = false;
    else if (!is_range(item.value()))
      p.fail(key + "." + item.key(), "must be [low, high] with 0 < low <= high"), ok = false;
    else
      (item.key() == "scale" ? a.crop_scale : a.crop_ratio) = {item.value()[0].get<double>(),
                                                               item.value()[1].get<double>()};
  }
  if (a.crop_scale[1] > 1) p.fail(key + ".scale", "must be within (0, 1]"), ok = false;
  return ok;
}

bool is_integer_text(const std::string& s) {
  return !s.empty() && s.size() <= 7 && std::all_of(s.begin(), s.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
}

// "none", "all", a count or a layer name; names are checked against the backbone when it loads.
bool read_freeze_spec(const Json& v, const std::string& key, std::string& out, Problems& p) {
  if (v.is_number_integer() && v.get<int64_t>() >= 0) return out = std::to_string(v.get<int64_t>()), true;
  if (v.is_string() && !v.get<std::string>().empty()) return out = v.get<std::string>(), true;
  p.fail(key, "must be \"none\", \"all\", a number of layers or a layer name like \"block3_conv3\", got " + v.dump());
  return false;
}

bool read_unfreeze_at(const Json& v, Config& c, Problems& p) {
  c.model.unfreeze_at.clear();
  if (!v.is_object()) {
    p.fail("model.unfreeze_at", "must be an object {\"epoch\": freeze-spec}, got " + v.dump());
    return false;
  }
  bool ok = true;
  for (const auto& item : v.items()) {
    const std::string key = "model.unfreeze_at." + item.key();
    if (!is_integer_text(item.key()) || std::stoi(item.key()) < 1 || std::stoi(item.key()) > kMaxEpochs) {
      p.fail(key, "key must be an epoch number from 1 to " + std::to_string(kMaxEpochs));
      ok = false;
      continue;
    }
    ok = read_freeze_spec(item.value(), key, c.model.unfreeze_at[std::stoi(item.key())], p) && ok;
  }
  return ok;
}

bool read_hidden(const Json& v, Config& c, Problems& p) {
  c.model.head.hidden.clear();
  const bool ok = v.is_array() && std::all_of(v.begin(), v.end(), [](const Json& h) {
                    return h.is_number_integer() && h.get<int64_t>() >= 1 && h.get<int64_t>() <= 65536;
                  });
  if (!ok) {
    p.fail("model.head.hidden", "must be a list of layer widths from 1 to 65536, got " + v.dump());
    return false;
  }
  c.model.head.hidden = v.get<std::vector<int64_t>>();
  return true;
}

// After model.head.hidden: one rate, or one per dense layer (the output layer included).
bool read_dropout(const Json& v, Config& c, Problems& p) {
  const size_t layers = c.model.head.hidden.size() + 1;
  auto rate_ok = [](const Json& x) { return x.is_number() && x.get<double>() >= 0 && x.get<double>() < 1; };
  if (rate_ok(v)) return c.model.head.dropout.assign(layers, v.get<double>()), true;
  if (v.is_array() && v.size() == layers && std::all_of(v.begin(), v.end(), rate_ok))
    return c.model.head.dropout = v.get<std::vector<double>>(), true;
  p.fail("model.head.dropout", "must be a rate in [0, 1) or a list of " + std::to_string(layers) +
                                   " rates (one per dense layer), got " + v.dump());
  c.model.head.dropout.assign(layers, 0.0);
  return false;
}

bool read_class_weights(const Json& v, Config& c, Problems& p) {
  TrainConfig& t = c.train;
  t.class_weights.clear();
  if (v == "none") return t.class_weights_mode = ClassWeights::None, true;
  if (v == "balanced") return t.class_weights_mode = ClassWeights::Balanced, true;
  if (v.is_array() && !v.empty() &&
      std::all_of(v.begin(), v.end(), [](const Json& x) { return x.is_number() && x.get<double>() >= 0; })) {
    t.class_weights_mode = ClassWeights::List;
    t.class_weights = v.get<std::vector<double>>();
    return true;
  }
  p.fail("train.class_weights", "must be \"none\", \"balanced\" or a list of weights >= 0, got " + v.dump());
  return false;
}

bool read_early_stopping_monitor(const Json& v, Config& c, Problems& p) {
  c.train.early_stopping.monitor.reset();
  if (v == "") return true;
  const auto metric = v.is_string() ? parse_choice<Metric>(v.get<std::string>()) : std::nullopt;
  if (!metric) {
    p.fail("train.early_stopping.monitor",
           "is " + v.dump() + "; use \"\" (train.monitor) or one of: " + choice_list<Metric>());
    return false;
  }
  c.train.early_stopping.monitor = metric;
  return true;
}

bool read_cache(const Json& v, Config& c, Problems& p) {
  if (v != "none" && v != "memory") {
    p.fail("data.cache", "is " + v.dump() + "; use one of: none, memory");
    return false;
  }
  c.data.cache_memory = v == "memory";
  return true;
}

bool read_device(const Json& v, Config& c, Problems& p) {
  const std::string d = v.is_string() ? v.get<std::string>() : "";
  if (d != "auto" && d != "cpu" && d.rfind("cuda", 0) != 0) {
    p.fail("device", "is " + v.dump() + "; use auto, cpu, cuda or cuda:N");
    return false;
  }
  c.device = d;
  return true;
}

// The schema: every key once, in the order the configuration reference lists them.
const std::vector<KeySpec>& schema() {
  static const std::vector<KeySpec> specs = [] {
    std::vector<KeySpec> s;
    s.push_back(text("name", "", "experiment name (default: the config file name); default run directory `runs/<name>`",
                     [](Config& c, std::string v) { c.name = v; }));
    s.push_back({"device", "auto", "string",
                 "`auto` (CUDA if LibTorch has it and a GPU is present), `cpu`, `cuda`, `cuda:N`", read_device});
    s.push_back(integer("threads", 0, 0, 1024, "LibTorch intra-op threads (forward and backward); 0 = all cores",
                        [](Config& c, int64_t v) { c.threads = int(v); }));
    // data
    s.push_back(text("data.root", "", "dataset folder", [](Config& c, std::string v) { c.data.root = v; }));
    s.push_back(choice<Layout>("data.layout", Layout::Auto,
                               "`auto`, `food11`, `caltech101`, `fruits360`, `folder` (docs/datasets.md)",
                               [](Config& c, Layout v) { c.data.layout = v; }));
    s.push_back(strings("data.class_names", {},
                        "food11: names of labels 0..K-1 (else `classes.txt`, else Food-11's names for 11 classes)",
                        [](Config& c, std::vector<std::string> v) { c.data.class_names = v; }));
    s.push_back(strings("data.exclude", {"BACKGROUND_Google"}, "class folders to drop",
                        [](Config& c, std::vector<std::string> v) { c.data.exclude = v; }));
    s.push_back(numbers<3>(
        "data.split", {0.7, 0.15, 0.15}, "train/val/test fractions when the tool splits (stratified, seeded)",
        [](Config& c, std::array<double, 3> v, Problems& p) {
          const double sum = v[0] + v[1] + v[2];
          if (std::abs(sum - 1.0) > 1e-6 || v[0] <= 0 || v[1] < 0 || v[2] < 0) {
            p.fail("data.split", "fractions must be >= 0 (train > 0) and sum to 1, got [" + number_text(v[0]) + ", " +
                                     number_text(v[1]) + ", " + number_text(v[2]) + "] (sum " + number_text(sum) + ")");
            return false;
          }
          return c.data.split = v, true;
        }));
    s.push_back(
        integer("data.seed", 42, 0, kExact, "split seed", [](Config& c, int64_t v) { c.data.seed = uint64_t(v); }));
    s.push_back(choice<ValFrom>("data.val_from", ValFrom::Train,
                                "fruits360: carve validation from `Training/` (`train`) or use `Test/` (`test`)",
                                [](Config& c, ValFrom v) { c.data.val_from = v; }));
    s.push_back(number("data.val_fraction", 0.15, 0, 0.95, false,
                       "fraction of train carved out as validation when there is no validation folder",
                       [](Config& c, double v) { c.data.val_fraction = v; }));
    s.push_back(choice<BadImagePolicy>("data.on_bad_image", BadImagePolicy::Skip,
                                       "`skip` (warn, name the file, count) or `fail`",
                                       [](Config& c, BadImagePolicy v) { c.data.on_bad_image = v; }));
    s.push_back(
        choice<ConflictPolicy>("data.on_conflict", ConflictPolicy::Fail,
                               "a file or its exact copy under two classes: `fail` (name the first and the count) or "
                               "`skip` (drop every copy, listed in split.json)",
                               [](Config& c, ConflictPolicy v) { c.data.on_conflict = v; }));
    s.push_back(
        choice<DuplicatePolicy>("data.duplicates", DuplicatePolicy::Warn,
                                "identical images in two fixed splits (leakage): `warn`, `drop` (keep the copy in "
                                "the earlier split) or `fail`; tool-made splits keep copies together",
                                [](Config& c, DuplicatePolicy v) { c.data.duplicates = v; }));
    s.push_back(integer("data.max_pixels", 100000000, 1, kExact, "decoded size cap; bigger images are unusable files",
                        [](Config& c, int64_t v) { c.data.max_pixels = v; }));
    s.push_back(choice<ResizeMode>("data.resize", ResizeMode::Stretch,
                                   "`stretch` to a square (Keras `load_img(target_size=...)`), or "
                                   "`shorter_center_crop` (torchvision Resize + CenterCrop)",
                                   [](Config& c, ResizeMode v) { c.data.resize = v; }));
    s.push_back(choice<Interpolation>(
        "data.interpolation", Interpolation::Area,
        "resampling filter: `area` (OpenCV area averaging; bilinear when enlarging), `nearest` (PIL NEAREST: Keras "
        "`load_img`'s default), `bilinear`, `bicubic` (PIL's antialiased filters: torchvision Resize on PIL images)",
        [](Config& c, Interpolation v) { c.data.interpolation = v; }));
    s.push_back(
        {"data.normalize", "imagenet", "string or object",
         "`imagenet` (torchvision mean/std on RGB in [0,1]), `caffe` (BGR, ImageNet mean subtracted, 0-255: Keras' "
         "VGG16 `preprocess_input`), `unit` (RGB in [0,1]), or `{\"mean\": [..], \"std\": [..], \"scale\": 0.00392, "
         "\"channel_order\": \"RGB\"}`",
         read_normalize});
    s.push_back(integer("data.workers", 0, 0, 256, "decoding threads; 0 = all cores",
                        [](Config& c, int64_t v) { c.data.workers = int(v); }));
    s.push_back({"data.cache", "none", "string",
                 "`memory`: keep decoded, resized images so later epochs skip decoding (the log says how full it got)",
                 read_cache});
    s.push_back(integer("data.cache_bytes", int64_t(2) << 30, 0, kExact, "memory cache budget",
                        [](Config& c, int64_t v) { c.data.cache_bytes = v; }));
    s.push_back(boolean("data.drop_last", false, "drop the last partial training batch",
                        [](Config& c, bool v) { c.data.drop_last = v; }));
    // data.augment
    s.push_back(number("data.augment.rotation_range", 0, 0, 180, false,
                       "degrees, uniform in [-r, r] (training split only)",
                       [](Config& c, double v) { c.data.augment.rotation_range = v; }));
    s.push_back(number("data.augment.width_shift_range", 0, 0, kMaxShiftPixels, false,
                       "< 1: fraction of width; >= 1: pixels (Keras)",
                       [](Config& c, double v) { c.data.augment.width_shift_range = v; }));
    s.push_back(number("data.augment.height_shift_range", 0, 0, kMaxShiftPixels, false,
                       "< 1: fraction of height; >= 1: pixels (Keras)",
                       [](Config& c, double v) { c.data.augment.height_shift_range = v; }));
    s.push_back(number("data.augment.zoom_range", 0, 0, 0.99, false, "zoom uniform in [1-z, 1+z] per axis",
                       [](Config& c, double v) { c.data.augment.zoom_range = v; }));
    s.push_back(number("data.augment.shear_range", 0, 0, 89, false,
                       "degrees, uniform in [-r, r]; Keras' shear matrix (columns slant, rows stay level)",
                       [](Config& c, double v) { c.data.augment.shear_range = v; }));
    s.push_back(boolean("data.augment.horizontal_flip", false, "flip with p = 0.5",
                        [](Config& c, bool v) { c.data.augment.horizontal_flip = v; }));
    s.push_back(boolean("data.augment.vertical_flip", false, "flip with p = 0.5",
                        [](Config& c, bool v) { c.data.augment.vertical_flip = v; }));
    s.push_back(
        {"data.augment.brightness_range", nullptr, "null or [lo, hi]", "multiplicative brightness", read_brightness});
    s.push_back(choice<FillMode>("data.augment.fill_mode", FillMode::Nearest,
                                 "`nearest`, `constant`, `reflect`, `wrap`",
                                 [](Config& c, FillMode v) { c.data.augment.fill_mode = v; }));
    s.push_back({"data.augment.random_resized_crop", nullptr, "null or object",
                 "`{\"scale\": [0.08, 1], \"ratio\": [0.75, 1.333]}`: torchvision RandomResizedCrop of the decoded "
                 "original, resampled to `model.input_size` with `data.interpolation` (training images skip "
                 "`data.resize`)",
                 read_random_resized_crop});
    s.push_back(number("data.augment.color_jitter", 0, 0, 1, false,
                       "torchvision ColorJitter(j, j, j) without hue: brightness, contrast, saturation in an order "
                       "drawn per sample",
                       [](Config& c, double v) { c.data.augment.color_jitter = v; }));
    // model
    s.push_back(text("model.backbone", "models/vgg16.pt",
                     "TorchScript torchvision VGG, ResNet, MobileNet, EfficientNet or ConvNeXt (`scripts/export_backbone.py` or "
                     "`torch.jit.script`), or a tl-train checkpoint",
                     [](Config& c, std::string v) { c.model.backbone = v; }));
    s.push_back(
        {"model.freeze", "none", "string or int",
         "`none`, `all`, N (first N layers with weights) or a layer name (docs/backbones.md), frozen through it",
         [](const Json& v, Config& c, Problems& p) { return read_freeze_spec(v, "model.freeze", c.model.freeze, p); }});
    s.push_back(integer("model.input_size", 224, 32, 4096, "square input side, >= 32",
                        [](Config& c, int64_t v) { c.model.input_size = v; }));
    s.push_back(integer("model.num_classes", 0, 0, 1000000,
                        "class count for `summary` without data; training uses the dataset's (and warns on a mismatch)",
                        [](Config& c, int64_t v) { c.model.num_classes = v; }));
    s.push_back(
        choice<HeadPool>("model.head.pool", HeadPool::Avg,
                         "`avg`, `max` (global pooling), `flatten`, or `vgg` (keep pretrained fc1 -> fc2 with dropout, "
                         "replace the last layer)",
                         [](Config& c, HeadPool v) { c.model.head.pool = v; }));
    s.push_back({"model.head.hidden", Json::array(), "list of ints", "dense widths (ReLU) before the output layer",
                 read_hidden});
    s.push_back({"model.head.dropout", 0.0, "number or list",
                 "dropout before each dense layer (one rate for all, or one per layer incl. the output)",
                 read_dropout});
    s.push_back({"model.unfreeze_at", Json::object(), "object",
                 "`{\"epoch\": freeze-spec}`: thaw more layers from that epoch on (fastai's fine_tune)",
                 read_unfreeze_at});
    // optim
    s.push_back(choice<OptimizerName>("optim.name", OptimizerName::Adam, "`adam`, `adamw`, `sgd`",
                                      [](Config& c, OptimizerName v) { c.optim.name = v; }));
    s.push_back(number("optim.lr", 0.001, 0, 10, true, "learning rate of the head (0 < lr <= 10)",
                       [](Config& c, double v) { c.optim.lr = v; }));
    s.push_back(
        numbers<2>("optim.betas", {0.9, 0.999}, "Adam/AdamW", [](Config& c, std::array<double, 2> v, Problems& p) {
          if (v[0] < 0 || v[0] >= 1 || v[1] < 0 || v[1] >= 1)
            return p.fail("optim.betas", "values must be in [0, 1)"), false;
          return c.optim.betas = v, true;
        }));
    s.push_back(number("optim.eps", 1e-8, 0, 1, true, "Adam/AdamW", [](Config& c, double v) { c.optim.eps = v; }));
    s.push_back(number("optim.weight_decay", 0, 0, 1, false, "L2 (Adam, SGD) or decoupled (AdamW)",
                       [](Config& c, double v) { c.optim.weight_decay = v; }));
    s.push_back(boolean("optim.amsgrad", false, "Adam/AdamW", [](Config& c, bool v) { c.optim.amsgrad = v; }));
    s.push_back(
        number("optim.momentum", 0, 0, 0.999999, false, "SGD", [](Config& c, double v) { c.optim.momentum = v; }));
    s.push_back(
        boolean("optim.nesterov", false, "SGD (needs momentum > 0)", [](Config& c, bool v) { c.optim.nesterov = v; }));
    s.push_back(number("optim.backbone_lr_mult", 1.0, 0, 100, false,
                       "learning rate of unfrozen backbone layers = lr x this",
                       [](Config& c, double v) { c.optim.backbone_lr_mult = v; }));
    s.push_back(choice<ScheduleName>("optim.schedule.name", ScheduleName::Constant,
                                     "`constant`, `step`, `cosine`, `plateau`",
                                     [](Config& c, ScheduleName v) { c.optim.schedule.name = v; }));
    s.push_back(integer("optim.schedule.step_size", 10, 1, kMaxEpochs,
                        "step: multiply by gamma every step_size epochs (counted after the warm-up)",
                        [](Config& c, int64_t v) { c.optim.schedule.step_size = int(v); }));
    s.push_back(number("optim.schedule.gamma", 0.1, 0, 1, true, "step",
                       [](Config& c, double v) { c.optim.schedule.gamma = v; }));
    s.push_back(integer("optim.schedule.warmup_epochs", 0, 0, kMaxEpochs,
                        "linear warm-up epochs (factor e/(w+1)), before any schedule",
                        [](Config& c, int64_t v) { c.optim.schedule.warmup_epochs = int(v); }));
    s.push_back(choice<Metric>("optim.schedule.monitor", Metric::ValLoss,
                               "plateau: `val_loss`, `val_acc`, `loss`, `acc`",
                               [](Config& c, Metric v) { c.optim.schedule.monitor = v; }));
    s.push_back(number("optim.schedule.factor", 0.1, 0, 1, true, "plateau: multiply the lr by this",
                       [](Config& c, double v) { c.optim.schedule.factor = v; }));
    s.push_back(
        integer("optim.schedule.patience", 5, 0, kMaxEpochs,
                "plateau: epochs without improvement tolerated; the next one reduces (PyTorch ReduceLROnPlateau)",
                [](Config& c, int64_t v) { c.optim.schedule.patience = int(v); }));
    s.push_back(number("optim.schedule.min_lr", 0, 0, 10, false,
                       "plateau: lower bound of the head's lr; each group's bound scales with its base rate",
                       [](Config& c, double v) { c.optim.schedule.min_lr = v; }));
    // train
    s.push_back(integer("train.epochs", 10, 1, kMaxEpochs, "", [](Config& c, int64_t v) { c.train.epochs = int(v); }));
    s.push_back(integer("train.batch_size", 32, 1, 1 << 20,
                        "per process (data-parallel runs multiply it by the world size)",
                        [](Config& c, int64_t v) { c.train.batch_size = int(v); }));
    s.push_back(integer("train.seed", 42, 0, kExact, "head initialisation, shuffling, augmentation, dropout",
                        [](Config& c, int64_t v) { c.train.seed = uint64_t(v); }));
    s.push_back(number("train.label_smoothing", 0, 0, 0.999, false,
                       "cross-entropy label smoothing (training and validation loss)",
                       [](Config& c, double v) { c.train.label_smoothing = v; }));
    s.push_back(
        {"train.class_weights", "none", "string or list",
         "`none`, `balanced` (n / (K x count), from the training split) or one weight per class (training loss only)",
         read_class_weights});
    s.push_back(number("train.clip_grad_norm", 0, 0, 1e12, false, "clip the global gradient norm (0 = off)",
                       [](Config& c, double v) { c.train.clip_grad_norm = v; }));
    s.push_back(integer("train.accumulate", 1, 1, 1 << 16, "gradient accumulation steps (weighted by samples)",
                        [](Config& c, int64_t v) { c.train.accumulate = int(v); }));
    s.push_back(text("train.out", "", "run directory (default `runs/<name>`)",
                     [](Config& c, std::string v) { c.train.out = v; }));
    s.push_back(
        choice<Metric>("train.monitor", Metric::ValLoss,
                       "what picks `best.pt`: `val_loss`, `val_acc`, `loss`, `acc` (val_* fall back to the training "
                       "metric without a validation split)",
                       [](Config& c, Metric v) { c.train.monitor = v; }));
    s.push_back(choice<MonitorMode>("train.mode", MonitorMode::Auto, "`min`, `max`, or auto (max for accuracies)",
                                    [](Config& c, MonitorMode v) { c.train.mode = v; }));
    s.push_back(boolean("train.early_stopping.enabled", false, "Keras EarlyStopping",
                        [](Config& c, bool v) { c.train.early_stopping.enabled = v; }));
    s.push_back(
        {"train.early_stopping.monitor", "", "string", "default: `train.monitor`", read_early_stopping_monitor});
    s.push_back(integer("train.early_stopping.patience", 5, 0, kMaxEpochs,
                        "stop after this many epochs without improvement (Keras: `wait >= patience`)",
                        [](Config& c, int64_t v) { c.train.early_stopping.patience = int(v); }));
    s.push_back(number("train.early_stopping.min_delta", 0, 0, 1e12, false,
                       "smallest change that counts as improvement",
                       [](Config& c, double v) { c.train.early_stopping.min_delta = v; }));
    s.push_back(boolean("train.early_stopping.restore_best", true,
                        "when early stopping ends the run, its final model (and test evaluation) is the early-stopping "
                        "monitor's best epoch, as Keras' `restore_best_weights`; otherwise the last epoch",
                        [](Config& c, bool v) { c.train.early_stopping.restore_best = v; }));
    s.push_back(choice<FeatureCacheMode>(
        "train.feature_cache", FeatureCacheMode::Auto,
        "`auto`: cache the frozen prefix's outputs when nothing random happens before it; `off`",
        [](Config& c, FeatureCacheMode v) { c.train.feature_cache = v; }));
    s.push_back(integer("train.feature_cache_bytes", int64_t(4) << 30, 0, kExact,
                        "cache budget; over it the cache is off (logged)",
                        [](Config& c, int64_t v) { c.train.feature_cache_bytes = v; }));
    s.push_back(
        choice<Amp>("train.amp", Amp::Off, "CUDA only: `fp16`, `bf16`", [](Config& c, Amp v) { c.train.amp = v; }));
    s.push_back(
        boolean("train.channels_last", false, "CUDA only", [](Config& c, bool v) { c.train.channels_last = v; }));
    s.push_back(boolean("train.eval_test", true, "score the final model on the test split at the end",
                        [](Config& c, bool v) { c.train.eval_test = v; }));
    // dist
    s.push_back(choice<DistBackend>("dist.backend", DistBackend::Auto,
                                    "data parallel: `auto` (Gloo, CUDA tensors included), `gloo`, or `nccl` (refused: not "
                                    "built in yet)",
                                    [](Config& c, DistBackend v) { c.dist.backend = v; }));
    s.push_back(number("dist.timeout_s", 60, 1, 86400, false,
                       "data parallel: how long a rank waits for the others (joining, every collective) before it "
                       "gives up",
                       [](Config& c, double v) { c.dist.timeout_s = v; }));
    s.push_back(number("dist.bucket_mb", 25, 0.001, 4096, false,
                       "data parallel: gradients are all-reduced in flattened buckets of about this size",
                       [](Config& c, double v) { c.dist.bucket_mb = v; }));
    return s;
  }();
  return specs;
}

const KeySpec* find_spec(const std::string& key) {
  for (const auto& spec : schema())
    if (spec.key == key) return &spec;
  return nullptr;
}

Json& node_at(Json& root, const std::string& dotted) {
  Json* node = &root;
  std::stringstream ss(dotted);
  for (std::string part; std::getline(ss, part, '.');) node = &(*node)[part];
  return *node;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string suggestion(const std::string& key, const Json& group, const std::string& prefix) {
  std::string best;
  size_t best_distance = std::max<size_t>(3, key.size() / 3) + 1;
  for (const auto& item : group.items()) {
    const size_t d = edit_distance(key, item.key());
    if (d < best_distance) best_distance = d, best = item.key();
  }
  return best.empty() ? "" : " (did you mean '" + prefix + best + "'?)";
}

// Copies `user` over the defaults: groups recurse, a key of the schema takes the value as given
// (its reader checks it), anything else is unknown (dropped silently when lenient).
void merge(Json& target, const Json& user, const Json& group, const std::string& prefix, Problems& p) {
  for (const auto& item : user.items()) {
    const std::string key = prefix + item.key();
    if (!group.contains(item.key())) {
      if (!p.lenient())
        p.fail(key, "is not a known key" + suggestion(item.key(), group, prefix) + "; see docs/configuration.md");
      continue;
    }
    if (find_spec(key))
      target[item.key()] = item.value();
    else if (item.value().is_object())
      merge(target[item.key()], item.value(), group.at(item.key()), key + ".", p);
    else
      p.wrong_type(key, "an object", item.value());
  }
}

void cross_checks(Config& c, Problems& p) {
  if (c.optim.nesterov && c.optim.momentum <= 0) p.fail("optim.nesterov", "needs optim.momentum > 0");
  if (c.model.head.pool == HeadPool::Vgg && !c.model.head.hidden.empty())
    p.fail("model.head.hidden", "must be empty with pool \"vgg\" (the pretrained fc1 and fc2 are the hidden layers)");
  if (c.model.backbone.empty()) p.fail("model.backbone", "is empty; export one with scripts/export_backbone.py");
}

Config parse(const Json& user, const std::string& source, const Origins& origins, bool lenient) {
  Problems problems(source, origins, lenient);
  if (!user.is_object()) {
    problems.fail("", "must hold a JSON object at the top level");
    problems.throw_if_any();
    return parse(Json::object(), source, origins, lenient);
  }
  Json merged = default_config_json();
  merge(merged, user, default_config_json(), "", problems);
  Config c;
  for (const auto& spec : schema()) {
    Json& value = node_at(merged, spec.key);
    if (!spec.read(value, c, problems) && lenient) {
      value = spec.default_value;
      spec.read(value, c, problems);
    }
  }
  if (!problems.any()) cross_checks(c, problems);
  problems.throw_if_any();
  c.resolved = merged;
  return c;
}

// ---- reading the file ----

// An iterator over the config text that counts the characters the JSON parser has read, so that
// its callback knows where in the file a key ends.
class CountingIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;
  CountingIterator(const char* p, size_t* consumed) : p_(p), consumed_(consumed) {}
  reference operator*() const { return *p_; }
  CountingIterator& operator++() {
    ++p_;
    ++*consumed_;
    return *this;
  }
  bool operator==(const CountingIterator& o) const { return p_ == o.p_; }
  bool operator!=(const CountingIterator& o) const { return p_ != o.p_; }

 private:
  const char* p_;
  size_t* consumed_;
};

std::string line_column(const std::string& text, size_t offset) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n')
      ++line, column = 1;
    else
      ++column;
  }
  return std::to_string(line) + ":" + std::to_string(column);
}

// Parses the config file; a syntax error or a key given twice in one object (nlohmann would keep
// the last silently) is a ConfigError with file:line:column.
Json parse_config_text(const std::string& path, const std::string& text) {
  size_t consumed = 0;
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  size_t duplicate_end = 0;
  auto on_event = [&](int, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::object_start) open_objects.emplace_back();
    if (event == Json::parse_event_t::object_end && !open_objects.empty()) open_objects.pop_back();
    if (event == Json::parse_event_t::key && !open_objects.empty() && duplicate.empty() &&
        !open_objects.back().insert(parsed.get<std::string>()).second) {
      duplicate = parsed.get<std::string>();
      duplicate_end = consumed;  // just after the key's closing quote
    }
    return true;
  };
  Json user;
  try {
    const char* begin = text.data();
    user = Json::parse(CountingIterator(begin, &consumed), CountingIterator(begin + text.size(), &consumed), on_event,
                       /*allow_exceptions=*/true, /*ignore_comments=*/true);
  } catch (const Json::parse_error& e) {
    const std::string what = e.what();
    const auto pos = what.find("syntax error");
    throw ConfigError(path + ":" + line_column(text, e.byte > 0 ? e.byte - 1 : 0) + ": invalid JSON (" +
                      (pos == std::string::npos ? what : what.substr(pos)) + ")");
  } catch (const Json::out_of_range& e) {  // a number beyond a double; nlohmann gives no position
    const std::string what = e.what();
    throw ConfigError(path + ": invalid JSON (" + what.substr(what.find("] ") + 2) + "); numbers must fit in a double");
  }
  if (!duplicate.empty()) {
    const size_t start = text.rfind('"' + duplicate + '"', duplicate_end);
    throw ConfigError(path + ":" + line_column(text, start == std::string::npos ? duplicate_end : start) + ": key '" +
                      duplicate + "' appears twice in the same object; keep one");
  }
  return user;
}

// Sets `value` at `path` of `node`, merging objects into objects below the schema's keys.
void merge_value(Json& node, const std::string& path, const Json& value) {
  if (value.is_object() && node.is_object() && !find_spec(path)) {
    for (const auto& item : value.items()) merge_value(node[item.key()], path + "." + item.key(), item.value());
    return;
  }
  node = value;
}

void record_origins(Origins& origins, const std::string& key, const Json& value, const std::string& origin) {
  origins[key] = origin;
  if (value.is_object() && !find_spec(key))
    for (const auto& item : value.items()) record_origins(origins, key + "." + item.key(), item.value(), origin);
}

void apply_override(Json& config, const std::string& assignment, Origins* origins) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ConfigError("--set '" + assignment + "': expected key=value, e.g. --set train.epochs=3");
  if (!is_valid_utf8(assignment))  // a JSON config holds UTF-8 text only
    throw ConfigError("--set: '" + printable(assignment.substr(0, eq)) + "=...' is not UTF-8 text; pass it as UTF-8");
  const std::string key = assignment.substr(0, eq);
  const std::string text = assignment.substr(eq + 1);
  Json value;
  try {
    value = Json::parse(text);
  } catch (const Json::exception&) {  // a syntax error, or a number beyond a double (1e400)
    value = text;                     // not JSON: take it as a plain string (paths, names)
  }
  Json* node = &config;
  std::stringstream ss(key);
  std::string path;
  for (std::string part; std::getline(ss, part, '.');) {
    if (part.empty()) throw ConfigError("--set '" + assignment + "': empty part in key '" + key + "'");
    if (!node->is_object()) *node = Json::object();
    node = &(*node)[part];
    path += (path.empty() ? "" : ".") + part;
  }
  if (key.back() == '.') throw ConfigError("--set '" + assignment + "': empty part in key '" + key + "'");
  merge_value(*node, key, value);
  if (origins) record_origins(*origins, key, value, "--set " + assignment);
}

}  // namespace

bool AugmentConfig::enabled() const {
  return rotation_range > 0 || width_shift_range > 0 || height_shift_range > 0 || zoom_range > 0 || shear_range > 0 ||
         horizontal_flip || vertical_flip || brightness_range[0] != 1.0 || brightness_range[1] != 1.0 ||
         crop_enabled() || color_jitter > 0;
}

const Json& default_config_json() {
  static const Json defaults = [] {
    Json d = Json::object();
    for (const auto& spec : schema()) node_at(d, spec.key) = spec.default_value;
    return d;
  }();
  return defaults;
}

Config default_config() { return parse_config(Json::object(), "defaults"); }

Normalization normalization_preset(NormalizePreset preset) {
  Normalization n;  // imagenet: torchvision's RGB mean/std on [0, 1]
  switch (preset) {
    case NormalizePreset::ImageNet:
      break;
    case NormalizePreset::Caffe:
      n.channel_order = "BGR";
      n.scale = 1.0;
      n.mean = {103.939, 116.779, 123.68};
      n.std = {1.0, 1.0, 1.0};
      break;
    case NormalizePreset::Unit:
      n.mean = {0, 0, 0};
      n.std = {1, 1, 1};
      break;
    case NormalizePreset::Custom:
      throw std::invalid_argument("a custom normalisation has no preset numbers");
  }
  return n;
}

void apply_override(Json& config, const std::string& assignment) { apply_override(config, assignment, nullptr); }

Config parse_config(const Json& user, const std::string& source, const Origins& origins) {
  return parse(user, source, origins, /*lenient=*/false);
}

Config parse_config_leniently(const Json& recorded, const std::string& source) {
  return parse(recorded, source, {}, /*lenient=*/true);
}

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError(path + ": cannot open the config file" +
                      std::string(std::filesystem::exists(path) ? " (permission denied?)" : " (no such file)") +
                      "; pass an existing file with --config, e.g. configs/demo_fashion.json");
  }
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Json user = parse_config_text(path, text);
  Origins origins;
  for (const auto& o : overrides) apply_override(user, o, &origins);
  Config c = parse_config(user, path, origins);
  if (c.name.empty()) {
    c.name = std::filesystem::path(path).stem().string();
    c.resolved["name"] = c.name;
  }
  return c;
}

std::string configuration_reference_markdown() {
  std::string out = "| key | type | default | meaning |\n|---|---|---|---|\n";
  for (const auto& spec : schema()) {
    std::string meaning = spec.help;
    out += "| `" + spec.key + "` | " + spec.type + " | `" + spec.default_value.dump() + "` | " + meaning + " |\n";
  }
  return out;
}

}  // namespace tl
