#!/usr/bin/env bash
# Installs the Debian packages that tl-train's build, tests, demo and export script need.
# Idempotent: packages already present are left alone. Uses sudo when not root.
set -euo pipefail

packages=(
  cmake g++ make ccache
  libtorch-dev libopencv-dev libcli11-dev libspdlog-dev nlohmann-json3-dev libgtest-dev
  libopencv-contrib-dev # OpenCV's freetype module: class names in any script in the PNG reports
  fonts-wqy-microhei    # the PNG reports' font (Latin and CJK); TL_FONT overrides it
  libutf8proc-dev       # display widths of class names in text tables; UTF-8 checks of file names
  libxxhash-dev         # content hashes of the dataset's files (duplicates, leakage)
  libopenblas0-openmp   # fast BLAS for LibTorch's dense layers (the reference BLAS is ~60x slower)
  python3-torchvision   # scripts/export_backbone.py and the Python interop tests
  dataset-fashion-mnist # the offline demo's real images
  libgloo-dev           # the headers of c10d's Gloo process group (data-parallel training)
  chromium              # the report.html test renders the page in a real (headless) browser
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install_deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install_deps: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install_deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q "${missing[@]}"
