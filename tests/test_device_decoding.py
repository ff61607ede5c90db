"""JPEGs decoded where the model runs (``--jpeg-decoder model`` or ``both``, common.device_decoding).

On a CUDA GPU the device is nvJPEG; on a CPU the same code runs with torchvision's libjpeg, so
everything but nvJPEG itself is held here to what the workers make: the model's crop (and its
vector, against open_clip's reference transform), the thumbnail, the colour signature, the
record, and a bad file reported as the workers report it. The CUDA cases run where a GPU is.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from test_decoding_speed_paths import reference_pixels

from common import device_decoding
from common.color import image_signature, lab_pixels
from common.decoding import TRANSPOSE_FOR, decode_image
from common.device_decoding import DeviceJpegDecoder, EncodedJpeg, describe_jpeg, lab_of, orient, parts_within
from common.discovery import find_image_files
from common.embedding import Embedder, ModelSpec
from common.preprocess import PixelRecipe
from common.thumbnails import find_thumbnail, thumbnail_picture
from common.workers import DecodePool, read_file, read_for_model_device
from conftest import Cli, paint_photo, shared

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"))]
RECIPE = PixelRecipe(224, "bicubic", (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))
WHEN_INDEXED = {"indexed_at"}


def grainy_photo(path: Path, seed: int, size: tuple[int, int], **save: object) -> Path:
    """A painted photo with grain (a crop one pixel off is tens of levels away), saved as JPEG."""
    painted = np.asarray(Image.open(paint_photo(path.with_suffix(".png"), seed, size)).convert("RGB"))
    grain = np.random.default_rng(seed).integers(-30, 31, painted.shape)
    path.with_suffix(".png").unlink()
    Image.fromarray(np.clip(painted + grain, 0, 255).astype(np.uint8)).save(path, "JPEG", quality=95, **save)
    return path


def test_each_exif_orientation_turns_the_picture_as_pillow_does() -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    tensor = torch.from_numpy(pixels).permute(2, 0, 1)
    for orientation, transpose in TRANSPOSE_FOR.items():
        expected = np.asarray(Image.fromarray(pixels).transpose(transpose))
        assert np.array_equal(orient(tensor, orientation).permute(1, 2, 0).numpy(), expected), orientation
    assert orient(tensor, 1) is tensor


def test_lab_values_are_littlecms_ones_within_one_stored_step() -> None:
    colours = np.random.default_rng(1).integers(0, 256, (100_000, 3), dtype=np.uint8)
    expected = lab_pixels(Image.fromarray(colours[None]))
    got = lab_of(torch.from_numpy(colours).T).numpy()
    apart = np.abs(got - expected)
    assert apart[:, 0].max() <= 100 / 255 + 1e-4 and apart[:, 1:].max() <= 1
    assert (apart.max(axis=1) > 1e-4).mean() < 0.05


@pytest.mark.parametrize("device", DEVICES)
def test_crop_thumbnail_and_colours_are_the_workers_ones(device: str, tmp_path: Path) -> None:
    """For upright and rotated photos, landscape and portrait, larger and smaller than the crop."""
    cases = [((640, 480), 1), ((480, 640), 6), ((900, 300), 8), ((301, 97), 3), ((200, 180), 2), ((1200, 800), 5)]
    paths = []
    for seed, (size, orientation) in enumerate(cases):
        exif = Image.Exif()
        exif[0x0112] = orientation
        paths.append(grainy_photo(tmp_path / f"p{seed}.jpg", seed, size, exif=exif))
    decoder = DeviceJpegDecoder(RECIPE, device, str(tmp_path / "thumbnails"))
    described = [describe_jpeg(str(p)) for p in paths]
    records = [{"path": str(p), "size_bytes": p.stat().st_size, "mtime": p.stat().st_mtime} for p in paths]
    made = decoder.read([d[1] for d in described], records)
    for path, (info, _), record, read in zip(paths, described, records, made, strict=True):
        upright = decode_image(str(path)).image  # full size, EXIF applied: the workers' picture
        assert (info.width, info.height) == upright.size
        crop = read.crop.cpu().numpy()
        expected = RECIPE.crop(upright)
        # Beside the resampling (torch's antialiased kernels, Pillow's), nvJPEG upsamples the
        # colour planes otherwise than libjpeg does: 3.1 levels on average at most on the H200,
        # for the picture enlarged 2.3 times; the vectors are held to the reference below.
        levels = np.abs(crop.astype(int) - expected.astype(int))
        assert levels.mean() < 4, (path, levels.mean())
        assert float(np.dot(read.color, image_signature(thumbnail_picture(upright)))) > 0.995
        found = find_thumbnail(str(tmp_path / "thumbnails"), record)
        assert found is not None, path
        with Image.open(found[0]) as thumbnail:
            thumbnail.load()
            expected_thumbnail = thumbnail_picture(upright)
            assert thumbnail.size == expected_thumbnail.size
            apart = np.abs(np.asarray(thumbnail, dtype=int) - np.asarray(expected_thumbnail, dtype=int))
            assert apart.mean() < 8, (path, apart.mean())


def test_files_the_device_cannot_take_are_left_to_the_workers(tmp_path: Path) -> None:
    """Other formats, CMYK, progressive and truncated JPEGs are decoded as before."""
    photo = grainy_photo(tmp_path / "ok.jpg", 1, (320, 240))
    assert describe_jpeg(str(photo)) is not None
    assert describe_jpeg(str(paint_photo(tmp_path / "p.png", 2))) is None
    Image.open(photo).convert("CMYK").save(tmp_path / "cmyk.jpg")
    assert describe_jpeg(str(tmp_path / "cmyk.jpg")) is None
    grainy_photo(tmp_path / "progressive.jpg", 3, (320, 240), progressive=True)
    assert describe_jpeg(str(tmp_path / "progressive.jpg")) is None
    (tmp_path / "cut.jpg").write_bytes(photo.read_bytes()[:-500])
    assert describe_jpeg(str(tmp_path / "cut.jpg")) is None
    assert describe_jpeg(str(tmp_path / "missing.jpg")) is None


@pytest.fixture(scope="module")
def vit_b_32() -> Embedder:
    return Embedder(ModelSpec("ViT-B-32", "none"), "cpu", precision="fp32")


@pytest.mark.slow
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("folder", ["coco-mini", "camera"])
def test_device_decoded_jpegs_embed_like_the_reference_for_every_image(
    vit_b_32: Embedder, device: str, folder: str
) -> None:
    """Every JPEG the device takes, against open_clip's full route, same fp32 model: the decode,
    orientation, resize and crop made on the device are all the vector sees."""
    paths = [f.path for f in find_image_files([str(shared(folder))])]
    taken = [(path, described[1]) for path in paths if (described := describe_jpeg(path)) is not None]
    assert len(taken) > len(paths) * 0.8
    decoder = DeviceJpegDecoder(vit_b_32.pixel_recipe, device, None)
    cosines = []
    for start in range(0, len(taken), 32):
        chunk = taken[start : start + 32]
        made = decoder.read([encoded for _, encoded in chunk], [{"path": path} for path, _ in chunk])
        assert all(m is not None for m in made), [p for (p, _), m in zip(chunk, made, strict=True) if m is None]
        vectors = vit_b_32.embed_prepared([m.crop.cpu() for m in made])
        expected = vit_b_32.embed_pixels(torch.stack([reference_pixels(vit_b_32, path) for path, _ in chunk]))
        cosines += [(float(a @ b), path) for a, b, (path, _) in zip(vectors, expected, chunk, strict=True)]
    assert min(cosines)[0] >= 0.99, min(cosines)


def spoiled_jpeg(path: Path, seed: int) -> Path:
    """A JPEG whose header reads and whose data ends as it should, but whose scan names a colour
    component the frame does not have: only decoding it finds that out."""
    data = bytearray(grainy_photo(path, seed, (200, 150)).read_bytes())
    scan = data.index(b"\xff\xda")
    data[scan + 5] = 9  # the first component's selector (the frame's are 1, 2 and 3)
    path.write_bytes(bytes(data))
    return path


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    root = tmp_path / "mixed"
    for seed, (size, orientation) in enumerate([((640, 480), 1), ((480, 640), 6), ((1000, 600), 8)]):
        exif = Image.Exif()
        exif[0x0112] = orientation
        grainy_photo(root / f"photo-{seed}.jpg", seed, size, exif=exif)
    Image.open(paint_photo(root / "grey.png", 10)).convert("L").save(root / "grey.jpg")
    (root / "grey.png").unlink()
    paint_photo(root / "drawing.png", 11)
    grainy_photo(root / "progressive.jpg", 12, (300, 200), progressive=True)
    good = (root / "photo-0.jpg").read_bytes()
    (root / "cut.jpg").write_bytes(good[: len(good) // 2])
    spoiled_jpeg(root / "spoiled.jpg", 13)
    return root


@pytest.mark.parametrize(("backend", "decoder"), [("faiss", "model"), ("lancedb", "model"), ("faiss", "both")])
def test_indexing_with_jpegs_decoded_where_the_model_runs_makes_the_workers_rows(
    backend: str, decoder: str, mixed: Path, tmp_path: Path
) -> None:
    """Same rows, vectors, colours and thumbnails whichever decodes the JPEGs (or both, each
    JPEG where there is room); the truncated and the spoiled file are reported by both (the
    spoiled one passes the header check and fails on the device, in a batch with good files); a
    search finds each photo first."""
    by = {name: Cli(backend, tmp_path / f"db-{name}") for name in ("workers", decoder)}
    for name, cli in by.items():
        # On the CPU, the device is libjpeg: nvJPEG's hardware decoder on a GPU reads the spoiled
        # file (the H200's did) where libjpeg and Pillow refuse it.
        extra = ("--jpeg-decoder", name, "--device", "cpu")
        if name == "both":
            # A window of 4 files (twice the batch), not 64: this process, decoding on a CPU, falls
            # behind and the workers decode some JPEGs in full (half of 8 JPEGs, in trials), the
            # others handed over; with the defaults every JPEG was handed over.
            extra += ("--batch", "2", "--workers", "1")
        result = cli.index(mixed, extra=extra)
        summary = result.summary()
        assert summary["new"] == 6 and summary["failed"] == 2, (name, summary)
        assert "cut.jpg" in result.stderr and "spoiled.jpg" in result.stderr, result.stderr
    workers, model = (cli.records() for cli in by.values())
    assert set(workers) == set(model)
    assert {Path(p).name for p in model} == {
        "photo-0.jpg", "photo-1.jpg", "photo-2.jpg", "grey.jpg", "drawing.png", "progressive.jpg"
    }  # fmt: skip
    for path, row in workers.items():
        assert {k: v for k, v in row.items() if k not in WHEN_INDEXED} == {
            k: v for k, v in model[path].items() if k not in WHEN_INDEXED
        }, path
    paths = sorted(workers)
    cosines = np.sum(by["workers"].vectors(paths) * by[decoder].vectors(paths), axis=1)
    assert cosines.min() > 0.98, dict(zip(paths, cosines, strict=True))
    for cli in by.values():
        for path in paths:
            assert find_thumbnail(str(cli.db / "thumbnails"), model[path]) is not None, path
    store = by[decoder].store()
    try:
        colours = store.get_colors(paths)
    finally:
        store.close()
    store = by["workers"].store()
    try:
        expected = store.get_colors(paths)
    finally:
        store.close()
    assert min(float(np.dot(colours[p], expected[p])) for p in paths) > 0.99
    turned = str(mixed / "photo-1.jpg")  # stored 480 x 640, EXIF orientation 6: shown 640 x 480
    assert (model[turned]["width"], model[turned]["height"]) == (640, 480)
    for path in paths:
        assert by[decoder].search("--search", path, "--limit", "1")[0]["results"][0]["path"] == path


def test_with_both_decoders_the_workers_decode_in_full_while_the_model_has_files_waiting(tmp_path: Path) -> None:
    """--jpeg-decoder both: a caller that takes each file as it comes (the workers are the limit)
    gets JPEGs as bytes for its device; one that lets them wait (it is the limit) gets them
    decoded, cropped and coloured by the workers."""
    photos = [grainy_photo(tmp_path / f"{i}.jpg", i, (160, 120)) for i in range(8)]
    pool = DecodePool(1, RECIPE, reader=read_file, lighter_reader=read_for_model_device)
    try:
        # A window far wider than the files: never half of it waiting, every JPEG handed over.
        keeping_up = list(pool.read(map(str, photos), window=64))
        slow = []
        for result in pool.read(map(str, photos), window=2):
            slow.append(result)
            time.sleep(0.3)  # the next file finishes meanwhile: half the window waits at each sending
    finally:
        pool.close()
    assert all(isinstance(r.crop, EncodedJpeg) for r in keeping_up), [type(r.crop) for r in keeping_up]
    assert isinstance(slow[0].crop, EncodedJpeg), "the first file is sent before anything waits"
    full = slow[2:]  # each sent as the caller took one file, with the next one waiting
    assert all(isinstance(r.crop, np.ndarray) and r.color is not None for r in full), [type(r.crop) for r in slow]
    assert sorted(r.path for r in keeping_up) == sorted(r.path for r in slow) == sorted(map(str, photos))
    assert all(r.record is not None and r.reason is None for r in keeping_up + slow)


def test_parts_keep_within_their_budget_in_order() -> None:
    assert parts_within([3, 3, 3, 5, 1, 9, 2], 6) == [[0, 1], [2], [3, 4], [5], [6]]
    assert parts_within([], 6) == []


def test_small_memory_budgets_make_the_same_crops_colours_and_thumbnails(tmp_path: Path, monkeypatch) -> None:
    """Decoded a few pictures at a time and resized one at a time, as a batch of large photos
    would be: the same results as all at once."""
    paths = [grainy_photo(tmp_path / f"p{seed}.jpg", seed, (320, 240)) for seed in range(5)]
    paths.append(grainy_photo(tmp_path / "wide.jpg", 9, (400, 200)))
    described = [describe_jpeg(str(p))[1] for p in paths]
    records = [{"path": str(p), "size_bytes": p.stat().st_size, "mtime": p.stat().st_mtime} for p in paths]
    at_once = DeviceJpegDecoder(RECIPE, "cpu", str(tmp_path / "once")).read(described, records)
    monkeypatch.setattr(device_decoding, "DECODE_PIXELS", 2 * 320 * 240)
    monkeypatch.setattr(device_decoding, "STACK_PIXELS", 1)
    in_parts = DeviceJpegDecoder(RECIPE, "cpu", str(tmp_path / "parts")).read(described, records)
    for whole, part, record in zip(at_once, in_parts, records, strict=True):
        assert torch.equal(whole.crop, part.crop) and np.array_equal(whole.color, part.color)
        once, parts = (find_thumbnail(str(tmp_path / folder), record) for folder in ("once", "parts"))
        assert Path(once[0]).read_bytes() == Path(parts[0]).read_bytes()


def test_jpegs_the_gpu_has_no_memory_for_are_read_by_pillow(mixed: Path, tmp_path: Path, monkeypatch) -> None:
    def out_of_memory(self, pictures):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 4.60 GiB")

    monkeypatch.setattr(DeviceJpegDecoder, "_decode", out_of_memory)
    monkeypatch.setattr(DeviceJpegDecoder, "try_on", classmethod(lambda cls, *args: cls(*args)))
    cli = Cli("faiss", tmp_path / "db")
    result = cli.index(mixed, extra=("--jpeg-decoder", "model", "--device", "cpu"))
    assert result.summary()["new"] == 6 and result.summary()["failed"] == 2
    assert result.stderr.count("the GPU has no memory free for decoding JPEGs") == 1
    for path, record in cli.records().items():
        assert find_thumbnail(str(cli.db / "thumbnails"), record) is not None, path
