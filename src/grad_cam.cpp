#include "tl/grad_cam.h"

#include <algorithm>

#include <opencv2/imgproc.hpp>

#include "tl/errors.h"

namespace tl {

torch::Tensor grad_cam(TransferModel& model, const torch::Tensor& images, const std::string& layer,
                       const torch::Tensor& classes) {
  torch::Tensor activation;
  const torch::Tensor logits = model.forward_exposing(images, layer, activation);
  if (activation.dim() != 4)
    throw ModelError("--explain-layer '" + layer + "' gives a " + std::to_string(activation.dim()) +
                     "-D output; Grad-CAM needs a stage with a spatial (N x C x H x W) output");
  // Images do not interact in eval mode, so one backward pass of the summed logits serves them all.
  const torch::Tensor chosen = logits.gather(1, classes.to(logits.device()).view({-1, 1})).sum();
  const torch::Tensor gradient = torch::autograd::grad({chosen}, {activation})[0];
  torch::NoGradGuard no_grad;
  const torch::Tensor weights = gradient.mean({2, 3}, /*keepdim=*/true);
  torch::Tensor maps = torch::relu((weights * activation).sum(1));
  const torch::Tensor peak = maps.flatten(1).amax(1).clamp_min(1e-12).view({-1, 1, 1});
  return (maps / peak).cpu();
}

CamOverlay cam_overlay(const cv::Mat& original_rgb, const torch::Tensor& map, ResizeMode resize) {
  const int width = original_rgb.cols, height = original_rgb.rows;
  cv::Rect seen(0, 0, width, height);
  if (resize == ResizeMode::ShorterCenterCrop) {
    const int side = std::min(width, height);
    seen = cv::Rect((width - side) / 2, (height - side) / 2, side, side);
  }
  const torch::Tensor m = map.to(torch::kFloat32).contiguous();
  const cv::Mat small(static_cast<int>(m.size(0)), static_cast<int>(m.size(1)), CV_32F, m.data_ptr<float>());
  cv::Mat up;
  cv::resize(small, up, seen.size(), 0, 0, cv::INTER_LINEAR);
  double highest = 0;
  cv::Point peak;
  cv::minMaxLoc(up, nullptr, &highest, nullptr, &peak);

  CamOverlay out;
  cv::cvtColor(original_rgb, out.bgr, cv::COLOR_RGB2BGR);
  cv::Mat heat8, heat;
  up.convertTo(heat8, CV_8U, 255.0);
  cv::applyColorMap(heat8, heat, cv::COLORMAP_JET);
  cv::Mat region = out.bgr(seen);
  cv::addWeighted(region, 0.5, heat, 0.5, 0, region);
  if (highest <= 0) return out;
  out.peak = peak + seen.tl();
  const int radius = std::max(3, std::min(width, height) / 40);
  cv::circle(out.bgr, *out.peak, radius + 1, cv::Scalar(0, 0, 0), 2, cv::LINE_AA);
  cv::circle(out.bgr, *out.peak, radius, cv::Scalar(255, 255, 255), 2, cv::LINE_AA);
  return out;
}

}  // namespace tl
