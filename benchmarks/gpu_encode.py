"""GPU encoding throughput of an OpenCLIP ViT-B-32: pure forward vs the full pipeline from JPEGs.

Runs on a CUDA machine without network access. Weights are random-initialised (speed only: the
numbers of a pretrained ViT-B-32 are the same, the vectors are not). Needs torch and pillow; the
model comes from open_clip (image and text towers) when ``open-clip-torch`` and ``ftfy`` are
installed, else from timm's ``vit_base_patch32_clip_224`` (the same ViT-B/32 image tower; the text
path is then skipped, and the output says so and what to install).

Measured, at fp16 on CUDA:
* pure forward: images/s (texts/s) for a batch already on the GPU;
* full pipeline: JPEG files → decode + resize + normalise in DataLoader workers → GPU → forward
  (texts: tokenise → GPU → forward), so the gap to the pure forward is the input pipeline's cost;
* model FLOPs per item (torch.utils.flop_counter.FlopCounterMode) and the fraction of the GPU's
  dense fp16 peak that images/s x FLOPs reaches (peak from a table by GPU name, or --peak-tflops).

    .venv/bin/python benchmarks/gpu_encode.py --n 4096 --json benchmarks/out/gpu_encode.json
    .venv/bin/python benchmarks/gpu_encode.py --allow-cpu --n 64     # CPU smoke run only
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402

INSTALL_HINT = "pip install open-clip-torch ftfy"
# Dense (no sparsity) fp16 tensor-core peak, TFLOPS, by a substring of torch's device name.
# First match wins, so the more specific names come first.
PEAK_FP16_TFLOPS = (
    ("H100 PCIe", 756.0),
    ("H100 NVL", 835.0),
    ("H100", 989.0),  # SXM (device name "NVIDIA H100 80GB HBM3")
    ("H200", 989.0),
    ("GH200", 989.0),
    ("B200", 2250.0),
    ("A100", 312.0),
    ("A10G", 125.0),
    ("A10", 125.0),
    ("L40S", 362.0),
    ("L40", 181.0),
    ("L4", 121.0),
    ("V100", 125.0),
    ("T4", 65.0),
    ("RTX 4090", 165.0),
    ("RTX 3090", 71.0),
)
MEAN = (0.48145466, 0.4578275, 0.40821073)  # OpenAI CLIP preprocessing
STD = (0.26862954, 0.26130258, 0.27577711)
SIZE = 224


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="ViT-B-32 image/text encoding throughput on CUDA (fp16)."
    )
    p.add_argument("--n", type=int, default=2048, help="images (and texts) per measurement")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument(
        "--workers", type=int, default=None, help="JPEG decode workers (default: cores-1, ≤ 12)"
    )
    p.add_argument(
        "--images", default=None, help="folder of JPEGs (default: coco-mini, else generated)"
    )
    p.add_argument("--backend", choices=("auto", "open_clip", "timm"), default="auto")
    p.add_argument("--peak-tflops", type=float, default=None, help="override the GPU's fp16 peak")
    p.add_argument("--allow-cpu", action="store_true", help="run on CPU (fp32) as a smoke test")
    p.add_argument("--json", dest="json_out", default=None)
    return p.parse_args(argv)


# ---------------------------------------------------------------------- model
class Towers:
    """Callables for the image tower (always) and the text tower (open_clip only)."""

    def __init__(self, backend: str, device: Any, dtype: Any) -> None:
        self.backend, self.note = resolve_backend(backend)
        self.device, self.dtype = device, dtype
        self.tokenizer: Any = None
        self.text: Any = None
        if self.backend == "open_clip":
            import open_clip

            model = open_clip.create_model("ViT-B-32", pretrained=None)
            model = model.to(device=device, dtype=dtype).eval()
            self.tokenizer = open_clip.get_tokenizer("ViT-B-32")
            self.image: Any = model.encode_image
            self.text = model.encode_text
        else:
            import timm

            vit = timm.create_model("vit_base_patch32_clip_224", pretrained=False, num_classes=512)
            self.image = vit.to(device=device, dtype=dtype).eval()


def resolve_backend(requested: str) -> tuple[str, str]:
    """Which library provides the model, and a sentence saying why."""
    missing = [m for m in ("open_clip", "ftfy") if not _importable(m)]
    if requested in ("auto", "open_clip") and not missing:
        return "open_clip", "open_clip ViT-B-32 (image and text towers)"
    if requested == "open_clip":
        raise SystemExit(f"--backend open_clip needs {', '.join(missing)}: {INSTALL_HINT}")
    if not _importable("timm"):
        raise SystemExit(f"needs open_clip ({INSTALL_HINT}) or timm (pip install timm)")
    why = f"{', '.join(missing)} not installed" if missing else "--backend timm"
    return "timm", (
        f"timm vit_base_patch32_clip_224 image tower only ({why}); "
        f"for the text tower: {INSTALL_HINT}"
    )


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


# ---------------------------------------------------------------------- inputs
def image_files(folder: str | None, n: int, workdir: Path) -> tuple[list[Path], str]:
    """``n`` JPEG paths (a folder's files repeated as needed) and where they came from."""
    source = Path(folder) if folder else C.COCO_MINI / "images"
    files = (
        sorted(p for p in source.glob("*") if p.suffix.lower() in (".jpg", ".jpeg"))
        if source.is_dir()
        else []
    )
    if not files:
        files = generate_jpegs(workdir, min(n, 64))
        source_text = f"{len(files)} generated 640x480 JPEGs"
    else:
        source_text = f"{len(files)} JPEGs from {source}"
    return [files[i % len(files)] for i in range(n)], source_text


def generate_jpegs(folder: Path, count: int) -> list[Path]:
    from PIL import Image

    rng = np.random.default_rng(0)
    out = []
    for i in range(count):
        # Smooth gradients plus noise: compresses like a photo, not like white noise.
        yy, xx = np.mgrid[0:480, 0:640]
        base = np.stack(
            [
                (xx * rng.uniform(0.1, 0.4) + yy * rng.uniform(0.1, 0.4) + rng.uniform(0, 255))
                % 256
                for _ in range(3)
            ],
            axis=-1,
        )
        pixels = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
        path = folder / f"gen_{i:04d}.jpg"
        Image.fromarray(pixels).save(path, quality=90)
        out.append(path)
    return out


def caption_texts(n: int) -> list[str]:
    import json

    captions_file = C.COCO_MINI / "captions.json"
    texts: list[str] = []
    if captions_file.exists():
        items = json.loads(captions_file.read_text()).get("items", [])
        texts = [c for item in items for c in item.get("captions", [])]
    if not texts:
        texts = [
            f"a photo of {w} on a sunny day near the {v}"
            for w in ("a dog", "two cats", "a red bus")
            for v in ("river", "station", "market")
        ]
    return [texts[i % len(texts)] for i in range(n)]


class JpegDataset:
    """Decode + CLIP preprocessing (resize shorter side, centre crop, normalise) of one file."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> Any:
        import torch
        from PIL import Image

        with Image.open(self.paths[i]) as img:
            img = img.convert("RGB")
            scale = SIZE / min(img.size)
            img = img.resize(
                (max(SIZE, round(img.width * scale)), max(SIZE, round(img.height * scale))),
                Image.Resampling.BICUBIC,
            )
            left, top = (img.width - SIZE) // 2, (img.height - SIZE) // 2
            img = img.crop((left, top, left + SIZE, top + SIZE))
            arr = np.asarray(img, dtype=np.float32) / 255.0
        arr = (arr - np.array(MEAN, np.float32)) / np.array(STD, np.float32)
        return torch.from_numpy(arr.transpose(2, 0, 1).copy())


# ---------------------------------------------------------------------- measurements
def synchronize(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def pure_forward(module: Any, make_batch: Any, n: int, batch: int, device: Any) -> float:
    """Items/s of the forward alone on a batch already on the device (after a warm-up)."""
    import torch

    x = make_batch(batch)
    with torch.inference_mode():
        for _ in range(2):
            module(x)
        synchronize(device)
        t0 = time.perf_counter()
        done = 0
        while done < n:
            module(x)
            done += batch
        synchronize(device)
    return done / (time.perf_counter() - t0)


def image_pipeline(towers: Towers, paths: list[Path], batch: int, workers: int) -> float:
    """Images/s from JPEG files to embeddings on the device (decode in DataLoader workers)."""
    import torch
    from torch.utils.data import DataLoader

    loader = DataLoader(
        JpegDataset(paths),
        batch_size=batch,
        num_workers=workers,  # type: ignore[arg-type]
        pin_memory=towers.device.type == "cuda",
        persistent_workers=False,
    )
    with torch.inference_mode():
        t0 = time.perf_counter()
        for x in loader:
            towers.image(x.to(towers.device, dtype=towers.dtype, non_blocking=True))
        synchronize(towers.device)
    return len(paths) / (time.perf_counter() - t0)


def text_pipeline(towers: Towers, texts: list[str], batch: int) -> float:
    """Texts/s from strings (tokenised on the CPU) to embeddings on the device."""
    import torch

    with torch.inference_mode():
        t0 = time.perf_counter()
        for start in range(0, len(texts), batch):
            tokens = towers.tokenizer(texts[start : start + batch])
            towers.text(tokens.to(towers.device, non_blocking=True))
        synchronize(towers.device)
    return len(texts) / (time.perf_counter() - t0)


def flops_per_item(module: Any, example: Any) -> float:
    """Forward FLOPs for one item (a multiply-add counts 2), from FlopCounterMode."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    # With grad enabled nn.MultiheadAttention skips its fused inference fast path, whose kernel
    # FlopCounterMode does not count (it would miss every attention projection).
    with torch.enable_grad(), counter:
        module(example)
    return counter.get_total_flops() / example.shape[0]


def peak_tflops(device: Any, override: float | None) -> tuple[float | None, str]:
    import torch

    if override:
        return override, "--peak-tflops"
    if device.type != "cuda":
        return None, "cpu: no fp16 tensor-core peak"
    name = torch.cuda.get_device_name(device)
    for key, value in PEAK_FP16_TFLOPS:
        if key in name:
            return value, f"table entry {key!r} for {name!r}"
    return None, f"{name!r} not in the table: pass --peak-tflops"


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    import torch

    if not torch.cuda.is_available() and not args.allow_cpu:
        raise SystemExit(
            "gpu_encode: no CUDA device visible to torch; this benchmark measures GPU "
            "throughput (use --allow-cpu for a CPU smoke run; its numbers mean nothing for GPUs)"
        )
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = (
        torch.float16 if device.type == "cuda" else torch.float32
    )  # fp16 matmuls are slow on CPU
    towers = Towers(args.backend, device, dtype)
    workers = (
        args.workers if args.workers is not None else max(0, min(12, (os.cpu_count() or 1) - 1))
    )
    paths, image_source = image_files(args.images, args.n, workdir)
    batch = min(args.batch, args.n)
    C.log(f"{towers.note}; device {device} {dtype}; {image_source}; workers {workers}")

    def image_batch(b: int) -> Any:
        return torch.randn(b, 3, SIZE, SIZE, device=device, dtype=dtype)

    peak, peak_source = peak_tflops(device, args.peak_tflops)
    img_flops = flops_per_item(towers.image, image_batch(1))
    result: dict[str, Any] = {
        "benchmark": "gpu_encode",
        "weights": "random-initialised weights: speed only",
        "model": towers.note,
        "backend": towers.backend,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "dtype": str(dtype).replace("torch.", ""),
        "n": args.n,
        "batch": batch,
        "workers": workers,
        "images": image_source,
        "torch": torch.__version__,
        "machine": C.machine_info(),
        "peak_fp16_tflops": peak,
        "peak_source": peak_source,
        "image": {
            "gflops_per_item": img_flops / 1e9,
            "forward_per_s": pure_forward(towers.image, image_batch, args.n, batch, device),
            "pipeline_per_s": image_pipeline(towers, paths, batch, workers),
        },
    }
    if towers.text is not None:
        texts = caption_texts(args.n)

        def token_batch(b: int) -> Any:
            return towers.tokenizer(texts[:b]).to(device)

        result["text"] = {
            "gflops_per_item": flops_per_item(towers.text, token_batch(1)) / 1e9,
            "forward_per_s": pure_forward(towers.text, token_batch, args.n, batch, device),
            "pipeline_per_s": text_pipeline(towers, texts, batch),
        }
    else:
        result["text"] = {"skipped": f"text tower needs open_clip: {INSTALL_HINT}"}
    for part in ("image", "text"):
        r = result[part]
        if peak and "forward_per_s" in r:
            r["forward_fraction_of_peak"] = r["forward_per_s"] * r["gflops_per_item"] / (peak * 1e3)
            r["pipeline_fraction_of_peak"] = (
                r["pipeline_per_s"] * r["gflops_per_item"] / (peak * 1e3)
            )
    return result


def render(r: dict[str, Any]) -> str:
    lines = [
        f"{r['weights']}",
        f"model: {r['model']}",
        f"device: {r['device']} ({r['dtype']}), "
        f"batch {r['batch']}, {r['workers']} decode workers; peak {r['peak_fp16_tflops']} TFLOPS "
        f"({r['peak_source']})",
    ]
    rows = []
    for part in ("image", "text"):
        x = r[part]
        if "skipped" in x:
            lines.append(f"{part}: skipped — {x['skipped']}")
            continue
        rows.append(
            [
                part,
                round(x["gflops_per_item"], 2),
                round(x["forward_per_s"], 1),
                round(x["pipeline_per_s"], 1),
                x.get("forward_fraction_of_peak"),
                x.get("pipeline_fraction_of_peak"),
            ]
        )
    header = [
        "part",
        "GFLOP/item",
        "forward/s",
        "pipeline/s",
        "fwd frac of peak",
        "pipe frac of peak",
    ]
    return "\n".join(lines) + "\n" + C.fmt_table(rows, header)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mixsearch-gpu-") as tmp:
        result = run(args, Path(tmp))
    print(render(result))
    if args.json_out:
        C.write_json(args.json_out, result)
        C.log(f"wrote {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
