#!/usr/bin/env python3
"""Golden PSNR/SSIM values for tests/test_metrics.cpp, from an independent NumPy/SciPy implementation.

    python3 tests/golden/metrics/make_golden.py      (needs numpy and scipy; run from anywhere)

Writes, next to this script, small synthetic image pairs as raw little-endian float32 [H, W, 3]
files (<case>.hr.f32, <case>.sr.f32) and golden.json with their shapes and the expected metrics
under each protocol. The formulas are written here from their definitions, not from sr:
  * quantize: numpy.round (half to even), clip to [0, 255]
  * Y: 16 + (65.481 R + 128.553 G + 24.966 B) / 255 (MATLAB rgb2ycbcr on 0..255 values)
  * PSNR: 10 log10(255^2 / MSE), MSE over every pixel and channel of the shaved images
  * SSIM: 2-D 11x11 Gaussian window (sigma 1.5, sum 1), K1 = 0.01, K2 = 0.03, L = 255,
    scipy.signal.convolve2d(..., mode="valid"), mean of the map; RGB = mean over channels.
The inputs are deterministic (fixed seeds), so rerunning reproduces the committed files.
"""
import json
import os

import numpy as np
from scipy.signal import convolve2d

HERE = os.path.dirname(os.path.abspath(__file__))


def quantize(img):
    return np.clip(np.round(img), 0, 255)


def to_y(img):
    return 16.0 + img @ np.array([65.481, 128.553, 24.966]) / 255.0


def shave(img, border):
    return img[border:img.shape[0] - border, border:img.shape[1] - border]


def psnr(a, b):
    mse = np.mean((a - b) ** 2)
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0 ** 2 / mse)


def gaussian_window():
    x = np.arange(11) - 5.0
    g = np.exp(-(x ** 2) / (2 * 1.5 ** 2))
    w = np.outer(g, g)
    return w / w.sum()


def ssim_plane(a, b):
    w = gaussian_window()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    f = lambda img: convolve2d(img, w, mode="valid")
    mu_a, mu_b = f(a), f(b)
    var_a = f(a * a) - mu_a ** 2
    var_b = f(b * b) - mu_b ** 2
    cov = f(a * b) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return ssim_map.mean()


def ssim(a, b):
    if a.ndim == 2:
        return float(ssim_plane(a, b))
    return float(np.mean([ssim_plane(a[..., c], b[..., c]) for c in range(a.shape[2])]))


def metrics(sr, hr, quantized, y, round_y, border):
    a, b = sr.astype(np.float64), hr.astype(np.float64)
    if quantized:
        a, b = quantize(a), quantize(b)
    if y:
        a, b = to_y(a), to_y(b)
        if round_y:
            a, b = quantize(a), quantize(b)
    a, b = shave(a, border), shave(b, border)
    return {"psnr": psnr(a, b), "ssim": ssim(a, b)}


def make_cases():
    rng = np.random.default_rng(20240601)
    cases = []

    # Smooth gradients and a sinusoid; SR = HR + Gaussian noise, some values outside [0, 255],
    # some exact .5 ties (which round to even).
    h, w = 40, 36
    yy, xx = np.mgrid[0:h, 0:w]
    hr = np.stack([xx * 255.0 / (w - 1), yy * 255.0 / (h - 1), 127.5 + 120 * np.sin(xx * 0.4 + yy * 0.3)], axis=-1)
    hr = np.round(hr)
    sr = hr + rng.normal(0, 6, hr.shape)
    sr[0, :5, 0] = [-3.0, 256.5, 0.5, 1.5, 2.5]
    sr[5, 5] = [254.5, 253.5, 300.0]
    cases.append(("noisy_gradient", hr, sr, 4))

    # Edges and texture; SR = a box-blurred HR with a colour shift (structured error).
    h, w = 32, 48
    hr = np.kron(rng.random((h // 4, w // 4, 3)) > 0.5, np.ones((4, 4, 1))) * 200.0 + 20.0
    hr[:, 24:] = np.round(rng.random((h, 24, 3)) * 255)
    k = np.ones((3, 3)) / 9.0
    sr = np.stack([convolve2d(hr[..., c], k, mode="same", boundary="symm") for c in range(3)], axis=-1)
    sr = sr + np.array([4.25, -2.75, 1.0])
    cases.append(("blurred_edges", hr, sr, 2))

    # Dark, low-contrast image (small variances: exercises the E[x^2] - mu^2 cancellation).
    h, w = 32, 32
    hr = np.round(10 + 3 * rng.random((h, w, 3)))
    sr = hr + rng.normal(0, 0.7, hr.shape)
    cases.append(("dark_low_contrast", hr, sr, 3))
    return cases


def main():
    golden = {"cases": []}
    for name, hr, sr, scale in make_cases():
        hr32, sr32 = hr.astype("<f4"), sr.astype("<f4")
        hr32.tofile(os.path.join(HERE, name + ".hr.f32"))
        sr32.tofile(os.path.join(HERE, name + ".sr.f32"))
        protocols = {
            "seed": metrics(sr32, hr32, False, False, False, 0),
            "paper": metrics(sr32, hr32, True, True, False, scale),
            "paper_rgb": metrics(sr32, hr32, True, False, False, scale + 6),
            "paper_round_y": metrics(sr32, hr32, True, True, True, scale),
            "float_y_border": metrics(sr32, hr32, False, True, False, scale),
        }
        golden["cases"].append({
            "name": name, "height": hr.shape[0], "width": hr.shape[1], "channels": 3, "scale": scale,
            "hr_file": name + ".hr.f32", "sr_file": name + ".sr.f32",
            "expected": protocols,
        })
    with open(os.path.join(HERE, "golden.json"), "w") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")
    for case in golden["cases"]:
        print(case["name"], json.dumps(case["expected"]))


if __name__ == "__main__":
    main()
