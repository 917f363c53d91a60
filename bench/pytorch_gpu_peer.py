#!/usr/bin/env python3
"""The GPU peer: our bench/gpu_model_bench and the same models and batches in PyTorch on the same
GPU, in one run, with our time over PyTorch's row by row.

    python3 bench/pytorch_gpu_peer.py --ours build/bench/gpu_model_bench [--markdown] [--only TEXT] [--quick]

Rows (as gpu_model_bench): edsr-16 x2, wdsr-a-16 x2 and wdsr-b-32 x4; forward of one 1920x1080 LR
image (x2 models) or 960x540 (x4), and a training step on 16 x 48x48 and 64 x 64x64 LR patches.

PyTorch runs the models of tests/golden/sr_reference.py (the references our golden tests check
sr against), with these settings, chosen to match ours:
  - float32 with TF32 off for convolutions and matmuls (our ConvSettings::allow_tf32 = false);
  - channels_last activations and weights (NHWC, as sr);
  - cudnn.benchmark on (PyTorch measures its algorithms per shape, as our plan search does);
  - pixel shuffle by F.pixel_shuffle: the model's tail channels in PyTorch's order instead of
    TensorFlow's, a fixed permutation of weights that changes no arithmetic, and the op a PyTorch
    user would write;
  - forward: weight norm folded into plain weights, no autograd, the whole image in one pass
    (our row says how many tiles infer::Upscaler planned; one when the image fits);
  - training step: weight norm computed in the graph (WDSR), L1 loss, backward, torch.optim.Adam
    (its default multi-tensor implementation), lr 1e-4.
Times are medians of CUDA-event timed runs after warm-up; peak memory is
torch.cuda.max_memory_allocated since a reset before the row (weights and optimizer state
included, as our pool's peak). Where torch or a GPU is absent it says so and exits 0.

--smoke runs every row at a tiny size, on the CPU when there is no GPU (our binary is then not
run): a check that this script works, for bench/gpu_check.sh --dry-run; its times mean nothing.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = [("edsr-16", 2), ("wdsr-a-16", 2), ("wdsr-b-32", 4)]
# The profiles as sr's registry defines them (include/sr/models/profiles.hpp).
CONFIGS = {
    "edsr-16": dict(arch="edsr", num_filters=64, num_blocks=16, res_scale=1.0),
    "wdsr-a-16": dict(arch="wdsr-a", num_filters=32, num_blocks=16, expansion=4, res_scale=1.0),
    "wdsr-b-32": dict(arch="wdsr-b", num_filters=32, num_blocks=32, expansion=6, res_scale=1.0),
}


def rows_wanted(only, smoke=False):
    rows = []
    for profile, scale in MODELS:
        h, w = (1080, 1920) if scale == 2 else (540, 960)
        tag = f"{profile} x{scale}"
        rows.append(dict(name=f"{tag} forward 1x{w}x{h}", profile=profile, scale=scale, kind="forward", batch=1, height=h, width=w))
        for batch, patch in ((16, 48), (64, 64)):
            rows.append(dict(name=f"{tag} train_step {batch}x{patch}x{patch}", profile=profile, scale=scale,
                             kind="train_step", batch=batch, height=patch, width=patch))
    if smoke:
        for r in rows:
            r["batch"], r["height"], r["width"] = min(r["batch"], 2), r["height"] // 30, r["width"] // 30
    return [r for r in rows if not only or only in r["name"]]


def run_ours(binary, only, quick):
    """Runs gpu_model_bench; returns {name: row} (empty when it failed)."""
    if not binary:
        return {}
    if not os.access(binary, os.X_OK):
        print(f"pytorch_gpu_peer: {binary} is not an executable; our rows are missing")
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ours.json")
        cmd = [binary, f"--json={path}"] + ([f"--only={only}"] if only else []) + (["--quick"] if quick else [])
        print("ours:", " ".join(cmd), flush=True)
        status = subprocess.call(cmd)
        if status != 0 or not os.path.exists(path):
            print(f"pytorch_gpu_peer: gpu_model_bench failed (exit {status}); our rows are missing")
            return {}
        with open(path) as f:
            data = json.load(f)
    return {r["name"]: r for r in data["rows"]}


def init_parameters(torch, ref, cfg, device):
    """Parameters named as sr_reference expects, channels_last, with weight norm (v, g) on WDSR."""
    gen = torch.Generator().manual_seed(0)
    params = {}
    for name, (shape, weight_norm) in ref.parameter_shapes(cfg).items():
        fan_in = shape[1] * shape[2] * shape[3]
        w = (torch.rand(shape, generator=gen) * 2 - 1) * (3.0 / fan_in) ** 0.5
        w = w.to(device).contiguous(memory_format=torch.channels_last)
        if weight_norm:
            params[name + ".weight_v"] = w.requires_grad_()
            params[name + ".weight_g"] = w.flatten(1).norm(dim=1).detach().clone().requires_grad_()
        else:
            params[name + ".weight"] = w.requires_grad_()
        params[name + ".bias"] = torch.zeros(shape[0], device=device, requires_grad=True)
    return params


def folded(torch, ref, params):
    """Weight norm folded into plain weights, for inference."""
    out = {}
    with torch.no_grad():
        for name in {k.rsplit(".", 1)[0] for k in params}:
            out[name + ".weight"] = ref.effective_weight(params, name).contiguous(memory_format=torch.channels_last)
            out[name + ".bias"] = params[name + ".bias"]
    return out


def time_cpu(fn, warmup, min_runs, max_runs, min_seconds):
    for _ in range(warmup):
        fn()
    times, start = [], time.perf_counter()
    while len(times) < max_runs and (len(times) < min_runs or time.perf_counter() - start < min_seconds):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def time_cuda(torch, fn, warmup, min_runs, max_runs, min_seconds):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times, events, start = [], [], time.perf_counter()
    while len(events) < max_runs and (len(events) < min_runs or time.perf_counter() - start < min_seconds):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        events.append((a, b))
        if len(events) >= 4:
            events[-4][1].synchronize()
    torch.cuda.synchronize()
    times = [a.elapsed_time(b) for a, b in events]
    return statistics.median(times)


def run_pytorch(torch, ref, row, quick, device):
    F = torch.nn.functional
    cfg = dict(CONFIGS[row["profile"]], scale=row["scale"])
    gpu = device == "cuda"
    if gpu:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    params = init_parameters(torch, ref, cfg, device)
    gen = torch.Generator(device=device).manual_seed(1)
    n, h, w, s = row["batch"], row["height"], row["width"], row["scale"]
    lr = (torch.rand((n, 3, h, w), generator=gen, device=device) * 255).contiguous(memory_format=torch.channels_last)
    runs = (1, 3, 5, 0.1) if quick else (3, 10, 100, 1.5)
    if row["kind"] == "forward":
        plain = folded(torch, ref, params)
        del params
        if gpu:
            torch.cuda.reset_peak_memory_stats()

        def step():
            with torch.no_grad():
                ref.forward(plain, cfg, lr)
    else:
        hr = (torch.rand((n, 3, h * s, w * s), generator=gen, device=device) * 255).contiguous(memory_format=torch.channels_last)
        adam = torch.optim.Adam(list(params.values()), lr=1e-4)

        def step():
            adam.zero_grad(set_to_none=True)
            F.l1_loss(ref.forward(params, cfg, lr), hr).backward()
            adam.step()
    if not gpu:
        return time_cpu(step, *runs), float("nan")
    ms = time_cuda(torch, step, *runs)
    return ms, torch.cuda.max_memory_allocated() / 2**20


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ours", help="path of bench/gpu_model_bench (without it, PyTorch rows only)")
    parser.add_argument("--only", default="", help="rows whose name contains this text")
    parser.add_argument("--markdown", action="store_true", help='a markdown table after a "<!-- table -->" line')
    parser.add_argument("--quick", action="store_true", help="fewer timed runs")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, CPU without a GPU: checks the script only")
    args = parser.parse_args()

    try:
        import torch
    except ImportError:
        print("pytorch_gpu_peer: skipped: PyTorch is not installed (pip install torch, a CUDA build)")
        return 0
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and not args.smoke:
        print(f"pytorch_gpu_peer: skipped: PyTorch {torch.__version__} sees no CUDA GPU")
        return 0
    sys.path.insert(0, os.path.join(ROOT, "tests", "golden"))
    import sr_reference as ref
    # PyTorch's own shuffle (see the docstring): same work, its channel order.
    ref.depth_to_space = lambda x, s: torch.nn.functional.pixel_shuffle(x, s)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True

    if args.smoke:
        args.quick = True
        print("pytorch_gpu_peer: smoke run (tiny sizes" + (", CPU" if device == "cpu" else "") + "): times mean nothing")
    ours_ran = bool(args.ours) and device == "cuda" and not args.smoke
    ours = run_ours(args.ours, args.only, args.quick) if ours_ran else {}
    card = torch.cuda.get_device_name(0) if device == "cuda" else "CPU (smoke run)"
    out_of_memory = getattr(torch.cuda, "OutOfMemoryError", RuntimeError)
    print(f"PyTorch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, {card}", flush=True)
    table = []
    for row in rows_wanted(args.only, args.smoke):
        try:
            ms, peak = run_pytorch(torch, ref, row, args.quick, device)
        except out_of_memory:
            ms, peak = float("nan"), float("nan")
        mine = ours.get(row["name"])
        ratio = mine["ms"] / ms if mine and ms == ms else float("nan")
        table.append((row, mine, ms, peak, ratio))
        print(f"{row['name']:<42} PyTorch {ms:9.2f} ms peak {peak:8.0f} MiB"
              + (f" | ours {mine['ms']:9.2f} ms peak {mine['peak_mib']:8.0f} MiB | ours/PyTorch {ratio:5.2f}" if mine else ""),
              flush=True)

    if args.markdown:
        print("<!-- table -->")
        print(f"Card: {card}. PyTorch {torch.__version__} (CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}), "
              "float32, TF32 off, channels_last, cudnn.benchmark; ours: bench/gpu_model_bench. "
              "Ratio < 1: ours is faster.\n")
        print("| run | tiles (ours) | ours ms | PyTorch ms | ours/PyTorch | ours images/s | PyTorch images/s | ours peak MiB | PyTorch peak MiB |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for row, mine, ms, peak, ratio in table:
            images = row["batch"] * 1e3 / ms if ms == ms else float("nan")
            if mine:
                print(f"| {row['name']} | {mine['tiles'] or ''} | {mine['ms']:.2f} | {ms:.2f} | **{ratio:.2f}** | "
                      f"{mine['images_per_s']:.1f} | {images:.1f} | {mine['peak_mib']:.0f} | {peak:.0f} |")
            else:
                print(f"| {row['name']} | | {'(not run)' if not ours_ran else '(failed)'} | {ms:.2f} | | | {images:.1f} | | {peak:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
