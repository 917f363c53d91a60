#!/usr/bin/env python3
"""Writes the golden data of sr's model parity tests (tests/test_golden.cpp) into models/.

For EDSR, WDSR-A and WDSR-B at x2, x3 and x4, a small model with random weights is built with the
PyTorch reference of sr_reference.py and run in float64 on a random LR batch:

  models/<arch>-x<s>.safetensors   sr's own model file (OHWI weights, TF pixel-shuffle order,
                                   metadata to rebuild the model) plus golden.input (NHWC),
                                   golden.target, golden.output, golden.loss (L1) and
                                   golden.grad.<parameter> for every parameter (OHWI)
and the same model in the conventions sr-convert imports, each checked here by running a
forward written in that convention and comparing with the reference output:
  models/<arch>-x<s>.official.pt   official WDSR PyTorch state dict (weight_g [O,1,1,1],
                                   weight_v OIHW, torch PixelShuffle channel order)
  models/edsr-x<s>.edsr-pytorch.pt EDSR-PyTorch state dict (no /127.5: every bias x127.5,
                                   MeanShift tensors, torch PixelShuffle order)
  models/<arch>-x<s>.keras.h5      Keras weights file: WDSR-B as tensorflow-addons
                                   WeightNormalization layers (g, kernel=v HWIO, bias),
                                   WDSR-A and EDSR as plain Conv2D layers (kernel HWIO, bias)

Run with Debian's python3 (python3-torch, python3-h5py, python3-numpy):
  /usr/bin/python3 tests/golden/make_golden.py
The output is deterministic (fixed seeds); the files are committed.
"""
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sr_reference as ref  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models")


def config(arch, scale):
    return {"arch": arch, "scale": scale, "num_filters": 8, "num_blocks": 2,
            "expansion": 4 if arch == "wdsr-a" else 6, "res_scale": 0.75, "low_rank_ratio": 0.8}


def random_parameters(cfg, rng):
    """float32-representable random weights, kept as float64 tensors requiring grad."""
    p = {}
    for name, (shape, wn) in ref.parameter_shapes(cfg).items():
        fan_in = shape[1] * shape[2] * shape[3]
        bound = 1.0 / np.sqrt(fan_in)
        w = rng.uniform(-bound, bound, size=shape).astype(np.float32)
        b = rng.uniform(-0.1, 0.1, size=shape[0]).astype(np.float32)
        if wn:
            norms = np.sqrt((w.astype(np.float64) ** 2).reshape(shape[0], -1).sum(1))
            g = (norms * rng.uniform(0.5, 1.5, size=shape[0])).astype(np.float32)
            p[name + ".weight_g"] = torch.tensor(g, dtype=torch.float64, requires_grad=True)
            p[name + ".weight_v"] = torch.tensor(w, dtype=torch.float64, requires_grad=True)
        else:
            p[name + ".weight"] = torch.tensor(w, dtype=torch.float64, requires_grad=True)
        p[name + ".bias"] = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    return p


def to_ohwi(t):
    a = t.detach().numpy()
    return a.transpose(0, 2, 3, 1) if a.ndim == 4 else a


def ps_permutation(channels_out, r):
    """perm[o_torch] = o_tf: torch PixelShuffle channel c*r*r + i*r + j reads TF channel (i*r + j)*C + c."""
    C = channels_out // (r * r)
    return np.array([(o % (r * r)) * C + o // (r * r) for o in range(channels_out)])


def shuffle_layers(cfg):
    """Convs feeding a pixel shuffle, with the shuffle factor."""
    s = cfg["scale"]
    if cfg["arch"] == "edsr":
        return {"tail.0.0": 2, "tail.0.2": 2} if s == 4 else {"tail.0.0": s}
    return {"tail.0": s, "skip.0": s}


# ---- the importers' conventions, each with a forward written in that convention ----

def export_official_wdsr(p, cfg):
    sd = {}
    perms = shuffle_layers(cfg)
    for name, (shape, _) in ref.parameter_shapes(cfg).items():
        g, v, b = (p[name + k].detach().float() for k in (".weight_g", ".weight_v", ".bias"))
        if name in perms:
            perm = torch.tensor(ps_permutation(shape[0], perms[name]))
            g, v, b = g[perm], v[perm], b[perm]
        sd[name + ".weight_g"] = g.view(-1, 1, 1, 1).clone()
        sd[name + ".weight_v"] = v.clone()
        sd[name + ".bias"] = b.clone()
    return sd


def official_wdsr_forward(sd, cfg, lr):
    """JiahuiYu/wdsr_ntire2018 wdsr_a/b.py (HEAD): torch weight_norm and PixelShuffle."""
    sd = {k: v.double() for k, v in sd.items()}

    def c(x, name):
        v, g = sd[name + ".weight_v"], sd[name + ".weight_g"]
        w = g * v / v.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
        return F.conv2d(x, w, sd[name + ".bias"], padding=w.shape[-1] // 2)

    s, mean = cfg["scale"], ref.mean_tensor(torch.float64)
    x = (lr - mean) / 127.5
    skip = F.pixel_shuffle(c(x, "skip.0"), s)
    h = c(x, "head.0")
    for i in range(cfg["num_blocks"]):
        b = f"body.{i}.body"
        if cfg["arch"] == "wdsr-a":
            t = c(F.relu(c(h, b + ".0")), b + ".2")
        else:
            t = c(c(F.relu(c(h, b + ".0")), b + ".2"), b + ".3")
        h = h + t * cfg["res_scale"]
    return (F.pixel_shuffle(c(h, "tail.0"), s) + skip) * 127.5 + mean


def export_edsr_pytorch(p, cfg):
    sd = {}
    perms = shuffle_layers(cfg)
    for name, (shape, _) in ref.parameter_shapes(cfg).items():
        w, b = p[name + ".weight"].detach().float(), p[name + ".bias"].detach().float() * 127.5
        if name in perms:
            perm = torch.tensor(ps_permutation(shape[0], perms[name]))
            w, b = w[perm], b[perm]
        sd[name + ".weight"], sd[name + ".bias"] = w.clone(), b.clone()
    mean = torch.tensor(ref.DIV2K_MEAN) * 255.0
    sd["sub_mean.weight"] = torch.eye(3).view(3, 3, 1, 1)
    sd["sub_mean.bias"] = -mean
    sd["add_mean.weight"] = torch.eye(3).view(3, 3, 1, 1)
    sd["add_mean.bias"] = mean.clone()
    return sd


def edsr_pytorch_forward(sd, cfg, lr):
    """sanghyun-son/EDSR-PyTorch src/model/edsr.py: MeanShift, no /127.5, torch PixelShuffle."""
    sd = {k: v.double() for k, v in sd.items()}

    def c(x, name):
        w = sd[name + ".weight"]
        return F.conv2d(x, w, sd[name + ".bias"], padding=w.shape[-1] // 2)

    B, s = cfg["num_blocks"], cfg["scale"]
    x = c(lr, "sub_mean")
    x = c(x, "head.0")
    res = x
    for i in range(B):
        res = res + c(F.relu(c(res, f"body.{i}.body.0")), f"body.{i}.body.2") * cfg["res_scale"]
    res = c(res, f"body.{B}") + x
    stages = [2, 2] if s == 4 else [s]
    for k, st in enumerate(stages):
        res = F.pixel_shuffle(c(res, f"tail.0.{2 * k}"), st)
    return c(c(res, "tail.1"), "add_mean")


def keras_layer_names(cfg):
    """Keras layer names of each parameter group, in the file's layer order."""
    names = list(ref.parameter_shapes(cfg))
    if cfg["arch"] == "wdsr-b":  # tensorflow-addons wrappers, numbered in creation order
        return {n: ("weight_normalization" if i == 0 else f"weight_normalization_{i}") for i, n in enumerate(names)}
    keras = {}
    counter = 1
    s = cfg["scale"]
    for n in names:
        if n.startswith("tail.0.") and cfg["arch"] == "edsr":
            keras[n] = f"conv2d_{int(n[-1]) // 2 + 1}_scale_{2 if s == 4 else s}"
        elif n == "tail.0" and cfg["arch"] != "edsr":
            keras[n] = f"conv2d_main_scale_{s}"
        elif n == "skip.0":
            keras[n] = f"conv2d_skip_scale_{s}"
        else:
            keras[n] = f"conv2d_{counter}"
            counter += 1
    return keras


def export_keras(p, cfg, path):
    layers = keras_layer_names(cfg)
    with h5py.File(path, "w") as f:
        order = [b"input_1", b"lambda"]
        for empty in order:  # weightless layers have a group with no weights, as Keras writes them
            f.create_group(empty.decode()).attrs["weight_names"] = np.array([], dtype="S1")
        for name, (shape, wn) in ref.parameter_shapes(cfg).items():
            layer = layers[name]
            order.append(layer.encode())
            group = f.create_group(layer)
            inner = group.create_group(layer)
            hwio = lambda t: t.detach().float().numpy().transpose(2, 3, 1, 0)
            if cfg["arch"] == "wdsr-b":
                inner["g:0"] = p[name + ".weight_g"].detach().float().numpy()
                inner["kernel:0"] = hwio(p[name + ".weight_v"])
                inner["bias:0"] = p[name + ".bias"].detach().float().numpy()
                inner["initialized:0"] = np.bool_(True)
                weights = ["g:0", "kernel:0", "bias:0", "initialized:0"]
            else:
                inner["kernel:0"] = hwio(ref.effective_weight(p, name))
                inner["bias:0"] = p[name + ".bias"].detach().float().numpy()
                weights = ["kernel:0", "bias:0"]
            group.attrs["weight_names"] = np.array([f"{layer}/{w}".encode() for w in weights])
        f.attrs["layer_names"] = np.array(order)
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.2.4-tf"


def main():
    os.makedirs(OUT, exist_ok=True)
    seed = 0
    for arch in ("edsr", "wdsr-a", "wdsr-b"):
        for scale in (2, 3, 4):
            seed += 1
            rng = np.random.default_rng(seed)
            cfg = config(arch, scale)
            p = random_parameters(cfg, rng)
            lr = torch.tensor(rng.uniform(0, 255, size=(2, 3, 9, 11)).astype(np.float32), dtype=torch.float64)
            target = torch.tensor(rng.uniform(0, 255, size=(2, 3, 9 * scale, 11 * scale)).astype(np.float32),
                                  dtype=torch.float64)
            out = ref.forward(p, cfg, lr)
            loss = (out - target).abs().mean()
            loss.backward()

            tensors = {name: to_ohwi(t).astype(np.float32) for name, t in p.items()}
            nhwc = lambda t: t.detach().numpy().transpose(0, 2, 3, 1)
            tensors["golden.input"] = nhwc(lr).astype(np.float32)
            tensors["golden.target"] = nhwc(target).astype(np.float32)
            tensors["golden.output"] = nhwc(out)  # float64: the reference itself
            tensors["golden.loss"] = np.array(loss.item(), dtype=np.float64)
            for name, t in p.items():
                tensors["golden.grad." + name] = to_ohwi(t.grad)
            metadata = {"format": "sr-model", "format_version": 1, "arch": arch, "scale": scale,
                        "num_filters": cfg["num_filters"], "num_blocks": cfg["num_blocks"],
                        "expansion": cfg["expansion"], "res_scale": cfg["res_scale"],
                        "low_rank_ratio": cfg["low_rank_ratio"], "weight_norm": str(arch != "edsr").lower(),
                        "layout": "NHWC/OHWI", "pixel_shuffle": "depth_to_space", "normalization": "div2k-mean/127.5",
                        "source": "tests/golden/make_golden.py (PyTorch reference, float64)"}
            stem = os.path.join(OUT, f"{arch}-x{scale}")
            ref.write_safetensors(stem + ".safetensors", tensors, metadata)

            if arch == "edsr":
                sd = export_edsr_pytorch(p, cfg)
                check = edsr_pytorch_forward(sd, cfg, lr)
                torch.save(sd, stem + ".edsr-pytorch.pt")
            else:
                sd = export_official_wdsr(p, cfg)
                check = official_wdsr_forward(sd, cfg, lr)
                torch.save(sd, stem + ".official.pt")
            # float32 weights in the exported file: agreement to float precision.
            err = (check - out).abs().max().item() / out.abs().max().item()
            assert err < 1e-5, f"{stem}: exported convention disagrees with the reference ({err})"
            export_keras(p, cfg, stem + ".keras.h5")
            print(f"{stem}: loss {loss.item():.6f}, export check {err:.2e}")


if __name__ == "__main__":
    main()
