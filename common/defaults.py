"""Defaults shared by the command line and the pipeline, in a module light enough for ``--help``."""

# How long one file may take to decode before it is given up on. A 24-megapixel JPEG takes
# well under a second on one core; all of a 200-megapixel HEIC ~3 s of CPU (measured 2026-11,
# 2 cores), though one that stores a big enough thumbnail is read from that (common.decoding).
DEFAULT_TIME_LIMIT = 10.0
# Where JPEGs are decoded (common.device_decoding): by the decoding workers, as every other file,
# where the model runs, or both, each JPEG by the side that has room for it (common.workers'
# lighter reader). The workers by default: on the one GPU host measured (an H200 with 16 cores)
# they indexed coco photos as fast as the model's device (987 against 934 images/s, README "On a
# GPU"); "both" is not measured on a GPU yet.
JPEG_DECODERS = ("workers", "model", "both")
# An indexing run makes its batches durable at least this often. LanceDB commits every write
# anyway; FAISS rewrites its files on each commit, so committing less often is cheaper.
DEFAULT_COMMIT_SECONDS = 30.0
# Images per forward pass. On a GPU the forward pass is never the limit (ViT-B-32 in fp16 on an
# H100: ~8,600 images/s at 32, ~26,000 at 128), but each batch costs the main process a fixed
# amount of Python, stacking and copying while it shares the host's cores with the decoding
# workers: on a 16-core H100 host (2026-11, coco photos, paired runs) a batch of 32 spent 0.4-0.6
# ms of the main process an image and indexed 846-995 images/s, one of 128 0.14 ms and 1,028-1,050
# (reading alone: 1,005-1,177); 256 gained nothing more. On the CPU a bigger batch is no faster
# and holds more memory.
DEFAULT_BATCH = 32
DEFAULT_GPU_BATCH = 128


def default_batch_size(device: str) -> int:
    """Images per forward pass for a model on ``device`` when the user did not say."""
    return DEFAULT_GPU_BATCH if device == "cuda" else DEFAULT_BATCH


# --duplicates: two images whose vectors' cosine reaches this are near duplicates.
DEFAULT_DUPLICATE_THRESHOLD = 0.95

# --near: how far from the place, in km, when --radius does not say. A city's photos are mostly
# within this of its centre (Paris: 6 km, Rome: 10), and "near this photo" means the same town.
DEFAULT_RADIUS_KM = 10.0
# --radius at most: half the way round the Earth reaches every position there is.
MAX_RADIUS_KM = 20_000.0
