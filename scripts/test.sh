#!/usr/bin/env bash
# Installs dependencies, builds tl-train with its tests (Release) and runs them with CTest.
# Usage: ./scripts/test.sh [extra ctest args]   (BUILD_DIR=build by default)
# TL_SANITIZE=1 builds with ASan+UBSan into build-sanitize and runs the in-process tests there
# (`ctest -L unit`): the end-to-end suites start hundreds of tl-train processes, each several times
# slower under the sanitizers, and the plain run covers them.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install_deps.sh
build_dir=${BUILD_DIR:-build}
sanitize=OFF
labels=()
if [ "${TL_SANITIZE:-0}" = 1 ]; then
  sanitize=ON
  build_dir=${BUILD_DIR:-build-sanitize}
  labels=(-L unit)
  # Undefined behaviour stops the process (ASan always does), so any finding fails the test that
  # triggered it, in tl_tests and in the tl-train processes it starts.
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
fi
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DTL_BUILD_TESTS=ON -DTL_SANITIZE=$sanitize
cmake --build "$build_dir" -j "$(nproc)"
cd "$build_dir"
ctest --output-on-failure -j "$(nproc)" "${labels[@]}" "$@"
