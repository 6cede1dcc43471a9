#pragma once
// The configuration of one experiment: a JSON file, overridden by `--set key=value`, checked as a
// whole against the schema (every key, its type and its range) before anything runs. Every
// problem found is reported at once in one ConfigError, one line per problem.
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tl {

using Json = nlohmann::ordered_json;

struct Normalization {
  std::string channel_order = "RGB";                   // "RGB" or "BGR": order fed to the model
  double scale = 1.0 / 255.0;                          // applied to 0-255 pixels first
  std::array<double, 3> mean{0.485, 0.456, 0.406};     // then (x - mean) / std, per channel,
  std::array<double, 3> std{0.229, 0.224, 0.225};      // on the scaled values, in channel_order
};

struct AugmentConfig {
  double rotation_range = 0;       // degrees, uniform in [-r, r]
  double width_shift_range = 0;    // fraction of width
  double height_shift_range = 0;   // fraction of height
  double zoom_range = 0;           // zoom factor uniform in [1-z, 1+z]
  double shear_range = 0;          // degrees
  bool horizontal_flip = false;
  bool vertical_flip = false;
  std::array<double, 2> brightness_range{1.0, 1.0};  // multiplicative, uniform
  std::string fill_mode = "nearest";                 // nearest | constant | reflect | wrap
  std::array<double, 2> crop_scale{1.0, 1.0};        // random_resized_crop area fraction (off when 1,1)
  std::array<double, 2> crop_ratio{0.75, 4.0 / 3.0}; // random_resized_crop aspect ratio
  double color_jitter = 0;                           // brightness/contrast/saturation jitter strength
  bool enabled() const;
};

struct DataConfig {
  std::string root;                              // dataset folder
  std::string layout = "auto";                   // auto | food11 | caltech101 | fruits360 | folder
  std::vector<std::string> class_names;          // food11: names for labels 0..K-1
  std::vector<std::string> exclude{"BACKGROUND_Google"};  // class folders to drop
  std::array<double, 3> split{0.70, 0.15, 0.15}; // train/val/test fractions when the tool splits
  uint64_t seed = 42;                            // split seed
  std::string val_from = "train";                // fruits360: carve val from Training or use Test
  double val_fraction = 0.15;                    // fruits360/folder: val carved from train
  std::string on_bad_image = "skip";             // skip | fail
  int64_t max_pixels = 100000000;                // decoded image size cap
  std::string resize = "stretch";                // stretch | shorter_center_crop
  std::string normalize_name = "imagenet";       // imagenet | caffe | unit | custom
  Normalization normalize;
  int workers = 0;                               // decoding threads; 0 = all cores
  std::string cache = "none";                    // none | memory
  int64_t cache_bytes = int64_t(2) << 30;        // memory cache budget
  bool drop_last = false;
  AugmentConfig augment;
};

struct HeadConfig {
  std::string pool = "avg";          // avg | max | flatten | vgg
  std::vector<int64_t> hidden;       // dense widths (ReLU) before the output layer
  std::vector<double> dropout;       // one rate per dense layer (output included), broadcast from a number
};

struct ModelConfig {
  std::string backbone = "models/vgg16.pt";
  std::string freeze = "none";       // none | all | integer N | Keras layer name
  int64_t input_size = 224;
  int64_t num_classes = 0;           // for `summary` without a dataset; 0 = from the data
  HeadConfig head;
  std::map<int, std::string> unfreeze_at;  // epoch (1-based) -> freeze spec from then on
};

struct ScheduleConfig {
  std::string name = "constant";     // constant | step | cosine | plateau
  int step_size = 10;
  double gamma = 0.1;
  int warmup_epochs = 0;
  std::string monitor = "val_loss";
  double factor = 0.1;
  int patience = 5;
  double min_lr = 0;
};

struct OptimConfig {
  std::string name = "adam";         // adam | adamw | sgd
  double lr = 1e-3;
  std::array<double, 2> betas{0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0;
  bool amsgrad = false;
  double momentum = 0;
  bool nesterov = false;
  double backbone_lr_mult = 1.0;
  ScheduleConfig schedule;
};

struct EarlyStoppingConfig {
  bool enabled = false;
  std::string monitor = "";          // empty = train.monitor
  int patience = 5;
  double min_delta = 0;
  bool restore_best = true;
};

struct TrainConfig {
  int epochs = 10;
  int batch_size = 32;
  uint64_t seed = 42;
  double label_smoothing = 0;
  std::string class_weights_mode = "none";  // none | balanced | list
  std::vector<double> class_weights;
  double clip_grad_norm = 0;
  int accumulate = 1;
  std::string out;                   // run directory; empty = runs/<name>
  std::string monitor = "val_loss";  // val_loss | val_acc | loss | acc
  std::string mode = "auto";         // auto | min | max
  EarlyStoppingConfig early_stopping;
  std::string feature_cache = "auto";  // auto | off
  int64_t feature_cache_bytes = int64_t(4) << 30;
  std::string amp = "off";           // off | fp16 | bf16 (CUDA only)
  bool channels_last = false;
  bool eval_test = true;             // evaluate best model on the test split at the end
};

struct Config {
  std::string name;                  // experiment name; default: config file name without .json
  std::string device = "auto";       // auto | cpu | cuda | cuda:N
  int threads = 0;                   // intra-op threads; 0 = all cores
  DataConfig data;
  ModelConfig model;
  OptimConfig optim;
  TrainConfig train;
  Json resolved;                     // the merged, defaults-filled JSON this was parsed from
};

// The full schema with its defaults, in the order the README documents it.
const Json& default_config_json();

// Applies one `key=value` override (dotted key; value parsed as JSON, else taken as a string).
// Throws ConfigError for a malformed override.
void apply_override(Json& config, const std::string& assignment);

// Merges `user` into the defaults and checks every key, type and range. `source` names the file
// in messages. Throws ConfigError listing every problem.
Config parse_config(const Json& user, const std::string& source);

// Reads a JSON file (line/column on syntax errors), applies overrides, parses.
Config load_config(const std::string& path, const std::vector<std::string>& overrides);

// Resolves a normalisation preset name into numbers.
Normalization normalization_preset(const std::string& name);

}  // namespace tl
