#pragma once
// The pictures of a run: the training curves and the confusion-matrix heatmap as PNG (drawn with
// OpenCV, no plotting library needed).
#include <string>
#include <vector>

#include "tl/history.h"
#include "tl/metrics.h"

namespace tl {

// Two panels side by side: accuracy and loss per epoch, train vs validation, with axes and legend.
// Returns an encoded PNG.
std::vector<unsigned char> render_curves_png(const std::vector<EpochRecord>& history);

// A heatmap of the confusion matrix with class names and counts; cells and fonts scale so that
// 11 classes are easy to read and 100+ remain legible. Colour is the count's share of its row
// (the true class), white to dark blue. Returns an encoded PNG.
std::vector<unsigned char> render_confusion_png(const ConfusionMatrix& cm);

// Where render_confusion_png puts things: cell (t, p) covers the square of side `cell` whose
// top-left corner is (left + p * cell, top + t * cell). Images stay within 2400 x 2400 px for up
// to 2000 classes (cells of at least 1 px).
struct ConfusionLayout {
  int width = 0, height = 0;  // of the whole image
  int left = 0, top = 0;      // top-left corner of the grid
  int cell = 0;               // side of one cell in pixels
  bool show_counts = false;   // counts are printed only when they fit in a cell
};
ConfusionLayout confusion_layout(const ConfusionMatrix& cm);

// The learning-rate range test: loss and smoothed loss against the rate on a log axis, the
// suggested rate (NaN: none) marked in red. Returns an encoded PNG.
std::vector<unsigned char> render_lr_find_png(const std::vector<double>& lrs, const std::vector<double>& losses,
                                              const std::vector<double>& smoothed, double suggested);

}  // namespace tl
