#pragma once
// Grad-CAM (Selvaraju et al. 2017): where in an image the evidence for a class lies. The
// gradients of the class's logit with respect to a feature stage's output, averaged over space,
// weight that output's channels; the ReLU of the weighted sum, scaled to [0, 1], is the map.
#include <optional>
#include <string>

#include <torch/torch.h>
#include <opencv2/core.hpp>

#include "tl/config.h"
#include "tl/model.h"

namespace tl {

// Maps for a batch: [N, h, w] at the stage's resolution, each scaled to [0, 1] (all zeros when
// nothing speaks for the class). `classes` [N] picks the class explained per image. The model
// should be in eval mode; its weights may be frozen (gradients reach the stage's output anyway).
torch::Tensor grad_cam(TransferModel& model, const torch::Tensor& images, const std::string& layer,
                       const torch::Tensor& classes);

struct CamOverlay {
  cv::Mat bgr;         // the original image with the heatmap blended on it (what the model saw)
  // The map's maximum in the original image's pixels; none when the map is zero everywhere
  // (the class was decided by what the image lacks, which Grad-CAM cannot show).
  std::optional<cv::Point> peak;
};

// The map (`map`: [h, w] float on the CPU, for the model's square input) upsampled onto the part
// of `original_rgb` the model saw after `resize` (the whole image when stretched, the centred
// square for shorter-side resize + centre crop), blended as a jet heatmap, its peak marked.
CamOverlay cam_overlay(const cv::Mat& original_rgb, const torch::Tensor& map, ResizeMode resize);

}  // namespace tl
