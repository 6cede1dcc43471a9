#!/usr/bin/env bash
# The offline demo: shows transfer learning working on real images, without ImageNet weights.
#   1. train VGG16 from random initialisation on five Fashion-MNIST classes (the "source" task);
#   2. use that checkpoint as the backbone for the OTHER five classes, with only a few dozen
#      images per class: its first two conv blocks frozen (their outputs cached), blocks 3-5 and
#      a new head trained;
#   3. train the same small set from scratch for the same number of epochs;
#   4. evaluate both on the same held-out test images, predict one image, print a table.
# Items are placed at a random position and scale in the frame (prepare_fashion_mnist.py
# --placement random): centred Fashion-MNIST is so regular that a logistic regression on raw
# pixels does as well as any pretrained feature, which would leave nothing to transfer.
# With TL_WEIGHTS=imagenet (and network) step 1 is replaced by torchvision's ImageNet weights.
# The last line is machine-readable: RESULT transfer_acc=<0..1> scratch_acc=<0..1>
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-/usr/bin/python3}
WEIGHTS=${TL_WEIGHTS:-random}
SOURCE_PER_CLASS=${SOURCE_PER_CLASS:-1000}
TARGET_PER_CLASS=${TARGET_PER_CLASS:-30}
SOURCE_EPOCHS=${SOURCE_EPOCHS:-8}
TARGET_EPOCHS=${TARGET_EPOCHS:-15}
RUNS=runs/demo
stage_start=0
declare -A seconds
begin() { echo; echo "== $1"; stage_start=$(date +%s); }
finish() { seconds[$1]=$(( $(date +%s) - stage_start )); }

begin "Installing dependencies and building tl-train (Release)"
./scripts/install_deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target tl-train
TL=build/tl-train
finish build

begin "Preparing Fashion-MNIST (source: 5 classes x $SOURCE_PER_CLASS; target: 5 other classes x $TARGET_PER_CLASS)"
"$PYTHON" scripts/prepare_fashion_mnist.py --out data/fashion_source --classes 0,1,2,3,4 \
  --per-class "$SOURCE_PER_CLASS" --val-per-class 100 --test-per-class 100 --size 32 --seed 1 --placement random --overwrite
"$PYTHON" scripts/prepare_fashion_mnist.py --out data/fashion_target --classes 5,6,7,8,9 \
  --per-class "$TARGET_PER_CLASS" --val-per-class 20 --test-per-class 200 --size 32 --seed 2 --placement random --overwrite
finish data

begin "Exporting VGG16 ($WEIGHTS weights)"
"$PYTHON" scripts/export_backbone.py --weights random --seed 0 --features-only --out models/vgg16_random_features.pt
if [ "$WEIGHTS" = imagenet ]; then
  "$PYTHON" scripts/export_backbone.py --weights imagenet --features-only --out models/vgg16_features.pt
fi
finish export

common=(--set data.layout=food11 --set model.input_size=32 --set threads=0 --set data.normalize=imagenet)
if [ "$WEIGHTS" = imagenet ]; then
  pretrained=models/vgg16_features.pt
  seconds[source]=0
else
  begin "Step 1: training VGG16 from scratch on the source classes ($SOURCE_EPOCHS epochs)"
  $TL train --config configs/demo_fashion.json --overwrite "${common[@]}" \
    --set data.root=data/fashion_source --set model.backbone=models/vgg16_random_features.pt \
    --set train.epochs="$SOURCE_EPOCHS" --set train.out=$RUNS/source
  pretrained=$RUNS/source/best.pt
  finish source
fi

# Blocks 1-2 (edges, textures) carry over; blocks 3-5 are specific to the source classes and are
# fine-tuned. A head on the fully frozen backbone scored below scratch here (README, "What the
# demo shows"). Each side uses the learning rate that served it best: 3e-4 here, 1e-4 from scratch.
begin "Step 2: transfer: blocks 1-2 frozen and cached, blocks 3-5 and a new head trained, $TARGET_PER_CLASS images per class"
$TL train --config configs/demo_fashion.json --overwrite "${common[@]}" \
  --set data.root=data/fashion_target --set model.backbone="$pretrained" --set model.freeze=block2_pool \
  --set train.epochs="$TARGET_EPOCHS" --set optim.lr=3e-4 --set train.out=$RUNS/transfer
finish transfer

begin "Step 3: the same small set from scratch, same number of epochs"
$TL train --config configs/demo_fashion.json --overwrite "${common[@]}" \
  --set data.root=data/fashion_target --set model.backbone=models/vgg16_random_features.pt --set model.freeze=none \
  --set train.epochs="$TARGET_EPOCHS" --set train.out=$RUNS/scratch
finish scratch

begin "Step 4: evaluating both on the same held-out test images"
$TL evaluate --checkpoint $RUNS/transfer/best.pt --split test --quiet
$TL evaluate --checkpoint $RUNS/scratch/best.pt --split test --json >/dev/null
accuracy() { "$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["accuracy"])' "$1"; }
transfer_acc=$(accuracy $RUNS/transfer/eval_test/metrics.json)
scratch_acc=$(accuracy $RUNS/scratch/eval_test/metrics.json)
test_images=(data/fashion_target/evaluation/*)  # a glob, not `ls | head`: that fails under pipefail
image=${test_images[0]}
label=$(basename "$image"); label=${label%%_*}
echo; echo "Predicting $image (true class: $(sed -n "$((label + 1))p" data/fashion_target/classes.txt)):"
$TL predict --checkpoint $RUNS/transfer/best.pt "$image" --top-k 3
finish evaluate

echo
echo "| stage                                  | seconds |"
echo "|----------------------------------------|---------|"
total=0
for stage in build data export source transfer scratch evaluate; do
  case $stage in
    build) title="install dependencies, build" ;;
    data) title="prepare Fashion-MNIST" ;;
    export) title="export VGG16" ;;
    source) title="step 1: source training" ;;
    transfer) title="step 2: transfer, $TARGET_PER_CLASS images/class" ;;
    scratch) title="step 3: scratch, $TARGET_PER_CLASS images/class" ;;
    evaluate) title="step 4: evaluate both, predict" ;;
  esac
  printf "| %-38s | %7s |\n" "$title" "${seconds[$stage]}"
  total=$((total + seconds[$stage]))
done
printf "| %-38s | %7s |\n" "total" "$total"
echo
printf "| %-38s | %-26s |\n" "model ($TARGET_EPOCHS epochs each)" "test accuracy (${#test_images[@]} images)"
echo "|----------------------------------------|----------------------------|"
source_name="step 1's model"
[ "$WEIGHTS" = imagenet ] && source_name="ImageNet VGG16"
printf "| %-38s | %26.3f |\n" "transfer (from $source_name)" "$transfer_acc" "scratch (random initialisation)" "$scratch_acc"
echo
echo "Outputs: $RUNS/{source,transfer,scratch}/ (best.pt, history.csv, curves.png, eval_test/confusion_matrix.png, ...)"
echo "RESULT transfer_acc=$transfer_acc scratch_acc=$scratch_acc"
