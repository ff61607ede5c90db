"""Train the tiny OpenCLIP model the test suite and the offline demo use.

Real CLIP weights cannot be downloaded on the machines this project is built and tested on,
so the suite needs a model it can make itself. This script trains a ~4 M parameter OpenCLIP
(``imagedb-tiny-cifar10.json``: 32 px ViT, embed dim 64) on CIFAR-10 with the captions
"a photo of a {class}", and writes fp16 weights that load exactly as a user's local model does::

    imagedb-faiss.py --model-config models/imagedb-tiny-cifar10.json \\
                     --pretrained models/imagedb-tiny-cifar10.pt ...

It is deterministic (fixed seeds, fixed data order, single process) so that re-running it
reproduces the committed weights up to floating-point noise between CPUs.

Usage: python models/train_tiny_clip.py [--data ../shared/data/cifar10] [--steps 1500]
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import open_clip
import torch
import torch.nn.functional as F
from PIL import Image

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "imagedb-tiny-cifar10.json"
WEIGHTS = HERE / "imagedb-tiny-cifar10.pt"
MODEL_NAME = CONFIG.stem
CAPTION = "a photo of a {}"
# OpenAI CLIP normalisation: the same constants open_clip's preprocessing uses at inference.
MEAN = torch.tensor(open_clip.OPENAI_DATASET_MEAN).view(1, 3, 1, 1)
STD = torch.tensor(open_clip.OPENAI_DATASET_STD).view(1, 3, 1, 1)


def load_split(root: Path) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Load every image of a CIFAR-10 split folder (``<class>/<n>.jpg``) into one uint8 tensor."""
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    images, labels = [], []
    for label, name in enumerate(classes):
        for path in sorted((root / name).glob("*.jpg")):
            with Image.open(path) as image:
                images.append(np.asarray(image.convert("RGB").resize((32, 32)), dtype=np.uint8))
            labels.append(label)
    pixels = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
    return pixels, torch.tensor(labels), classes


def normalise(pixels: torch.Tensor) -> torch.Tensor:
    return (pixels.float() / 255.0 - MEAN) / STD


def augment(pixels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random 4 px-padded crop and horizontal flip: cheap augmentations that CIFAR needs."""
    n = pixels.shape[0]
    padded = F.pad(pixels, (4, 4, 4, 4), mode="reflect")
    dx = torch.randint(0, 9, (n,), generator=generator)
    dy = torch.randint(0, 9, (n,), generator=generator)
    flips = torch.rand(n, generator=generator) < 0.5
    out = torch.empty_like(pixels)
    for i in range(n):
        crop = padded[i, :, dy[i] : dy[i] + 32, dx[i] : dx[i] + 32]
        out[i] = crop.flip(-1) if flips[i] else crop
    return out


@torch.inference_mode()
def precision_at_10(model, tokenizer, pixels: torch.Tensor, labels: torch.Tensor, classes: list[str]) -> float:
    """Text→image precision@10 over the split: the same measure the test suite checks via the CLI."""
    model.eval()
    image_features = torch.cat(
        [model.encode_image(normalise(pixels[i : i + 500]), normalize=True) for i in range(0, len(pixels), 500)]
    )
    text_features = model.encode_text(tokenizer([CAPTION.format(c) for c in classes]), normalize=True)
    top = (text_features @ image_features.T).topk(10, dim=1).indices
    hits = (labels[top] == torch.arange(len(classes)).unsqueeze(1)).float()
    model.train()
    return hits.mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data" / "cifar10")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--out", type=Path, default=WEIGHTS)
    args = parser.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    generator = torch.Generator().manual_seed(0)

    open_clip.add_model_config(CONFIG)
    model = open_clip.create_model(MODEL_NAME, pretrained=None)
    tokenizer = open_clip.get_tokenizer(MODEL_NAME)
    print(f"{MODEL_NAME}: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters")

    train_pixels, train_labels, classes = load_split(args.data / "train")
    test_pixels, test_labels, _ = load_split(args.data / "test")
    captions = tokenizer([CAPTION.format(c) for c in classes])

    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.1)
    warmup = max(1, args.steps // 15)

    def lr_at(step: int) -> float:
        if step < warmup:
            return args.lr * (step + 1) / warmup
        return 0.5 * args.lr * (1 + math.cos(math.pi * (step - warmup) / (args.steps - warmup)))

    model.train()
    started = time.time()
    order = torch.randperm(len(train_pixels), generator=generator)
    cursor = 0
    for step in range(args.steps):
        if cursor + args.batch > len(order):
            order, cursor = torch.randperm(len(train_pixels), generator=generator), 0
        index = order[cursor : cursor + args.batch]
        cursor += args.batch
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step)

        images = normalise(augment(train_pixels[index], generator))
        labels = train_labels[index]
        image_features, text_features, logit_scale = model(images, captions)[:3]
        logits = logit_scale * image_features @ text_features.T  # (batch, classes)
        # Image→caption: plain classification over the 10 captions.  Caption→image: every image
        # of the caption's class is a positive, so the target is spread evenly over them.
        same_class = (labels.unsqueeze(0) == torch.arange(len(classes)).unsqueeze(1)).float()
        present = same_class.sum(1) > 0
        targets = same_class[present] / same_class[present].sum(1, keepdim=True)
        loss = F.cross_entropy(logits, labels) + F.cross_entropy(logits.T[present], targets)

        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        if step % 100 == 0 or step == args.steps - 1:
            print(f"step {step:5d}  loss {loss.item():.3f}  {time.time() - started:6.1f}s", flush=True)

    p10 = precision_at_10(model, tokenizer, test_pixels, test_labels, classes)
    print(f"text→image precision@10 on {args.data / 'test'}: {p10:.3f}")
    state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    torch.save({"state_dict": state}, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
