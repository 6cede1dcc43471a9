#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ (clang, ASan + UBSan) and runs each for a bounded time.
# Usage: ./scripts/fuzz.sh [target...]      (default: every fuzz/*.cpp)
#   FUZZ_SECONDS=60   run time per target
#   BUILD_DIR=build-fuzz
# Seeds: configs/*.json and fuzz/corpus/config/ (past findings) for fuzz_config,
# fuzz/corpus/image/ for fuzz_image, with the tokens in fuzz/*.dict; the growing corpus is kept in
# $BUILD_DIR/fuzz-corpus/<target>. An input that crashes, trips a sanitizer, hangs (10 s) or needs
# too much memory is saved in $BUILD_DIR/fuzz-findings/<target>/ and fails the script;
# reproduce it with: $BUILD_DIR/<target> <file>.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
build_dir=${BUILD_DIR:-build-fuzz}

./scripts/install_deps.sh
# clang with its runtime libraries (libFuzzer, ASan) from Debian.
need=()
command -v clang++ >/dev/null || need+=(clang)
dpkg-query -W -f='${Status}' libclang-rt-14-dev 2>/dev/null | grep -q "install ok installed" || need+=(libclang-rt-14-dev)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  echo "fuzz: installing ${need[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${need[@]}"
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in fuzz/*.cpp; do targets+=("$(basename "$f" .cpp)"); done
fi
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ -DTL_FUZZ=ON -DTL_BUILD_TESTS=OFF
cmake --build "$build_dir" -j "$(nproc)" --target "${targets[@]}"

# LibTorch and OpenCV keep allocations alive until exit by design; leaks are not what we look for.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
failed=()
for target in "${targets[@]}"; do
  corpus=$build_dir/fuzz-corpus/$target
  findings=$build_dir/fuzz-findings/$target
  mkdir -p "$corpus" "$findings"
  seeds=() options=()
  case $target in
    fuzz_config) seeds=(configs fuzz/corpus/config) options=(-dict=fuzz/config.dict) ;;
    # A single allocation over 256 MB means a decode beyond the target's 4 M pixel limit.
    fuzz_image) seeds=(fuzz/corpus/image) options=(-dict=fuzz/image.dict -malloc_limit_mb=256) ;;
  esac
  echo "fuzz: running $target for ${seconds}s"
  if ! "$build_dir/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$findings/" "${options[@]}" "$corpus" "${seeds[@]}"; then
    failed+=("$target")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]}; see $build_dir/fuzz-findings/" >&2
  exit 1
fi
echo "fuzz: ${targets[*]}: no findings in ${seconds}s each"
