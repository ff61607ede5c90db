#!/usr/bin/env bash
# Put together, in .gpu/ (.gitignore'd), what a GPU machine with no network needs to run
# scripts/gpu_check.sh: wheels of the packages its image lacks (for its Python 3.12) and a
# photo corpus. Run it on a machine that reaches PyPI, in the checkout, then carry .gpu to the
# GPU machine with the working tree.
#
# Such a machine here takes a working tree of 64 MiB at most, what is carried included. The
# source is ~10 MB and these wheels ~30; LanceDB's (~75 MB) and the camera set (~32 MB) do not
# fit beside them, so the GPU check measures FAISS on coco-mini's 80 training photos (13 MB),
# which the JPEG benchmark links into copies enough for 10,000 images.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
SHARED=${IMAGEDB_SHARED_DATA:-../shared/data}
BUNDLE=.gpu

# The version requirements.txt pins for a package, so the GPU runs what CI tests.
pinned() { grep -i "^$1==" requirements.txt | cut -d= -f3; }

rm -rf "$BUNDLE"
mkdir -p "$BUNDLE/wheels" "$BUNDLE/data/coco-mini"

platforms=()
for tag in manylinux_2_34 manylinux_2_31 manylinux_2_28 manylinux_2_27 manylinux_2_24 manylinux_2_17 manylinux2014 manylinux1; do
    platforms+=(--platform "${tag}_x86_64")
done
# What the GPU image lacks of requirements.txt for indexing and the CUDA tests (it has torch,
# torchvision, Pillow, NumPy, pandas, pyarrow, SciPy, tqdm, PyYAML, pytest, matplotlib).
packages=(
    "open-clip-torch==$(pinned open-clip-torch)" ftfy "wcwidth==$(pinned wcwidth)"
    "exifread==$(pinned exifread)" "pillow-heif==$(pinned pillow-heif)" "faiss-cpu==$(pinned faiss-cpu)"
    "pillow-jxl-plugin==$(pinned pillow-jxl-plugin)"
    "reverse-geocode==$(pinned reverse-geocode)" "orjson==$(pinned orjson)"
)
"$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${platforms[@]}" -d "$BUNDLE/wheels" "${packages[@]}"

cp -r "$SHARED/coco-mini/train2017" "$BUNDLE/data/coco-mini/"
du -sh "$BUNDLE"/*
