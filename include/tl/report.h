#pragma once
// Human-facing outputs of a run: the epoch history as CSV and JSON, the training curves and the
// confusion-matrix heatmap as PNG (drawn with OpenCV, no plotting library needed).
#include <string>
#include <vector>

#include "tl/config.h"
#include "tl/metrics.h"

namespace tl {

struct EpochRecord {
  int epoch = 0;          // 1-based
  double loss = 0, acc = 0, val_loss = 0, val_acc = 0;
  double lr = 0;
  double seconds = 0;
};

Json history_to_json(const std::vector<EpochRecord>& history);
std::vector<EpochRecord> history_from_json(const Json& json);
std::string history_to_csv(const std::vector<EpochRecord>& history);

// Two panels side by side: accuracy and loss per epoch, train vs validation, with axes and legend.
// Returns an encoded PNG.
std::vector<unsigned char> render_curves_png(const std::vector<EpochRecord>& history);

// A heatmap of the confusion matrix with class names and counts; cells and fonts scale so that
// 11 classes are easy to read and 100+ remain legible. Returns an encoded PNG.
std::vector<unsigned char> render_confusion_png(const ConfusionMatrix& cm);

}  // namespace tl
