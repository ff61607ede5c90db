"""The fast decode path: same pixels as open_clip's transform, same vectors, worker processes.

Speed itself is the benchmark's business; these tests hold the fast paths to the reference.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from common.decoding import decode_image, exif_orientation, reduced_side, reduction_factor, to_rgb
from common.discovery import find_image_files
from common.embedding import (
    Embedder,
    ModelSpec,
    default_tokenizer_context,
    encode_text_up_to_its_end,
    tokenizer_for,
)
from common.preprocess import to_model_input
from common.workers import DecodePool, read_file
from conftest import MODEL_ARGS, TINY_CONFIG, TINY_WEIGHTS, Cli, paint_photo, shared


@pytest.fixture(scope="module")
def tiny() -> Embedder:
    return Embedder(ModelSpec.from_options(None, str(TINY_WEIGHTS), str(TINY_CONFIG)), "cpu")


@pytest.mark.parametrize("size", [(640, 480), (480, 640), (225, 224), (97, 301), (1000, 1001), (32, 32)])
def test_split_preprocessing_equals_open_clip_transform(tiny: Embedder, tmp_path: Path, size: tuple[int, int]) -> None:
    """The pixels of open_clip's transform, within a level or two: the crop is resized alone,
    with its box's edges as Pillow's 32-bit floats. On a painted photo with grain, so that a
    crop one pixel off, or resized with another filter, is tens of levels away."""
    painted = np.asarray(Image.open(paint_photo(tmp_path / "p.png", seed=sum(size), size=size)).convert("RGB"))
    grain = np.random.default_rng(sum(size)).integers(-40, 41, painted.shape)
    image = Image.fromarray(np.clip(painted + grain, 0, 255).astype(np.uint8))
    recipe = tiny.pixel_recipe
    reference = tiny.preprocess(image).numpy()
    ours = to_model_input(recipe, [recipe.crop(image)])[0].numpy()
    assert ours.shape == reference.shape
    levels_apart = np.abs(ours - reference) * 255 * np.array(recipe.std, dtype=np.float32).reshape(3, 1, 1)
    assert levels_apart.max() < 2.5
    assert levels_apart.mean() < 0.25


def reference_pixels(embedder: Embedder, path: str) -> torch.Tensor:
    """open_clip's own route: full decode, orientation, its torchvision transform."""
    from PIL import ImageOps

    with Image.open(path) as image:
        image.load()
        upright = to_rgb(ImageOps.exif_transpose(image) or image)
    return embedder.preprocess(upright)


@pytest.fixture(scope="module")
def vit_b_32() -> Embedder:
    """ViT-B-32 at random init: the real model's input size and sensitivity (weights can't be
    fetched here); in fp32, the reference, whatever this CPU's default precision is."""
    return Embedder(ModelSpec("ViT-B-32", "none"), "cpu", precision="fp32")


@pytest.mark.slow
@pytest.mark.parametrize(
    "model, folder", [("tiny", "coco-mini"), ("tiny", "camera"), ("vit_b_32", "coco-mini"), ("vit_b_32", "camera")]
)
def test_reduced_size_decoding_embeds_like_the_reference_for_every_image(request, model: str, folder: str) -> None:
    """The fast path (reduced-size decode + split preprocessing) against open_clip's full route."""
    embedder: Embedder = request.getfixturevalue(model)
    paths = [f.path for f in find_image_files([str(shared(folder))])]
    fast, reference, read = [], [], []
    for path in paths:
        result = read_file(path, embedder.pixel_recipe)
        if result.reason:  # the camera set has a corrupt file; decoding it fails either way
            with pytest.raises(Exception):  # noqa: B017 - whatever Pillow raises for it
                reference_pixels(embedder, path)
            continue
        fast.append(result.crop)
        reference.append(reference_pixels(embedder, path))
        read.append(path)
    cosines = [
        float(a @ b)
        for start in range(0, len(read), 32)
        for a, b in zip(
            embedder.embed_prepared(fast[start : start + 32]),
            embedder.embed_pixels(torch.stack(reference[start : start + 32])),
            strict=True,
        )
    ]
    worst = min(zip(cosines, read, strict=True))
    reduced = 0
    for path in read:
        with Image.open(path) as image:
            reduced += reduction_factor(image.size, embedder.pixel_recipe.size) >= 2
    assert worst[0] >= 0.99, worst
    assert reduced > 0, "some images are large enough for the reduced-size path to be exercised"


@pytest.mark.slow
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("folder", ["coco-mini", "camera"])
def test_the_gpu_path_embeds_like_the_cpu_reference_for_every_image(vit_b_32: Embedder, folder: str) -> None:
    """On a GPU the uint8 crops cross the bus from pinned memory, are normalised there and the
    model runs in fp16: the vectors must still match open_clip's full route, in float32 on the
    CPU with the same weights."""
    gpu = Embedder(ModelSpec("ViT-B-32", "none"), "cuda")
    gpu.model.load_state_dict(vit_b_32.model.state_dict())
    worst = worst_against_the_reference(gpu, vit_b_32, folder, batch=64)
    assert worst[0] >= 0.99, worst


def worst_against_the_reference(fast: Embedder, reference: Embedder, folder: str, batch: int) -> tuple[float, str]:
    """The lowest cosine, and its file, between ``fast``'s vectors of every readable image in
    ``folder`` (decoded by the fast path) and ``reference``'s by open_clip's full route."""
    paths = [f.path for f in find_image_files([str(shared(folder))])]
    results = [read_file(path, fast.pixel_recipe) for path in paths]
    read = [r for r in results if r.reason is None]
    assert len(read) >= len(results) - 1, "only the camera set's corrupt file fails"
    cosines = []
    for start in range(0, len(read), batch):
        chunk = read[start : start + batch]
        vectors = fast.embed_prepared([r.crop for r in chunk])
        expected = reference.embed_pixels(torch.stack([reference_pixels(reference, r.path) for r in chunk]))
        cosines += [(float(a @ b), r.path) for a, b, r in zip(vectors, expected, chunk, strict=True)]
    return min(cosines)


@pytest.mark.slow
@pytest.mark.parametrize("folder", ["coco-mini", "camera"])
def test_bf16_embeds_like_the_fp32_reference_for_every_image(vit_b_32: Embedder, folder: str) -> None:
    """--precision bf16, the default on a CPU with AMX or AVX512-BF16: the fast path's vectors, the image tower
    in bf16, against open_clip's full route in fp32 with the same weights."""
    bf16 = Embedder(ModelSpec("ViT-B-32", "none"), "cpu", precision="bf16")
    bf16.model.load_state_dict(vit_b_32.model.state_dict())
    assert next(bf16.model.visual.parameters()).dtype == torch.bfloat16
    worst = worst_against_the_reference(bf16, vit_b_32, folder, batch=32)
    assert worst[0] >= 0.99, worst


@pytest.mark.parametrize("model", ["tiny", "ViT-B-32"])
def test_in_bf16_a_picture_has_one_vector_whatever_batch_it_comes_in(model: str, tmp_path: Path) -> None:
    """Alone (a query, a --repair), in a batch of 12 (a run's last) or of 40 (--batch 40): the
    same vector, bit for bit, as in fp32, so identical pictures still tie and a re-embedded
    file keeps its vector."""
    spec = (
        ModelSpec.from_options(None, str(TINY_WEIGHTS), str(TINY_CONFIG))
        if model == "tiny"
        else ModelSpec(model, "none")
    )
    embedder = Embedder(spec, "cpu", precision="bf16")
    crops = [
        embedder.prepare(Image.open(paint_photo(tmp_path / f"{seed}.png", seed=seed, size=(120, 90))).convert("RGB"))
        for seed in range(40)
    ]
    in_forty = embedder.embed_prepared(crops)
    np.testing.assert_array_equal(embedder.embed_prepared(crops[:12]), in_forty[:12])
    np.testing.assert_array_equal(embedder.embed_prepared([crops[5]])[0], in_forty[5])
    np.testing.assert_array_equal(embedder.embed_prepared(crops[33:])[0], in_forty[33])


def test_auto_precision_is_bf16_only_on_a_cpu_that_multiplies_it_in_hardware(monkeypatch) -> None:
    from common import embedding

    monkeypatch.setattr(embedding, "bf16_pays_off", lambda: True)
    assert embedding.choose_precision("auto", "cpu") == "bf16"
    assert embedding.choose_precision("auto", "cpu", queries_only=True) == "fp32", "a query at a time: nothing to gain"
    assert embedding.choose_precision("auto", "cuda") == "fp16"
    assert embedding.choose_precision("fp32", "cpu") == "fp32", "what the user asks for"
    monkeypatch.setattr(embedding, "bf16_pays_off", lambda: False)
    assert embedding.choose_precision("auto", "cpu") == "fp32", "emulated bf16 is slower than fp32"
    assert embedding.choose_precision("auto", "mps") == "fp32"
    assert embedding.choose_precision("bf16", "cpu") == "bf16"


def cpu_flags() -> set[str]:
    """The instruction sets this CPU reports (/proc/cpuinfo), which torch's checks are held to."""
    try:
        return next(
            set(line.split(":", 1)[1].split())
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("flags")
        )
    except (OSError, StopIteration):
        pytest.skip("no /proc/cpuinfo flags to hold the check to")


def test_bf16_hardware_is_what_the_cpu_says_it_has() -> None:
    """AMX tiles or AVX512-BF16 (AMD Zen 4 and later: ViT-B-32 2.2x fp32's speed in bf16 on the
    project's EPYC) make --precision auto bf16; a CPU with neither stays in fp32."""
    from common import embedding

    flags = cpu_flags()
    found = embedding.cpu_bf16_instructions()
    if "amx_tile" in flags and found == "AMX":
        return  # torch also asks the system whether a process may use the tiles
    assert found == ("AVX512-BF16" if "avx512_bf16" in flags else None), (found, flags & {"amx_tile", "avx512_bf16"})
    assert embedding.choose_precision("auto", "cpu") == ("bf16" if embedding.bf16_pays_off() else "fp32")
    assert found or not embedding.bf16_pays_off(), "bf16 is only measured where the CPU has it"


def test_auto_precision_takes_bf16_only_where_it_was_measured_faster(tmp_path, monkeypatch) -> None:
    """AVX512-BF16 made --precision auto bf16: on a Xeon whose AMX the system hides, ViT-B-32 ran
    at 0.6x fp32's speed in it. bf16 is taken where one of its blocks ran faster in it, measured
    once a CPU, torch and thread count, and read back from the cache folder after."""
    from common import cpu_precision, embedding
    from common.user_cache import CACHE_ENVIRONMENT

    monkeypatch.setattr(embedding, "cpu_multiplies_bf16_in_hardware", lambda: True)
    monkeypatch.setenv(CACHE_ENVIRONMENT, str(tmp_path / "xeon"))
    monkeypatch.setattr(cpu_precision, "_measured_bf16_over_fp32", lambda: 0.6)
    assert embedding.choose_precision("auto", "cpu") == "fp32"
    ratios = json.loads((tmp_path / "xeon" / cpu_precision.RATIOS_FILE).read_text(encoding="utf-8"))
    assert list(ratios.values()) == [0.6]

    def measuring() -> float:
        raise AssertionError("measured again")

    monkeypatch.setattr(cpu_precision, "_measured_bf16_over_fp32", measuring)
    assert embedding.choose_precision("auto", "cpu") == "fp32", "read back, not measured"
    monkeypatch.setenv(CACHE_ENVIRONMENT, str(tmp_path / "epyc"))
    monkeypatch.setattr(cpu_precision, "_measured_bf16_over_fp32", lambda: 2.2)
    assert embedding.choose_precision("auto", "cpu") == "bf16"
    assert embedding.choose_precision("auto", "cpu", queries_only=True) == "fp32"
    monkeypatch.setattr(embedding, "cpu_multiplies_bf16_in_hardware", lambda: False)
    monkeypatch.setattr(cpu_precision, "_measured_bf16_over_fp32", measuring)
    assert embedding.choose_precision("auto", "cpu") == "fp32", "no bf16 instructions: nothing measured"


def test_the_bf16_measurement_runs_a_block_in_both_formats() -> None:
    """The real measurement (the others stand it in): a speed ratio, bf16's over fp32's."""
    from common import cpu_precision

    ratio = cpu_precision._measured_bf16_over_fp32()
    assert 0.01 < ratio < 100


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_a_format_the_cpu_has_no_arithmetic_for_is_run_with_a_warning_saying_so(
    cli: Cli, tmp_path: Path, monkeypatch, precision: str
) -> None:
    """--precision fp16 (the GPU's format, often copied into a CPU's command) is emulated by torch
    on a CPU without fp16 arithmetic: ViT-B-32 at 3.5 images/s against fp32's 17.8 on the
    project's EPYC, five times slower, and nothing said so. Now one warning line; a CPU that has
    the arithmetic gets none."""
    from common import embedding

    for seed in range(2):
        paint_photo(tmp_path / "photos" / f"{seed}.jpg", seed=seed)
    monkeypatch.setattr(embedding, "cpu_multiplies_in_hardware", lambda asked: asked == "fp32")
    slow = cli("--index", tmp_path / "photos", *MODEL_ARGS, "--precision", precision, "--workers", "0")
    assert slow.code == 0
    (warning,) = [line for line in slow.stderr_lines() if "--precision" in line]
    assert f"--precision {precision} on this CPU: it has no {precision} arithmetic in hardware" in warning
    from common import cpu_precision

    monkeypatch.setattr(embedding, "cpu_multiplies_in_hardware", lambda asked: True)
    monkeypatch.setattr(cpu_precision, "bf16_speed_over_fp32", lambda: 2.2)
    fast = cli("--index", tmp_path / "photos", *MODEL_ARGS, "--precision", precision, "--force", "--workers", "0")
    assert fast.code == 0 and "--precision" not in fast.stderr
    if precision == "bf16":  # in hardware, but measured slower than fp32 here (common.cpu_precision)
        monkeypatch.setattr(cpu_precision, "bf16_speed_over_fp32", lambda: 0.6)
        slower = cli("--index", tmp_path / "photos", *MODEL_ARGS, "--precision", "bf16", "--force", "--workers", "0")
        (warning,) = [line for line in slower.stderr_lines() if "--precision" in line]
        assert "--precision bf16 on this CPU: it runs ViT-B-32's blocks at 0.60× fp32's speed here" in warning


def test_fp16_hardware_is_what_the_cpu_says_it_has() -> None:
    """AVX512-FP16 or AMX-FP16 in /proc/cpuinfo is fp16 arithmetic; this project's EPYC has neither."""
    from common import embedding

    flags = cpu_flags()
    if "amx_fp16" in flags:
        return  # torch also asks the system whether a process may use the tiles
    assert embedding.cpu_multiplies_in_hardware("fp16") == ("avx512_fp16" in flags)
    assert embedding.cpu_multiplies_in_hardware("fp32")


def test_precision_option_indexes_with_the_image_tower_in_that_format(tmp_path: Path) -> None:
    """The same photos indexed with --precision fp32 and bf16: the vectors differ (bf16 was used)
    but each stays within cosine 0.99 of fp32's; text queries score against both."""
    for seed in range(6):
        paint_photo(tmp_path / "photos" / f"{seed}.jpg", seed=seed, size=(200, 150))
    vectors = {}
    for precision in ("fp32", "bf16"):
        cli = Cli("faiss", tmp_path / f"db-{precision}")
        cli.index(tmp_path / "photos", extra=("--precision", precision))
        paths = sorted(str(p) for p in (tmp_path / "photos").iterdir())
        vectors[precision] = cli.vectors(paths)
        assert cli.search("--search", "a red car", "--limit", "6")[0]["results"], precision
    cosines = np.sum(vectors["fp32"] * vectors["bf16"], axis=1)
    assert cosines.min() >= 0.99 and not np.array_equal(vectors["fp32"], vectors["bf16"]), cosines


def test_large_jpeg_keeps_its_full_size_and_orientation_in_the_record(tmp_path: Path) -> None:
    photo = paint_photo(tmp_path / "big.jpg", seed=3, size=(4000, 2800))
    with Image.open(photo) as image:
        exif = Image.Exif()
        exif[0x0112] = 6
        image.save(tmp_path / "turned.jpg", exif=exif, quality=90)
    decoded = decode_image(str(tmp_path / "turned.jpg"), min_side=224)
    assert (decoded.width, decoded.height) == (2800, 4000)
    assert min(decoded.image.size) >= reduced_side(224) and max(decoded.image.size) < 4000, "decoded at reduced size"
    assert decoded.image.height > decoded.image.width, "orientation applied"
    with Image.open(tmp_path / "turned.jpg") as image:
        assert exif_orientation(image) == 6


@pytest.mark.parametrize("size", [(640, 480), (480, 640), (1200, 1200), (4000, 900)])
def test_reduced_decoding_keeps_the_models_input_and_a_full_size_thumbnail(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    """A common 640x480 photo decodes at half size for a 224 px model, yet its thumbnail is still 300 px."""
    from common.thumbnails import THUMBNAIL_SIZE, thumbnail_picture

    decoded = decode_image(str(paint_photo(tmp_path / "p.jpg", seed=1, size=size)), min_side=224)
    assert (decoded.width, decoded.height) == size
    assert decoded.image.width < size[0], "decoded at reduced size"
    assert min(decoded.image.size) >= 224
    assert max(thumbnail_picture(decoded.image).size) == THUMBNAIL_SIZE


def test_a_heic_is_read_from_its_own_thumbnail_when_that_is_big_enough(tmp_path: Path) -> None:
    """A phone's HEIC stores a 320x240 copy: ~4 ms to decode against ~340 ms for 12 MP (libde265
    has no reduced-size decoding). It is used only when it keeps the model's input."""
    path = tmp_path / "phone.heic"
    Image.open(paint_photo(tmp_path / "p.png", seed=5, size=(2000, 1500))).save(path, quality=80, thumbnails=[320])
    for_224 = decode_image(str(path), min_side=224)
    assert for_224.image.size == (320, 240), "the stored thumbnail"
    assert (for_224.width, for_224.height, for_224.format) == (2000, 1500, "HEIF")
    for_448 = decode_image(str(path), min_side=448)
    assert min(for_448.image.size) >= 448, "too small for a 448 px model: the picture itself, reduced"
    assert decode_image(str(path)).image.size == (2000, 1500)


def test_worker_processes_index_the_same_vectors_as_in_process(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    for i in range(70):
        paint_photo(folder / f"{i:02d}.jpg", seed=i, size=(300 + i, 200))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff nope")
    pooled, inline = Cli("faiss", tmp_path / "pooled"), Cli("faiss", tmp_path / "inline")
    assert pooled.index(folder, extra=("--workers", "2")).summary()["failed"] == 1
    assert inline.index(folder, extra=("--workers", "0")).summary()["failed"] == 1
    a, b = pooled.store(), inline.store()
    paths = sorted(a.get_signatures())
    assert paths == sorted(b.get_signatures()) and len(paths) == 70
    va, vb = a.get_vectors(paths), b.get_vectors(paths)
    assert all(np.allclose(va[p], vb[p], atol=1e-6) for p in paths)

    def without_time(records: list[dict]) -> list[dict]:
        return [{k: v for k, v in r.items() if k != "indexed_at"} for r in records]

    assert without_time(a.get_records()) == without_time(b.get_records())


def test_a_decoder_that_kills_its_worker_costs_one_file(tiny: Embedder, tmp_path: Path) -> None:
    from crashing_reader import read_or_die

    folder = tmp_path / "photos"
    paths = [str(paint_photo(folder / f"{i:02d}.png", seed=i)) for i in range(12)]
    paths.insert(5, str(paint_photo(folder / "crash-me.png", seed=99)))
    pool = DecodePool(2, tiny.pixel_recipe, reader=read_or_die)
    try:
        results = list(pool.read(paths, window=4))
    finally:
        pool.close()
    assert sorted(r.path for r in results) == sorted(paths), "every file answered, once"
    failed = [r for r in results if r.reason]
    assert [r.path for r in failed] == [paths[5]]
    assert "crashed" in failed[0].reason
    assert all(r.crop is not None for r in results if not r.reason)


@pytest.mark.parametrize("mode", ["1", "L", "I;16", "I", "F", "P", "RGBA", "CMYK", "LA"])
def test_reduced_size_decoding_handles_every_mode(tmp_path: Path, mode: str) -> None:
    """Large pictures in every mode decode at reduced size (Image.reduce refuses some modes)."""
    pixels = np.random.default_rng(0).integers(0, 255, (1200, 1600), dtype=np.uint8)
    if mode == "I;16":
        image = Image.fromarray(pixels.astype(np.uint16) * 200)  # uint16 arrays open as I;16
    else:
        image = Image.fromarray(pixels, "L").convert(mode)
    assert image.mode == mode
    path = tmp_path / ("big.tiff" if mode in ("I;16", "I", "F", "CMYK") else "big.png")
    image.save(path)
    decoded = decode_image(str(path), min_side=32)
    assert decoded.image.mode == "RGB"
    assert (decoded.width, decoded.height) == (1600, 1200)
    assert reduced_side(32) <= min(decoded.image.size) < 1200


def test_text_only_loading_gives_the_same_text_vectors(tiny: Embedder) -> None:
    """A text search loads the text tower alone (no image tower, no random init) — same vectors."""
    text_only = Embedder(tiny.spec, "cpu", text_only=True)
    assert text_only.text_only and text_only.model.visual is None
    prompts = ["a photo of a dog", "a red car", "Canon EOS 5D at night"]
    np.testing.assert_allclose(text_only.embed_texts(prompts), tiny.embed_texts(prompts), atol=1e-5)
    assert text_only.dim == tiny.dim
    with pytest.raises(RuntimeError, match="text queries only"):
        text_only.embed_images([Image.new("RGB", (40, 40))])


@pytest.mark.parametrize("model", ["tiny", "vit_b_32"])
def test_a_prompt_read_up_to_its_end_gives_the_whole_pass_vector(request, model: str) -> None:
    """The text tower reads a prompt's tokens and not the padding after them: the vectors the
    whole pass gives, alone or in a batch of prompts of other lengths, one filling the context."""
    embedder: Embedder = request.getfixturevalue(model)
    assert embedder._reads_tokens_up_to_the_end_of_text
    tokens = embedder.tokenizer(PROMPTS)
    with torch.inference_mode():
        whole = embedder.model.encode_text(tokens)
        batched = encode_text_up_to_its_end(embedder.model, tokens)
        alone = torch.cat([encode_text_up_to_its_end(embedder.model, tokens[i : i + 1]) for i in range(len(PROMPTS))])
    np.testing.assert_allclose(batched.numpy(), whole.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(alone.numpy(), whole.numpy(), rtol=1e-4, atol=1e-5)
    whole_unit = whole.numpy() / np.linalg.norm(whole.numpy(), axis=1, keepdims=True)
    assert np.allclose(embedder.embed_texts(PROMPTS), whole_unit, atol=1e-5)


def test_a_text_tower_that_sees_the_padding_reads_every_position(tmp_path: Path) -> None:
    """Without causal attention every position sees the padding: the whole pass, always."""
    import json

    config = json.loads(TINY_CONFIG.read_text())
    config["text_cfg"] |= {"no_causal_mask": True, "pool_type": "last"}
    (tmp_path / "imagedb-tiny-bidirectional.json").write_text(json.dumps(config))
    embedder = Embedder(
        ModelSpec("imagedb-tiny-bidirectional", "none", str(tmp_path / "imagedb-tiny-bidirectional.json")), "cpu"
    )
    assert not embedder._reads_tokens_up_to_the_end_of_text
    with torch.inference_mode():
        whole = embedder.model.encode_text(embedder.tokenizer(["a dog"]))
    whole_unit = whole.numpy() / np.linalg.norm(whole.numpy(), axis=1, keepdims=True)
    assert np.allclose(embedder.embed_texts(["a dog"]), whole_unit, atol=1e-5)


def test_text_only_falls_back_to_the_whole_model_when_it_cannot_apply() -> None:
    random_weights = Embedder(ModelSpec("imagedb-tiny-cifar10", "none", str(TINY_CONFIG)), "cpu", text_only=True)
    assert not random_weights.text_only and random_weights.model.visual is not None


PROMPTS = ["a photo of a dog", "", "Crème brûlée at Café Müller, 2019!", "A RED CAR, parked.", "a long prompt " * 40]


@pytest.mark.parametrize(
    "model, context",
    [("ViT-B-32", 77), ("imagedb-tiny-cifar10", 32), ("coca_ViT-B-32", 76), ("PE-Core-bigG-14-448", 72)],
)
def test_the_shared_tokenizer_gives_the_models_own_tokens(model: str, context: int) -> None:
    """Where a model's tokenizer is open_clip's default one, the one built at import stands in for
    it (no second build on every cold query): same tokens, its context length, long prompts cut."""
    import open_clip

    open_clip.add_model_config(TINY_CONFIG)  # as --model-config does
    assert default_tokenizer_context(open_clip, model) == context
    ours, theirs = tokenizer_for(open_clip, model)(PROMPTS), open_clip.get_tokenizer(model)(PROMPTS)
    assert ours.shape == (len(PROMPTS), context)
    assert torch.equal(ours, theirs)


@pytest.mark.parametrize("model", ["ViT-B-16-SigLIP", "roberta-ViT-B-32", "ViT-L-14-worldwide", "hf-hub:org/model"])
def test_other_tokenizers_come_from_open_clip(model: str) -> None:
    """SigLIP, Hugging Face tokenizers and hub names are left to open_clip."""
    import open_clip

    assert default_tokenizer_context(open_clip, model) is None


def test_a_model_with_tokenizer_options_gets_its_own_tokenizer(tmp_path: Path) -> None:
    """A config asking for other tokenizer options (here: case kept) is not given the default one."""
    import json

    import open_clip

    config = json.loads(TINY_CONFIG.read_text())
    config["text_cfg"]["tokenizer_kwargs"] = {"clean": "whitespace"}
    (tmp_path / "imagedb-tiny-case-kept.json").write_text(json.dumps(config))
    open_clip.add_model_config(tmp_path / "imagedb-tiny-case-kept.json")
    assert default_tokenizer_context(open_clip, "imagedb-tiny-case-kept") is None
    tokens = tokenizer_for(open_clip, "imagedb-tiny-case-kept")(PROMPTS)
    assert torch.equal(tokens, open_clip.get_tokenizer("imagedb-tiny-case-kept")(PROMPTS))
    assert not torch.equal(tokens, open_clip.tokenize(PROMPTS, context_length=32))  # "A RED CAR" keeps its case


def test_a_text_search_never_probes_the_vector_size(tiny: Embedder) -> None:
    """The size probe is a forward pass a text query does not need; indexing still asks for it."""
    text_only = Embedder(tiny.spec, "cpu", text_only=True)
    assert "dim" not in vars(text_only)
    assert text_only.embed_texts(["a dog"]).shape == (1, 64)
    assert "dim" not in vars(text_only) and text_only.dim == 64


@pytest.mark.parametrize("cores, cpu_workers, gpu_workers", [(1, 1, 1), (2, 2, 1), (16, 8, 15), (64, 8, 32)])
def test_decoding_gets_every_spare_core_when_the_model_runs_on_a_gpu(
    monkeypatch, cores: int, cpu_workers: int, gpu_workers: int
) -> None:
    """On the CPU the model needs the cores too; on a GPU they are all the decoders'."""
    from common.workers import default_worker_count

    monkeypatch.setattr("os.cpu_count", lambda: cores)
    assert default_worker_count("cpu") == cpu_workers
    assert default_worker_count("cuda") == default_worker_count("mps") == gpu_workers


@pytest.mark.slow
@pytest.mark.parametrize("model", ["tiny", "vit_b_32"])
def test_a_videos_frame_shrunk_as_it_is_converted_embeds_like_the_reference(
    request, model: str, tmp_path: Path
) -> None:
    """A video's frame is shrunk by FFmpeg as it is turned into RGB (area averaging), not turned
    whole into a picture and then reduced (a 4K frame: 5 ms, not 58): its vector must match
    open_clip's full route on the whole frame, upright, for a landscape clip and a portrait
    phone clip alike, and the record keeps the frame's own size."""
    import av
    from test_video import turn_for_display

    embedder: Embedder = request.getfixturevalue(model)
    painted = np.asarray(Image.open(paint_photo(tmp_path / "p.png", seed=5, size=(1920, 1080))).convert("RGB"))
    grain = np.random.default_rng(5).integers(-30, 31, painted.shape)
    body = Image.fromarray(np.clip(painted + grain, 0, 255).astype(np.uint8))
    clips = []
    for name in ("landscape.mp4", "portrait.mp4"):
        clips.append(tmp_path / name)
        with av.open(str(clips[-1]), "w") as out:
            stream = out.add_stream("libx264", rate=10, options={"crf": "12"})
            stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
            for _ in range(10):
                out.mux(stream.encode(av.VideoFrame.from_image(body)))
            out.mux(stream.encode())
    turn_for_display(clips[1], (0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000))  # 90° clockwise

    from common.video import read_video_frame

    for clip, size in zip(clips, [(1920, 1080), (1080, 1920)], strict=True):
        result = read_file(str(clip), embedder.pixel_recipe)
        assert result.reason is None and (result.record["width"], result.record["height"]) == size
        whole = read_video_frame(str(clip)).image
        assert whole.size == size and reduction_factor(size, embedder.pixel_recipe.size) >= 2
        (fast,) = embedder.embed_prepared([result.crop])
        (reference,) = embedder.embed_pixels(embedder.preprocess(whole)[None])
        assert float(fast @ reference) >= 0.99, clip.name
