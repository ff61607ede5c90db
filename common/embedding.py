"""OpenCLIP embeddings for images and text prompts, L2-normalised float32.

torch and open_clip are imported only when a model is actually loaded, so ``--help``, bad
invocations and metadata-only searches never pay for them.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import logging
import os
import socket
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import numpy as np

from common.preprocess import PixelRecipe, to_model_input

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)

DEFAULT_MODEL = "ViT-B-32"
DEFAULT_PRETRAINED = "laion2b_s34b_b79k"
RANDOM_WEIGHTS = "none"  # --pretrained none: random initialisation (benchmarks only)


class ModelError(Exception):
    """A model that cannot be created or whose weights cannot be loaded; a usage error."""


@dataclass(frozen=True)
class ModelSpec:
    """Which model makes the vectors: what the index records and what a search must match.

    ``pretrained`` is an open_clip tag, an absolute checkpoint path, or "none";
    ``model_config`` is the absolute path of a custom open_clip model-config JSON, if any.
    """

    model: str
    pretrained: str
    model_config: str | None = None
    # The sha256 of the checkpoint and config files, where those are files, as the index records
    # them (``with_fingerprints``): the same files moved elsewhere are the same model.
    pretrained_sha256: str | None = None
    config_sha256: str | None = None

    @classmethod
    def from_options(cls, model: str | None, pretrained: str | None, model_config: str | None) -> ModelSpec:
        """Resolve CLI options: a config JSON names the model after its file; paths become absolute."""
        if model_config:
            model_config = os.path.abspath(os.path.expanduser(model_config))
            model = model or Path(model_config).stem
        model = model or DEFAULT_MODEL
        # hf-hub models carry their own weights; others default to the LAION tag.
        default_weights = "" if model.startswith("hf-hub:") else DEFAULT_PRETRAINED
        pretrained = pretrained or default_weights
        expanded = os.path.expanduser(pretrained)
        if pretrained and (os.sep in pretrained or os.path.exists(expanded)):
            pretrained = os.path.abspath(expanded)
        return cls(model=model, pretrained=pretrained, model_config=model_config)

    def describe(self) -> str:
        weights = f" (pretrained {self.pretrained})" if self.pretrained else ""
        return f"{self.model}{weights}"

    def with_fingerprints(self) -> ModelSpec:
        """This spec with the sha256 of its checkpoint and config files (~0.4 s for ViT-B-32's
        600 MB), recorded when an index is created."""
        return replace(
            self, pretrained_sha256=_sha256_of_file(self.pretrained), config_sha256=_sha256_of_file(self.model_config)
        )

    def has_the_weights_of(self, recorded: ModelSpec) -> bool:
        """Whether this spec's checkpoint has the bytes ``recorded``'s had (``with_fingerprints``):
        the same weights moved, or copied to another machine. An index made before imagedb
        recorded fingerprints cannot tell."""
        return recorded.pretrained_sha256 is not None and _sha256_of_file(self.pretrained) == recorded.pretrained_sha256

    def has_the_config_of(self, recorded: ModelSpec) -> bool:
        """Whether this spec's model config has the bytes ``recorded``'s had (true where none was recorded)."""
        return recorded.config_sha256 is None or _sha256_of_file(self.model_config) == recorded.config_sha256

    def missing_files(self) -> list[str]:
        """The checkpoint and config files this spec names that are not there."""
        return [
            path for path in (self.model_config, self.pretrained) if _names_a_file(path) and not os.path.isfile(path)
        ]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# What open_clip takes a model-config file to be: a .json file whose object holds these.
MODEL_CONFIG_KEYS = ("embed_dim", "vision_cfg", "text_cfg")


def check_model_config(path: str) -> None:
    """Raise ``ModelError`` where ``path`` is no model config open_clip would read. open_clip
    passes over a file without these keys, or not named .json, without a word (the model was
    then 'unknown'), and a file that is not JSON ended the run with a JSONDecodeError."""
    import json

    refuse_unless_a_file("model config", path, "; give an open_clip model-config JSON file")
    try:
        with open(path, encoding="utf-8") as file:
            config = json.load(file)
    except OSError as error:
        raise ModelError(f"cannot read model config {path}: {error.strerror or error}") from None
    except ValueError as error:  # not JSON, or not UTF-8 text
        raise ModelError(f"model config {path} is not JSON ({error})") from None
    missing = [key for key in MODEL_CONFIG_KEYS if not (isinstance(config, dict) and key in config)]
    if missing:
        raise ModelError(
            f"model config {path} is no open_clip model config: it has no {', '.join(missing)} "
            "(the model's JSON, as open_clip's model_configs hold)"
        )
    if not path.endswith(".json"):
        raise ModelError(
            f"model config {path}: open_clip reads model configs from .json files alone; name it {Path(path).stem}.json"
        )


def refuse_unless_a_file(what: str, path: str, instead: str = "") -> None:
    """Raise ``ModelError`` where ``path``, the ``what`` a spec names (a model config, a
    checkpoint), is not there, or is there but no file (a folder): 'does not exist' of what
    ``ls`` lists would send the user looking elsewhere. ``instead``: what to give, said after."""
    if os.path.isfile(path):
        return
    if not os.path.exists(path):
        raise ModelError(f"{what} {path} does not exist")
    from common.discovery import kind_of_file

    raise ModelError(f"{what} {path} is not a file but {kind_of_file(path)}{instead}")


def _names_a_file(path: str | None) -> bool:
    """Whether a spec's ``pretrained`` or ``model_config`` is a path (``from_options`` makes them
    absolute), not an open_clip tag, 'none' or an hf-hub name."""
    return bool(path) and os.path.isabs(path)


def _sha256_of_file(path: str | None) -> str | None:
    """The sha256 of the file ``path`` names; None for a tag, or a file that is not there."""
    if not _names_a_file(path) or not os.path.isfile(path):
        return None
    import hashlib

    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def let_idle_torch_threads_sleep() -> None:
    """Ask OpenMP to put a torch thread to sleep as soon as it has no work, instead of spinning.

    By default a thread that has finished its share of an operation keeps its core busy-waiting
    for the next one. Indexing on the CPU needs those moments for the decoding workers, which run
    at low priority beside the model (``DecodePool(yield_to_model=True)``): with the threads
    asleep between operations the workers decode there instead of taking cores from the model.
    Measured on 2 cores with ViT-B-32, in paired runs: ~5-10 % more images/s indexing, a forward
    pass alone ~2-5 % slower (the benchmark reads indexing against the faster, default setting),
    nothing a text query notices. Spinning briefly before sleeping (``GOMP_SPINCOUNT`` 10k or
    100k, between PASSIVE's 0 and the default's 300k) indexed slowest of all (paired runs, 2026-11).
    A value the user set is kept. It has to be in the environment before torch is first
    imported: libgomp reads it once, when torch loads it.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# Images per forward pass of an image tower in bf16 on the CPU, always: there the kernels torch
# picks depend on how many rows a matrix has, and a picture's vector moved with the size of the
# batch it came in (up to 0.03 in a component; never with its place in the batch or the other
# pictures). Cut into passes of exactly this many, the last padded, a picture has one vector
# however it is embedded: alone as a query, re-embedded by --repair, or beside its RAW twin.
CPU_BF16_PASS = 32


def choose_precision(requested: str, device: str, queries_only: bool = False) -> str:
    """The number format the image tower computes in. 'auto': fp16 on a CUDA GPU (as before);
    bf16 on a CPU that multiplies bf16 in hardware (``cpu_bf16_instructions``: ViT-B-32's forward
    pass 4.5× fp32's with Intel AMX on this project's 2-core Xeon, 2.2× with AVX512-BF16 on its
    2-core AMD EPYC, each vector within cosine 0.99 of the fp32 reference route) where it is
    faster there, measured once (``bf16_pays_off``: a Xeon with AVX512-BF16 but no AMX ran it at
    0.6×); fp32 elsewhere, where bf16 would be emulated or is slower. A model loaded for queries
    alone (prompts, pictures the index does not hold) stays in fp32 on the CPU: bf16 pays off
    over many pictures, and a picture embedded alone in bf16 pays a whole pass of
    ``CPU_BF16_PASS`` (one picture: 0.89 s against 0.12 s in fp32 on the EPYC, 0.25 against 0.09
    on the Xeon). Its vector is then within
    cosine ~0.9999 of the index's bf16 one for the same picture; a file the index holds is
    searched by its stored vector anyway."""
    if requested != "auto":
        return requested
    if device == "cuda":
        return "fp16"
    if device == "cpu" and not queries_only and bf16_pays_off():
        return "bf16"
    return "fp32"


def bf16_pays_off() -> bool:
    """Whether this CPU has bf16 instructions and runs the image tower's blocks faster in bf16
    than in fp32 (``common.cpu_precision``: measured once, ~0.4 s, then kept)."""
    if not cpu_multiplies_bf16_in_hardware():
        return False
    from common.cpu_precision import PAYS_OFF, bf16_speed_over_fp32

    return bf16_speed_over_fp32() >= PAYS_OFF


# torch's own checks for the CPU instructions that multiply bf16 in hardware, best first: Intel's
# AMX tiles (Xeons since Sapphire Rapids; the system must let a process use them, which torch's
# check asks), and AVX512-BF16's dot products (AMD Zen 4 and later, Intel Cooper Lake), which
# oneDNN's matrix kernels use where there is no AMX.
BF16_INSTRUCTIONS = (("AMX", "_is_amx_tile_supported"), ("AVX512-BF16", "_is_avx512_bf16_supported"))


def cpu_bf16_instructions() -> str | None:
    """The instructions this CPU multiplies bf16 with ("AMX", "AVX512-BF16"), or None."""
    return next((name for name, check_name in BF16_INSTRUCTIONS if torch_cpu_says(check_name)), None)


def torch_cpu_says(check_name: str) -> bool:
    """What torch's own CPU check ``check_name`` (``torch.cpu._is_avx512_bf16_supported``) says.
    torch keeps them private: a torch without one, or one that changed its mind about how to be
    called, reads as no."""
    import torch

    check = getattr(getattr(torch, "cpu", None), check_name, None)
    try:
        return bool(check and check())
    except Exception:
        return False


def cpu_multiplies_bf16_in_hardware() -> bool:
    """Whether this CPU multiplies bf16 in hardware (``cpu_bf16_instructions``)."""
    return cpu_bf16_instructions() is not None


# torch's own checks for the CPU instructions that multiply fp16 in hardware: Intel's AMX-FP16
# (Granite Rapids) and AVX512-FP16 (Sapphire Rapids on), which oneDNN's matrix kernels use.
# torch 2.15 has no check of AVX512-FP16: the flag the CPU reports stands for it (ViT-B-32 on a
# 2-core Xeon with it: 27.7 images/s in fp16, 29.1 in fp32; emulated, fp16 ran at a fifth).
FP16_CHECKS = ("_is_amx_fp16_supported", "_is_avx512_fp16_supported")
FP16_FLAGS = ("avx512_fp16",)


def cpu_multiplies_in_hardware(precision: str) -> bool:
    """Whether this CPU multiplies ``precision`` ("bf16", "fp16") in hardware; fp32 always."""
    if precision == "bf16":
        return cpu_multiplies_bf16_in_hardware()
    if precision == "fp16":
        from common.cpu_precision import cpu_flags

        return any(map(torch_cpu_says, FP16_CHECKS)) or not cpu_flags().isdisjoint(FP16_FLAGS)
    return True


def choose_device(requested: str) -> str:
    """'auto' picks CUDA, then Apple MPS, then CPU; an explicit device must be available."""
    import torch

    if requested == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise ModelError("--device cuda asked for, but no CUDA GPU is available to torch")
    if requested == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ModelError("--device mps asked for, but Apple MPS is not available to torch")
    return requested


class Embedder:
    """An OpenCLIP model turning images and prompts into unit vectors in one shared space."""

    def __init__(
        self,
        spec: ModelSpec,
        device: str = "auto",
        text_only: bool = False,
        precision: str = "auto",
        queries_only: bool = False,
    ) -> None:
        """Load ``spec``. ``text_only`` (text queries alone) builds just the text tower when it
        can: no image tower, no random initialisation, only the text weights read; anything
        unusual falls back to the whole model. ``precision``: see ``choose_precision``, as is
        ``queries_only`` (nothing to index: text alone is queries only too)."""
        let_idle_torch_threads_sleep()
        import open_clip
        import torch

        self.spec = spec
        self.device = choose_device(device)
        self._torch = torch
        if spec.model_config:
            check_model_config(spec.model_config)
            open_clip.add_model_config(spec.model_config)
        if spec.pretrained and spec.pretrained.startswith(os.sep):
            refuse_unless_a_file("checkpoint", spec.pretrained)
        pretrained = None if spec.pretrained in ("", RANDOM_WEIGHTS) else spec.pretrained
        model = _create_text_tower(open_clip, spec, self.device) if text_only else None
        self.text_only = model is not None
        if model is None:
            try:
                model = _create_model_cache_first(open_clip, spec.model, pretrained, self.device)
            except ModelError:
                raise
            except Exception as error:
                raise ModelError(_explain_model_error(spec, error)) from None
        if spec.pretrained == RANDOM_WEIGHTS:
            log.warning("%s has random weights (--pretrained none): results are meaningless", spec.model)
        model.eval()
        self.model = model
        self.preprocess: Any = None
        self.pixel_recipe: PixelRecipe | None = None
        if not self.text_only:
            from open_clip.transform import PreprocessCfg, image_transform_v2

            self.preprocess = image_transform_v2(PreprocessCfg(**model.visual.preprocess_cfg), is_train=False)
            # The Pillow half of that transform, for decoding in worker processes (None when the
            # model's preprocessing is not the common square case: then `preprocess` is used).
            self.pixel_recipe = PixelRecipe.from_preprocess_cfg(model.visual.preprocess_cfg)
        self.tokenizer = tokenizer_for(open_clip, spec.model)
        self.precision = choose_precision(precision, self.device, queries_only or self.text_only)
        if self.device == "cpu" and not self.text_only and not cpu_multiplies_in_hardware(self.precision):
            # Asked for by name (auto never picks it here): torch emulates it, slower than fp32.
            log.warning(
                "--precision %s on this CPU: it has no %s arithmetic in hardware, so torch emulates it, slower "
                "than fp32 (ViT-B-32 on a 2-core EPYC: fp16 3.5 images/s, fp32 17.8, bf16 39.5 where the CPU "
                "has it); --precision auto picks the fastest this CPU has",
                self.precision, self.precision,
            )  # fmt: skip
        elif self.device == "cpu" and not self.text_only and precision == "bf16":
            # In hardware (the branch above), but measured too slow for auto to take it (bf16_pays_off).
            from common.cpu_precision import PAYS_OFF, bf16_speed_over_fp32

            speed = bf16_speed_over_fp32()
            if speed < PAYS_OFF:
                log.warning(
                    "--precision bf16 on this CPU: it runs ViT-B-32's blocks at %.2f× fp32's speed here (measured "
                    "once), and --precision auto takes bf16 from %.2f×: it picks the fastest this CPU has",
                    speed, PAYS_OFF,
                )  # fmt: skip
        # What the image tower's input is converted to (the tower's own weights' format).
        self.image_dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[self.precision]
        if self.precision != "fp32" and self.device != "cpu":
            self.model.to(self.image_dtype)
        elif self.precision != "fp32" and not self.text_only:
            # On the CPU the image tower alone: a text query's one prompt keeps fp32's weights.
            self.model.visual.to(self.image_dtype)

    @functools.cached_property
    def dim(self) -> int:
        """The shared embedding width, read off the model itself (configs from hf-hub or a
        checkpoint need not be in open_clip's registry to look it up there). Asked for when an
        index is made or checked, never by a search: the probe is a forward pass, ~40 ms of a
        cold text search with ViT-B-32 on two cores."""
        return int(self.embed_texts(["a photo"]).shape[1])

    @property
    def min_side(self) -> int | None:
        """The input size a decoder may shrink pictures towards (None: decode at full size)."""
        return self.pixel_recipe.size if self.pixel_recipe else None

    def prepare(self, image: Image.Image) -> Any:
        """One upright RGB image as what ``embed_prepared`` takes (a uint8 crop, or a tensor)."""
        self._require_image_tower()
        return self.pixel_recipe.crop(image) if self.pixel_recipe else self.preprocess(image)

    def embed_prepared(self, prepared: list[Any]) -> np.ndarray:
        """Unit vectors for images already passed through ``prepare`` (here or in a worker)."""
        self._require_image_tower()
        if self.pixel_recipe:
            return self.embed_pixels(to_model_input(self.pixel_recipe, prepared, self.device))
        return self.embed_pixels(self._torch.stack(prepared))

    def _require_image_tower(self) -> None:
        if self.text_only:
            raise RuntimeError("this model was loaded for text queries only")

    def embed_images(self, images: list[Image.Image]) -> np.ndarray:
        """Unit vectors for already-upright RGB images, in one forward pass."""
        return self.embed_prepared([self.prepare(image) for image in images])

    def embed_pixels(self, batch: Any) -> np.ndarray:
        """Unit vectors for a preprocessed (N, 3, H, W) tensor."""
        torch = self._torch
        with torch.inference_mode():
            batch = batch.to(self.device, dtype=self.image_dtype, non_blocking=True)
            if self.device == "cpu" and self.precision == "bf16":
                features = torch.cat(
                    [self._encode_padded(batch[i : i + CPU_BF16_PASS]) for i in range(0, len(batch), CPU_BF16_PASS)]
                )
            else:
                features = self.model.encode_image(batch)
        return _normalise(features.float().cpu().numpy())

    def _encode_padded(self, images: Any) -> Any:
        """``images`` (at most ``CPU_BF16_PASS``) through the image tower in a pass of exactly
        ``CPU_BF16_PASS``, the rows past them zeros."""
        missing = CPU_BF16_PASS - len(images)
        if missing:
            images = self._torch.cat([images, images.new_zeros((missing, *images.shape[1:]))])
        return self.model.encode_image(images)[: CPU_BF16_PASS - missing]

    @property
    def context_length(self) -> int:
        """How many tokens of a prompt the text tower reads; the tokenizer drops the rest silently."""
        return int(self.tokenizer([""]).shape[1])

    def fills_context(self, text: str) -> bool:
        """Whether ``text`` reaches the last token the model reads, so any words past it are lost:
        the last position holds a token, not the padding an empty prompt gets there."""
        tokens = self.tokenizer([text, ""])
        return bool(tokens[0, -1] != tokens[1, -1])

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """Unit vectors for text prompts."""
        torch = self._torch
        with torch.inference_mode():
            tokens = self.tokenizer(texts).to(self.device)
            if self._reads_tokens_up_to_the_end_of_text:
                features = encode_text_up_to_its_end(self.model, tokens)
            else:
                features = self.model.encode_text(tokens)
        return _normalise(features.float().cpu().numpy())

    @functools.cached_property
    def _reads_tokens_up_to_the_end_of_text(self) -> bool:
        """Whether the text tower is open_clip's own CLIP one, whose answer is the same when the
        padding after the prompts is left out (``encode_text_up_to_its_end``): causal attention,
        pooled at the end-of-text token (the highest id, which ``argmax`` finds)."""
        import open_clip

        model = self.model
        return type(model) is open_clip.CLIP and model.text_pool_type == "argmax" and model.attn_mask is not None


def encode_text_up_to_its_end(model: Any, tokens: Any) -> Any:
    """``model.encode_text(tokens)`` without the padding after the longest prompt's end.

    open_clip's CLIP text tower reads all its 77 positions, though "a dog on a beach" is 7
    tokens and the rest padding: with causal attention no position sees the ones after it, and
    the answer is read at the end-of-text token, so the padding after the last prompt's end
    changes nothing but the time (ViT-B-32's text tower on two cores: 33 ms for "a dog on a
    beach" over all 77 positions, 14 ms over its 7). Each step below is ``CLIP.encode_text``'s (open_clip
    3.3), on the first positions alone; tests hold it to the whole pass.
    """
    import torch
    from open_clip.transformer import text_global_pool

    length = int(tokens.argmax(dim=-1).max()) + 1  # the end-of-text token is the highest id
    tokens = tokens[:, :length]
    cast_dtype = model.transformer.get_cast_dtype()
    x = model.token_embedding(tokens).to(cast_dtype)
    x = x + model.positional_embedding[:length].to(cast_dtype)
    x = model.transformer(x, attn_mask=model.attn_mask[:length, :length])
    x = model.ln_final(x)
    x = text_global_pool(x, tokens, model.text_pool_type, eos_token_id=getattr(model, "text_eos_id", None))
    if isinstance(model.text_projection, torch.nn.Linear):
        x = model.text_projection(x)
    elif model.text_projection is not None:
        x = x @ model.text_projection
    return x


def tokenizer_for(open_clip: Any, model_name: str) -> Callable[[list[str]], Any]:
    """The tokenizer ``open_clip.get_tokenizer(model_name)`` would build, without building the
    default one a second time.

    Most CLIP models use open_clip's plain BPE tokenizer, which open_clip already built when it
    was imported; ``get_tokenizer`` builds another from its 49k merges (~70 ms on two cores, a
    cold text search's whole margin over its floor). For those the shared one is used, with the
    model's context length; every other tokenizer (Hugging Face, SigLIP, custom options, models
    named by hf-hub: or local-dir:) comes from ``get_tokenizer``.
    """
    context_length = default_tokenizer_context(open_clip, model_name)
    if context_length is None:
        return open_clip.get_tokenizer(model_name)
    return functools.partial(open_clip.tokenize, context_length=context_length)


def default_tokenizer_context(open_clip: Any, model_name: str) -> int | None:
    """The context length of ``model_name``'s tokenizer when it is open_clip's default one (the
    branch ``get_tokenizer`` takes when nothing else applies); None when it is another."""
    from open_clip.factory import parse_model_name

    schema, _ = parse_model_name(model_name)
    config = open_clip.get_model_config(model_name) if schema is None else None
    if not config or "siglip" in model_name.lower():
        return None
    text_cfg = config.get("text_cfg", {})
    if {"hf_tokenizer_name", "tokenizer_kwargs", "tokenizer_mode"} & set(text_cfg):
        return None
    return int(text_cfg.get("context_length", open_clip.tokenizer.DEFAULT_CONTEXT_LENGTH))


def _create_text_tower(open_clip: Any, spec: ModelSpec, device: str) -> Any | None:
    """The model with its text tower alone, built without random init; None to fall back.

    A cold ``--search "a dog"`` otherwise builds and randomly initialises the image tower too
    (about 1.5 s for ViT-B-32 on two cores) only to overwrite everything with the checkpoint.
    Here the model is laid out on torch's meta device (no memory, no init), the image tower is
    dropped, and the text weights are assigned straight from the checkpoint.
    """
    import torch
    from open_clip.factory import load_state_dict

    checkpoint = _local_checkpoint(open_clip, spec)
    if checkpoint is None:
        return None
    try:
        config = copy.deepcopy(open_clip.get_model_config(spec.model))
        if not config or set(config) - {"embed_dim", "vision_cfg", "text_cfg", "quick_gelu", "init_logit_scale"}:
            return None  # custom text towers, CoCa, SigLIP biases…: the ordinary path handles them
        if "hf_model_name" in config["text_cfg"]:
            return None
        tag_cfg = open_clip.get_pretrained_cfg(spec.model, spec.pretrained) or {}
        if tag_cfg.get("quick_gelu"):
            config["quick_gelu"] = True
        with torch.device("meta"):  # shapes only: no memory, no random initialisation
            model = open_clip.CLIP(**config)
        state = load_state_dict(checkpoint, device="cpu", weights_only=True)
        if "logit_scale" in state and state["logit_scale"].ndim != model.logit_scale.ndim:
            state["logit_scale"] = state["logit_scale"].reshape(model.logit_scale.shape)
        model.visual = None
        expected = model.state_dict()
        text_state = {k: v.to(expected[k].dtype) for k, v in state.items() if k in expected}
        missing = set(expected) - set(text_state)
        if missing or any(text_state[k].shape != expected[k].shape for k in text_state):
            return None
        model.load_state_dict(text_state, strict=True, assign=True)
        if model.attn_mask is not None:  # a non-persistent buffer: rebuilt as open_clip builds it
            model.attn_mask = torch.full((model.context_length,) * 2, float("-inf")).triu_(1)
        if any(t.is_meta for t in (*model.parameters(), *model.buffers())):
            return None
        return model.to(device)
    except Exception as error:  # any surprise: the whole model, the ordinary way
        log.debug("text-only load of %s fell back to the full model: %s", spec.describe(), error)
        return None


def _local_checkpoint(open_clip: Any, spec: ModelSpec) -> str | None:
    """The checkpoint file behind ``spec`` if it is already on this machine (no download)."""
    if not spec.pretrained or spec.pretrained == RANDOM_WEIGHTS or spec.model.startswith("hf-hub:"):
        return None
    if os.path.isfile(spec.pretrained):
        return spec.pretrained
    tag_cfg = open_clip.get_pretrained_cfg(spec.model, spec.pretrained)
    if not tag_cfg:
        return None
    try:
        with _hub_offline(), _library_chatter_silenced():
            return open_clip.pretrained.download_pretrained(tag_cfg)
    except Exception:
        return None


@contextlib.contextmanager
def _hub_offline() -> Iterator[bool]:
    """Hugging Face hub calls answer from the local cache only; yields whether they already did."""
    import huggingface_hub.constants as hub

    was_offline = hub.HF_HUB_OFFLINE
    hub.HF_HUB_OFFLINE = True
    try:
        yield was_offline
    finally:
        hub.HF_HUB_OFFLINE = was_offline


def _create_model_cache_first(open_clip: Any, name: str, pretrained: str | None, device: str) -> Any:
    """Create the model from locally cached weights if they are there, else download them.

    The hub client retries an unreachable host for the best part of a minute; trying the cache
    offline first, then probing the hub once, makes an offline machine fail in a second.
    """

    def create() -> Any:
        with _library_chatter_silenced():
            return open_clip.create_model(
                name,
                pretrained=pretrained,
                device=device,
                # Without this, open_clip falls back to random weights when an hf-hub download
                # fails, and an index full of meaningless vectors would follow.
                require_pretrained=pretrained is not None or name.startswith("hf-hub:"),
            )

    needs_hub = name.startswith("hf-hub:") or (pretrained is not None and not os.path.isfile(pretrained))
    if not needs_hub:
        return create()
    import huggingface_hub.constants as hub

    with _hub_offline() as was_offline:
        try:
            return create()
        except Exception as cached_error:
            if was_offline or not _looks_like_missing_download(cached_error):
                raise
    if not _hub_reachable(hub.ENDPOINT):
        weights = name if pretrained is None else f"{name} (pretrained {pretrained})"
        raise ModelError(
            f"cannot fetch weights for {weights}: they are not in the local cache and "
            f"{hub.ENDPOINT} cannot be reached. Download them once with network access, or pass --pretrained /path/to/checkpoint"
        )
    return create()


def _looks_like_missing_download(error: Exception) -> bool:
    text = str(error).lower()
    return any(word in text for word in ("download", "offline", "cache", "hub", "connect", "resolve"))


def _hub_reachable(endpoint: str, timeout: float = 3.0) -> bool:
    host = urlparse(endpoint).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError:
        return False
    return True


@contextlib.contextmanager
def _library_chatter_silenced() -> Iterator[None]:
    """open_clip and the hub client log (and warn) their own version of a failure before
    raising it; the raised error becomes our one-line message, so their lines are muted."""
    loggers = [logging.getLogger(), logging.getLogger("huggingface_hub")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = vectors.astype(np.float32, copy=False)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def _explain_model_error(spec: ModelSpec, error: Exception) -> str:
    text = str(error)
    if _names_a_file(spec.pretrained) and os.path.isfile(spec.pretrained):
        misfit = how_the_checkpoint_misfits(spec)
        if misfit:
            return f"cannot load model {spec.describe()}: {misfit}"
    if "not found in built-ins" in text or "Model config for" in text:
        return f"unknown model {spec.model!r}: not an open_clip model name (see open_clip.list_models()); use --model-config for a custom architecture"
    if "is not a known tag or valid file path" in text:
        return f"unknown pretrained weights {spec.pretrained!r} for {spec.model}: not an open_clip tag (see open_clip.list_pretrained()) nor an existing checkpoint file"
    if "download" in text.lower() or "hub" in text.lower() or "connect" in text.lower():
        return (
            f"cannot fetch weights for {spec.describe()}: they are not in the local cache and the download failed "
            f"(offline?). Download them once with network access, or pass --pretrained /path/to/checkpoint"
        )
    return f"cannot load model {spec.describe()}: {text.splitlines()[0] if text else type(error).__name__}"


def how_the_checkpoint_misfits(spec: ModelSpec) -> str | None:
    """Why the local checkpoint ``spec.pretrained`` would not load into ``spec.model``: it is no
    file of weights, or the weights of another architecture (which torch says as a list of
    every layer's name, or as an error from resizing a position embedding, "not implemented
    for 'Half'"); None where that cannot be told (a custom architecture, say)."""
    import open_clip
    import torch
    from open_clip.factory import load_state_dict

    try:
        state = load_state_dict(spec.pretrained, device="cpu", weights_only=True)
    except Exception as error:  # not a torch file, or one holding more than tensors
        text = str(error)
        reason = text.split("WeightsUnpickler error:")[-1].strip().splitlines()[0] if text.strip() else ""
        return f"not a checkpoint of weights torch can read ({reason or type(error).__name__})"
    try:
        config = copy.deepcopy(open_clip.get_model_config(spec.model))
        with torch.device("meta"):  # shapes only: no memory, no random initialisation
            expected = {name: tuple(t.shape) for name, t in open_clip.CLIP(**config).state_dict().items()}
    except Exception:
        return None
    given = {name: tuple(t.shape) for name, t in state.items() if hasattr(t, "shape")}
    missing = [name for name in expected if name not in given]
    # open_clip resizes position embeddings to the model's (another image size, or context length),
    # and a logit scale may be saved as one number or as an array of one.
    reshaped = [
        name
        for name in expected
        if name in given
        and [d for d in given[name] if d != 1] != [d for d in expected[name] if d != 1]
        and "positional_embedding" not in name
    ]
    if not missing and not reshaped:
        return None
    shown = "×".join
    example = (
        f"{reshaped[0]} is {shown(map(str, given[reshaped[0]]))} in it, {shown(map(str, expected[reshaped[0]]))} in "
        f"{spec.model}" if reshaped else f"it has no {missing[0]}"
    )  # fmt: skip
    return (
        f"the weights of another model: of {spec.model}'s {len(expected)} weights, "
        f"{len(missing)} are not in it and {len(reshaped)} have another shape ({example})"
    )
