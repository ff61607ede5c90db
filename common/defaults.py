"""Defaults shared by the command line and the pipeline, in a module light enough for ``--help``."""

# How long one file may take to decode before it is given up on. A 24-megapixel JPEG takes
# well under a second on one core; all of a 200-megapixel HEIC ~3 s of CPU (measured 2026-11,
# 2 cores), though one that stores a big enough thumbnail is read from that (common.decoding).
DEFAULT_TIME_LIMIT = 10.0
# An indexing run makes its batches durable at least this often. LanceDB commits every write
# anyway; FAISS rewrites its files on each commit, so committing less often is cheaper.
DEFAULT_COMMIT_SECONDS = 30.0
# --duplicates: two images whose vectors' cosine reaches this are near duplicates.
DEFAULT_DUPLICATE_THRESHOLD = 0.95
