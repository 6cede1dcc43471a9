#pragma once
// The configuration of one experiment: a JSON file, overridden by `--set key=value`, checked as a
// whole against the schema (every key, its type and its range) before anything runs. Every
// problem found is reported at once in one ConfigError, one line per problem, naming where the
// value came from (the file, or the --set that gave it). The schema itself is the table in src/config.cpp.
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tl/choices.h"
#include "tl/json.h"

namespace tl {

struct Normalization {
  std::string channel_order = "RGB";                // "RGB" or "BGR": order fed to the model
  double scale = 1.0 / 255.0;                       // applied to 0-255 pixels first
  std::array<double, 3> mean{0.485, 0.456, 0.406};  // then (x - mean) / std, per channel,
  std::array<double, 3> std{0.229, 0.224, 0.225};   // on the scaled values, in channel_order
};

// The structs below hold a parsed config. Their members carry no defaults of their own: the
// schema in config.cpp declares each key once (type, default, range, help), and default_config()
// gives every default. The one exception, AugmentConfig, default-constructs to "no augmentation",
// which is also the schema's default (a test checks that they agree).
struct AugmentConfig {
  double rotation_range = 0;      // degrees, uniform in [-r, r]
  double width_shift_range = 0;   // < 1: fraction of width; >= 1: pixels (Keras)
  double height_shift_range = 0;  // < 1: fraction of height; >= 1: pixels
  double zoom_range = 0;          // zoom factor uniform in [1-z, 1+z]
  double shear_range = 0;         // degrees; Keras' matrix [[1, -sin], [0, cos]] in (x, y)
  bool horizontal_flip = false;
  bool vertical_flip = false;
  std::array<double, 2> brightness_range{1.0, 1.0};  // multiplicative, uniform
  FillMode fill_mode = FillMode::Nearest;
  std::array<double, 2> crop_scale{1.0, 1.0};  // random_resized_crop area fraction of the original (off when 1,1)
  std::array<double, 2> crop_ratio{0.75, 4.0 / 3.0};  // random_resized_crop aspect ratio
  double color_jitter = 0;                            // brightness/contrast/saturation strength, random order
  bool enabled() const;
  bool crop_enabled() const { return crop_scale[0] != 1.0 || crop_scale[1] != 1.0; }
};

struct DataConfig {
  std::string root;  // dataset folder
  Layout layout{};
  std::vector<std::string> class_names;  // food11: names for labels 0..K-1
  std::vector<std::string> exclude{};    // class folders to drop
  std::array<double, 3> split{};         // train/val/test fractions when the tool splits
  uint64_t seed{};                       // split seed
  ValFrom val_from{};                    // fruits360: carve val from Training or use Test
  double val_fraction{};                 // val carved from train when there is no val folder
  BadImagePolicy on_bad_image{};
  ConflictPolicy on_conflict{};  // one file (or content) under two labels
  DuplicatePolicy duplicates{};  // identical content across fixed splits (leakage)
  int64_t max_pixels{};          // decoded image size cap
  ResizeMode resize{};
  Interpolation interpolation{};  // the resampling filter of every resize
  NormalizePreset normalize_preset{};
  Normalization normalize;
  int workers{};          // decoding threads; 0 = all cores
  bool cache_memory{};    // data.cache "memory"
  int64_t cache_bytes{};  // memory cache budget
  bool drop_last{};
  AugmentConfig augment;
};

struct HeadConfig {
  HeadPool pool{};
  std::vector<int64_t> hidden;  // dense widths (ReLU) before the output layer
  std::vector<double> dropout;  // one rate per dense layer (output included), broadcast from a number
};

struct ModelConfig {
  std::string backbone{};
  std::string freeze{};  // none | all | integer N | layer name (checked against the backbone)
  int64_t input_size{};
  int64_t num_classes{};  // for `summary` without a dataset; 0 = from the data
  HeadConfig head;
  std::map<int, std::string> unfreeze_at;  // epoch (1-based) -> freeze spec from then on
};

struct ScheduleConfig {
  ScheduleName name{};
  int step_size{};
  double gamma{};
  int warmup_epochs{};
  Metric monitor{};
  double factor{};
  int patience{};
  double min_lr{};
};

struct OptimConfig {
  OptimizerName name{};
  double lr{};
  std::array<double, 2> betas{};
  double eps{};
  double weight_decay{};
  bool amsgrad{};
  double momentum{};
  bool nesterov{};
  double backbone_lr_mult{};
  ScheduleConfig schedule;
};

struct EarlyStoppingConfig {
  bool enabled{};
  std::optional<Metric> monitor;  // unset: train.monitor
  int patience{};
  double min_delta{};
  bool restore_best{};
};

struct TrainConfig {
  int epochs{};
  int batch_size{};  // per process
  uint64_t seed{};
  double label_smoothing{};
  ClassWeights class_weights_mode{};
  std::vector<double> class_weights;  // with ClassWeights::List
  double clip_grad_norm{};
  int accumulate{};
  std::string out;  // run directory; empty = runs/<name>
  Metric monitor{};
  MonitorMode mode{};
  EarlyStoppingConfig early_stopping;
  FeatureCacheMode feature_cache{};
  int64_t feature_cache_bytes{};
  Amp amp{};             // CUDA only
  bool channels_last{};  // CUDA only
  bool eval_test{};      // evaluate the final model on the test split at the end
};

// Data parallel settings that are not per launch (the launch's are flags or torchrun's environment).
struct DistConfig {
  DistBackend backend{};  // auto: NCCL for CUDA where LibTorch has it, else Gloo
  double timeout_s{};     // how long a rank waits for the others before it gives up
  double bucket_mb{};     // gradients are all-reduced in flattened buckets of about this size
};

struct Config {
  std::string name;      // experiment name; default: config file name without .json
  std::string device{};  // auto | cpu | cuda | cuda:N
  int threads{};         // intra-op threads; 0 = all cores
  DataConfig data;
  ModelConfig model;
  OptimConfig optim;
  TrainConfig train;
  DistConfig dist;
  Json resolved;  // the merged, defaults-filled JSON this was parsed from
};

// A config with every key at its default (no data.root).
Config default_config();

// The full schema with its defaults, in the order the configuration reference documents it.
const Json& default_config_json();

// Applies one `key=value` override (dotted key; value parsed as JSON, else taken as a string). An
// object value merges into an object already there (earlier --set model.x survive --set model={..}).
// Throws ConfigError for a malformed override.
void apply_override(Json& config, const std::string& assignment);

// Where each value came from, for messages: dotted key -> "--set key=value" (keys not listed come
// from the file).
using Origins = std::map<std::string, std::string>;

// Merges `user` into the defaults and checks every key, type and range. `source` names the file
// in messages. Throws ConfigError listing every problem.
Config parse_config(const Json& user, const std::string& source, const Origins& origins = {});

// For configs recorded in checkpoints and run directories by this or an older tl-train: unknown
// keys are ignored and unusable values fall back to their defaults, each with a warning, so that
// a later schema change never makes an old checkpoint unloadable.
Config parse_config_leniently(const Json& recorded, const std::string& source);

// Reads a JSON file (comments allowed; syntax errors and duplicate keys as file:line:column),
// applies overrides, parses.
Config load_config(const std::string& path, const std::vector<std::string>& overrides);

// Resolves a normalisation preset into numbers (Custom has none: throws std::invalid_argument).
Normalization normalization_preset(NormalizePreset preset);

// The configuration reference as a Markdown table (key, type, default, meaning), generated from
// the schema; docs/configuration.md carries it (a test checks they agree).
std::string configuration_reference_markdown();

}  // namespace tl
