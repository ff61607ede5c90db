"""Whether the image tower runs faster in bf16 than in fp32 on this CPU: measured, once.

The instructions a CPU has do not tell. With AVX512-BF16, AMD's Zen 4 ran ViT-B-32's forward
pass at 2.2× fp32's speed (this project's EPYC); an Intel Xeon that has AVX512-BF16 but whose
AMX tiles the system does not offer ran it at 0.6× (a 2-core cloud Xeon, 2026-12-07: 29 images/s
in fp32, 17-18 in bf16), and ``--precision auto``, which picked bf16 by the instructions alone,
indexed at 0.6× the speed it could have. So where the CPU has bf16 instructions, one transformer
block of ViT-B-32's size (``nn.TransformerEncoderLayer``: 16 pictures' 50 tokens of 768) is run
in both formats in turns, the fastest of two runs of each counted; bf16 is chosen where it is
``PAYS_OFF`` times as fast. That costs ~0.4 s, once: the ratio is kept in the user's cache folder
(``common.user_cache``), by the CPU (its model name and instruction flags), the torch version
and the number of threads, and read back in well under a millisecond.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import platform
import time
from functools import cache
from pathlib import Path

from common.atomic import write_atomically
from common.user_cache import cache_folder

log = logging.getLogger(__name__)

RATIOS_FILE = "cpu-precision.json"  # in the cache folder: bf16's speed over fp32's, by CPU
PAYS_OFF = 1.15  # bf16 is chosen where it runs a block this many times as fast as fp32
_PICTURES, _TOKENS, _WIDTH = 16, 50, 768  # ViT-B-32's tokens for 16 pictures


def cpu_flags() -> frozenset[str]:
    """The instruction sets this CPU reports (Linux's /proc/cpuinfo; none elsewhere)."""
    return frozenset(_cpuinfo().get("flags", "").split())


def cpu_model_name() -> str:
    """This CPU's name as /proc/cpuinfo gives it ('AMD EPYC 9R14'), else as Python's platform does."""
    return _cpuinfo().get("model name") or platform.processor() or platform.machine()


@cache
def _cpuinfo() -> dict[str, str]:
    """The first processor's entries of Linux's /proc/cpuinfo ('model name', 'flags'), read once;
    none elsewhere."""
    entries: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if not line.strip():
                    break  # the first processor's entries end at the first blank line
                name, _, value = line.partition(":")
                entries.setdefault(name.strip(), value.strip())
    except OSError:
        pass
    return entries


def bf16_speed_over_fp32() -> float:
    """How many times as fast as fp32 this CPU runs one of ViT-B-32's blocks in bf16, measured
    once for this CPU, torch and thread count and then read from the cache folder."""
    import torch

    key = _key(torch.__version__, torch.get_num_threads())
    path = os.path.join(cache_folder(), RATIOS_FILE)
    ratios = _read(path)
    if isinstance(ratios.get(key), int | float):
        return float(ratios[key])
    ratio = _measured_bf16_over_fp32()
    log.info("bf16 runs ViT-B-32's blocks at %.2f× fp32's speed on this CPU (measured once)", ratio)
    ratios[key] = round(ratio, 3)
    with contextlib.suppress(OSError):  # a cache folder that cannot be written: measured again next time
        os.makedirs(os.path.dirname(path), exist_ok=True)
        text = json.dumps(ratios, indent=1, sort_keys=True)
        write_atomically(path, lambda temp: Path(temp).write_text(text, encoding="utf-8"), durable=False)
    return ratio


def _measured_bf16_over_fp32() -> float:
    """fp32's time over bf16's for one transformer block, each format's fastest of two runs
    taken in turns after one each to warm up (torch picks and prepares its kernels at the
    first), so that what else the machine does then (the decoding server starting beside the
    model) weighs on both alike."""
    import copy

    import torch

    block = torch.nn.TransformerEncoderLayer(
        _WIDTH, 12, 4 * _WIDTH, activation="gelu", batch_first=True, norm_first=True
    ).eval()
    tokens = torch.randn(_PICTURES, _TOKENS, _WIDTH, generator=torch.Generator().manual_seed(0))
    formats = {dtype: (copy.deepcopy(block).to(dtype), tokens.to(dtype)) for dtype in (torch.float32, torch.bfloat16)}
    best = dict.fromkeys(formats, float("inf"))
    with torch.inference_mode():
        for run in range(3):
            for dtype, (model, given) in formats.items():
                start = time.perf_counter()
                model(given)
                if run:  # the first warms up
                    best[dtype] = min(best[dtype], time.perf_counter() - start)
    return best[torch.float32] / max(best[torch.bfloat16], 1e-9)


def _key(torch_version: str, threads: int) -> str:
    """This CPU, torch and thread count, as the ratios are kept by: a Xeon with AMX and one whose
    system hides it differ in their flags; a new torch may bring other kernels."""
    flags = hashlib.sha256(" ".join(sorted(cpu_flags())).encode()).hexdigest()[:16]
    return f"{cpu_model_name()} | flags {flags} | torch {torch_version} | {threads} threads"


def _read(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            ratios = json.load(handle)
    except (OSError, ValueError):
        return {}
    return ratios if isinstance(ratios, dict) else {}
