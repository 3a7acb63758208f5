#!/usr/bin/env bash
# Build .data/ (ignored by git) from ../shared/data for training the default model on a machine
# that cannot see ../shared (the GPU machine receives only the checkout and carried folders).
#   sot-train/ -> .data/sot-train/   (plain layout; NOT sot/, which is for evaluation only)
#   det/<set>/ -> .data/det/<set>/   (COCO format)
# Frames are re-encoded as JPEG (quality $QUALITY) with the long side at most $MAX_SIDE px and the
# boxes scaled to match, so that the whole folder stays under about 45 MiB.
# The data keep their benchmarks' terms: never commit or publish .data/ (see shared/data/README.md).
#   scripts/pack_training_data.sh [SHARED_DATA_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
SOURCE=${1:-../shared/data}
QUALITY=${QUALITY:-60}
MAX_SIDE=${MAX_SIDE:-512}
PYTHON=${PYTHON:-python3}
grep -qx '/.data/' .gitignore || echo '/.data/' >> .gitignore
rm -rf .data
mkdir -p .data/det
"$PYTHON" scripts/pack_training_data.py plain "$SOURCE/sot-train" .data/sot-train \
    --quality "$QUALITY" --max-side "$MAX_SIDE"
for set in "$SOURCE"/det/*/; do
    name=$(basename "$set")
    "$PYTHON" scripts/pack_training_data.py coco "$set" ".data/det/$name" \
        --quality "$QUALITY" --max-side "$MAX_SIDE"
done
for folder in .data .data/sot-train .data/det; do du -sh --apparent-size "$folder"; done
