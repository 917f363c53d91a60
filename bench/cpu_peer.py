#!/usr/bin/env python3
"""sr against PyTorch on the CPU, side by side in one run: the rows of bench/model_bench.

Runs build/bench/model_bench (fp32, then --precision=bf16 where the CPU has AMX or AVX512-BF16)
and the same architectures and batches in PyTorch at the same thread count: fp32, and bf16 under
torch.autocast (AMX through oneDNN). Prints each row's time and sr's speed over PyTorch's
(> 1: sr is faster). PyTorch comes from a virtual environment; without one the comparison is
skipped (exit 0) with a message.

    python3 -m venv /work/venv-torch && /work/venv-torch/bin/pip install torch
    /work/venv-torch/bin/python bench/cpu_peer.py --model-bench build/bench/model_bench --threads 2

The PyTorch models mirror sr's (include/sr/models/edsr.hpp, wdsr.hpp): NHWC via channels_last,
'same' padding, weight norm removed for inference and kept (parametrized) for WDSR training as sr
trains it, L1 loss and Adam for the training step. Numbers are wall-clock medians; other load on
the machine moves both sides, so compare ratios from one run, and repeat (--repeat).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROWS = [
    ("forward_480x270", "edsr-16", 2),
    ("forward_480x270", "wdsr-a-16", 2),
    ("forward_480x270", "wdsr-b-32", 4),
    ("train_step_16x48x48", "edsr-16", 2),
    ("train_step_16x48x48", "wdsr-a-16", 2),
    ("train_step_16x48x48", "wdsr-b-16", 2),
]


def build_models(torch):
    nn = torch.nn
    wn = nn.utils.parametrizations.weight_norm

    def conv(cin, cout, k, weight_norm):
        c = nn.Conv2d(cin, cout, k, padding=k // 2)
        return wn(c) if weight_norm else c

    class Edsr(nn.Module):
        def __init__(self, scale, f=64, blocks=16):
            super().__init__()
            self.head = conv(3, f, 3, False)
            self.body = nn.ModuleList(nn.Sequential(conv(f, f, 3, False), nn.ReLU(), conv(f, f, 3, False))
                                      for _ in range(blocks))
            self.body_end = conv(f, f, 3, False)
            stages = [(4, 2)] * 2 if scale == 4 else [(scale * scale, scale)]
            self.up = nn.ModuleList(nn.Sequential(conv(f, f * m, 3, False), nn.PixelShuffle(s)) for m, s in stages)
            self.tail = conv(f, 3, 3, False)

        def forward(self, x):
            h = self.head(x)
            b = h
            for block in self.body:
                b = b + block(b)
            u = self.body_end(b) + h
            for stage in self.up:
                u = stage(u)
            return self.tail(u)

    class Wdsr(nn.Module):
        def __init__(self, kind, scale, blocks, expansion, weight_norm, f=32):
            super().__init__()
            out = 3 * scale * scale
            self.head = conv(3, f, 3, weight_norm)
            if kind == "a":
                make = lambda: nn.Sequential(conv(f, f * expansion, 3, weight_norm), nn.ReLU(),
                                             conv(f * expansion, f, 3, weight_norm))
            else:
                low = int(0.8 * f)
                make = lambda: nn.Sequential(conv(f, f * expansion, 1, weight_norm), nn.ReLU(),
                                             conv(f * expansion, low, 1, weight_norm), conv(low, f, 3, weight_norm))
            self.body = nn.ModuleList(make() for _ in range(blocks))
            self.tail = conv(f, out, 3, weight_norm)
            self.skip = conv(3, out, 5, weight_norm)
            self.shuffle = nn.PixelShuffle(scale)

        def forward(self, x):
            h = self.head(x)
            for block in self.body:
                h = h + block(h)
            return self.shuffle(self.tail(h) + self.skip(x))

    def make(profile, scale, training):
        if profile == "edsr-16":
            return Edsr(scale)
        kind = profile[5]
        blocks = int(profile.split("-")[2])
        return Wdsr(kind, scale, blocks, 4 if kind == "a" else 6, weight_norm=training)

    return make


def time_torch(torch, make, kind, profile, scale, bf16, seconds, threads):
    torch.manual_seed(0)
    training = kind.startswith("train")
    model = make(profile, scale, training).to(memory_format=torch.channels_last)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)
    if training:
        lr = torch.rand(16, 3, 48, 48).to(memory_format=torch.channels_last)
        hr = torch.rand(16, 3, 48 * scale, 48 * scale).to(memory_format=torch.channels_last)
        adam = torch.optim.Adam(model.parameters(), lr=1e-4)

        def step():
            adam.zero_grad(set_to_none=True)
            with autocast:
                loss = torch.nn.functional.l1_loss(model(lr).float(), hr)
            loss.backward()
            adam.step()
    else:
        model.eval()
        lr = torch.rand(1, 3, 270, 480).to(memory_format=torch.channels_last)

        def step():
            with torch.inference_mode(), autocast:
                model(lr)
    step()
    step()
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or len(times) < 3:
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def run_model_bench(path, threads, precision, min_time):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        cmd = [path, f"--threads={threads}", f"--precision={precision}", f"--benchmark_out={out.name}",
               "--benchmark_out_format=json", f"--benchmark_min_time={min_time}"]
        env = dict(os.environ, OMP_PROC_BIND="close", OMP_PLACES="cores")
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"cpu_peer: {' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
        machine = next((line for line in proc.stdout.splitlines() if line.startswith("machine:")), "machine: ?")
        results = {}
        for b in json.load(open(out.name))["benchmarks"]:
            name = b["name"].split("/min_time")[0]
            unit = {"ms": 1.0, "us": 1e-3, "ns": 1e-6, "s": 1e3}[b.get("time_unit", "ms")]
            results[name] = b["real_time"] * unit
        return machine, results


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model-bench", default="build/bench/model_bench")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--precision", choices=["fp32", "bf16", "both"], default="both")
    ap.add_argument("--seconds", type=float, default=3.0, help="PyTorch timing per row")
    ap.add_argument("--min-time", type=float, default=2.0, help="model_bench --benchmark_min_time")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        print("cpu_peer: PyTorch is not installed in this Python; comparison skipped "
              "(python3 -m venv /work/venv-torch && /work/venv-torch/bin/pip install torch)")
        return 0
    torch.set_num_threads(args.threads)
    make = build_models(torch)
    precisions = ["fp32", "bf16"] if args.precision == "both" else [args.precision]
    print(f"PyTorch {torch.__version__} (CPU capability {torch.backends.cpu.get_cpu_capability()}), "
          f"{args.threads} threads")
    for rep in range(args.repeat):
        for precision in precisions:
            machine, ours = run_model_bench(args.model_bench, args.threads, precision, args.min_time)
            print(f"\n[{precision}, run {rep + 1}] sr {machine}")
            print(f"| work | sr {precision} ms | PyTorch {precision} ms | sr speed / PyTorch |")
            print("| --- | --- | --- | --- |")
            for kind, profile, scale in ROWS:
                key = f"{kind}/{profile}_x{scale}"
                theirs = time_torch(torch, make, kind, profile, scale, precision == "bf16", args.seconds, args.threads)
                mine = ours.get(key)
                ratio = f"{theirs / mine:.2f}x" if mine else "n/a"
                print(f"| {kind} {profile} x{scale} | {mine:.0f} | {theirs:.0f} | {ratio} |" if mine else
                      f"| {kind} {profile} x{scale} | missing | {theirs:.0f} | n/a |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
