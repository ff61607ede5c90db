#!/usr/bin/env bash
# The imagedb demo: index the sample photos bundled with scikit-image using both backends,
# then search them by text prompt, by image (plus and minus prompts), by metadata, with a filter,
# within a folder and from a stream of queries on stdin, and count what they hold.
#
# Offline by default: it uses the tiny OpenCLIP model trained by models/train_tiny_clip.py
# (32 px, CIFAR-10 classes), loaded exactly as any local model is. With network access (or
# weights already in the cache), IMAGEDB_DEMO_MODEL=real uses ViT-B-32 laion2b_s34b_b79k.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
PHOTOS=demo/photos

if [[ "${IMAGEDB_DEMO_MODEL:-tiny}" == real ]]; then
    MODEL=(--model ViT-B-32 --pretrained laion2b_s34b_b79k)
else
    MODEL=(--model-config models/imagedb-tiny-cifar10.json --pretrained models/imagedb-tiny-cifar10.pt)
fi

mkdir -p "$PHOTOS"
"$PY" - "$PHOTOS" <<'PYEOF'
"""Copy scikit-image's bundled colour photos (shipped in the wheel, no download) into the demo folder."""
import os, shutil, sys
import skimage.data
source = os.path.dirname(skimage.data.__file__)
for name in ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png",
             "hubble_deep_field.jpg", "retina.jpg", "coins.png", "camera.png", "horse.png", "brick.png", "grass.png"):
    shutil.copy2(os.path.join(source, name), os.path.join(sys.argv[1], name))
PYEOF

for backend in lancedb faiss; do
    db="demo/imagedb-$backend"
    run() { echo "\$ imagedb-$backend.py $(printf '%q ' "$@")" >&2; "$PY" "imagedb-$backend.py" --db "$db" "$@"; }
    echo "=== $backend ===" >&2
    rm -rf "$db" "$PHOTOS/trip"                              # each demo starts from an empty index
    # The same picture in an album folder too, as photo exports leave libraries: embedded once.
    mkdir -p "$PHOTOS/album" && cp -p "$PHOTOS/chelsea.png" "$PHOTOS/album/cat.png"
    run --index "$PHOTOS" "${MODEL[@]}"
    run --index "$PHOTOS"                                   # incremental: nothing to embed
    echo "\$ mv $PHOTOS/album $PHOTOS/trip" >&2 && mv "$PHOTOS/album" "$PHOTOS/trip"
    run --index "$PHOTOS"                                   # moved: it keeps its vector, nothing embedded
    run --search "a photo of a horse" --limit 3              # the tiny model knows CIFAR-10's classes only
    run --search "$PHOTOS/chelsea.png" --limit 3
    run --search "$PHOTOS/chelsea.png" --limit 3 --distinct   # the copy in trip/ folded into the first: "alike"
    run --search "$PHOTOS/chelsea.png" --limit 2 --preview   # each result's picture, at a terminal
    run --search "$PHOTOS/chelsea.png" --subtract "a photo of a cat" --add "2:a photo of a horse" --limit 3  # 2: counts twice
    run --text chelsea --limit 3
    run --search "$PHOTOS/chelsea.png" --where "width >= 512" --limit 3 --format csv
    run --color "#d2b48c" --limit 3                          # colour search: tan
    run --search "$PHOTOS/chelsea.png" --color green --limit 3 --html "demo/results-$backend.html"
    run --search "a photo of a cat" --under "$PHOTOS/trip" --limit 3  # among the files under a folder
    echo "\$ printf 'a photo of a truck\\n$PHOTOS/coffee.png\\n' | imagedb-$backend.py --search - --format json --limit 1" >&2
    printf 'a photo of a truck\n%s\n' "$PHOTOS/coffee.png" | "$PY" "imagedb-$backend.py" --db "$db" --search - --format json --limit 1
    run --duplicates --html "demo/duplicates-$backend.html"  # and a page of the groups' pictures
    run --stats                                              # what the index holds, counted
    run --check
done
echo "galleries: demo/results-lancedb.html demo/results-faiss.html; duplicates: demo/duplicates-lancedb.html demo/duplicates-faiss.html" >&2
