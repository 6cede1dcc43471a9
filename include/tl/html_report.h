#pragma once
// RUN/report.html: one self-contained page about a training run, to read offline, print or send.
// Everything is inline (CSS, and the pictures as data: URIs); no script, font or image is fetched.
// It is made from the files a run directory holds, so it works for runs of any tl-train version;
// what a run lacks (no test split, no history yet) is said on the page instead.
#include <string>

#include <torch/torch.h>

namespace tl {

// Builds the page for `run_dir` and writes it atomically to run_dir/report.html; returns that path.
// Grad-CAM overlays of the worst mistakes run on `device` when the scored checkpoint is there.
// Throws DataError when `run_dir` holds no tl-train run (no config.json, history or checkpoint).
std::string write_run_report(const std::string& run_dir, const torch::Device& device);

// The page's pieces, exposed for tests.
std::string html_escape(const std::string& text);
std::string base64(const std::vector<unsigned char>& bytes);
std::vector<std::string> parse_csv_line(const std::string& line);  // RFC 4180 fields

}  // namespace tl
