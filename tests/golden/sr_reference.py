"""Reference implementations, in PyTorch, of the models sr builds, written from
../shared/docs/reference-behaviour.md (not from sr's C++), plus tiny safetensors helpers.

Conventions of sr (and krasserm's Keras/TF2 code): input normalised as (x - 255*mean) / 127.5,
pixel shuffle in TensorFlow depth_to_space channel order, 'same' zero padding, residual scaling
before the add, weight norm w = g * v / ||v|| on every WDSR conv. Parameters here are PyTorch
OIHW tensors with g of shape [O]; sr stores weights OHWI.
"""
import json
import struct

import numpy as np
import torch
import torch.nn.functional as F

DIV2K_MEAN = (0.4488, 0.4371, 0.4040)


def depth_to_space(x, s):
    """TensorFlow depth_to_space on NCHW: out[n, c, h*s+i, w*s+j] = in[n, (i*s+j)*C + c, h, w]."""
    n, c, h, w = x.shape
    C = c // (s * s)
    return x.reshape(n, s, s, C, h, w).permute(0, 3, 4, 1, 5, 2).reshape(n, C, h * s, w * s)


def mean_tensor(dtype):
    return torch.tensor(DIV2K_MEAN, dtype=dtype).view(1, 3, 1, 1) * 255.0


def effective_weight(p, name):
    if name + ".weight_g" in p:
        v, g = p[name + ".weight_v"], p[name + ".weight_g"]
        return g.view(-1, 1, 1, 1) * v / v.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
    return p[name + ".weight"]


def conv(x, p, name):
    w = effective_weight(p, name)
    return F.conv2d(x, w, p[name + ".bias"], padding=w.shape[-1] // 2)


def wdsr_forward(p, cfg, lr):
    """lr: NCHW pixel units -> NCHW pixel units."""
    s, rs = cfg["scale"], cfg["res_scale"]
    mean = mean_tensor(lr.dtype)
    x = (lr - mean) / 127.5
    skip = depth_to_space(conv(x, p, "skip.0"), s)
    h = conv(x, p, "head.0")
    for i in range(cfg["num_blocks"]):
        b = f"body.{i}.body"
        if cfg["arch"] == "wdsr-a":
            t = conv(F.relu(conv(h, p, b + ".0")), p, b + ".2")
        else:
            t = conv(conv(F.relu(conv(h, p, b + ".0")), p, b + ".2"), p, b + ".3")
        h = h + t * rs
    main = depth_to_space(conv(h, p, "tail.0"), s)
    return (main + skip) * 127.5 + mean


def edsr_forward(p, cfg, lr):
    s, rs, B = cfg["scale"], cfg["res_scale"], cfg["num_blocks"]
    mean = mean_tensor(lr.dtype)
    h = conv((lr - mean) / 127.5, p, "head.0")
    b = h
    for i in range(B):
        b = b + conv(F.relu(conv(b, p, f"body.{i}.body.0")), p, f"body.{i}.body.2") * rs
    u = conv(b, p, f"body.{B}") + h
    stages = [2, 2] if s == 4 else [s]
    for k, st in enumerate(stages):
        u = depth_to_space(conv(u, p, f"tail.0.{2 * k}"), st)
    return conv(u, p, "tail.1") * 127.5 + mean


def forward(p, cfg, lr):
    return edsr_forward(p, cfg, lr) if cfg["arch"] == "edsr" else wdsr_forward(p, cfg, lr)


def parameter_shapes(cfg):
    """Ordered {name: (OIHW shape, weight_norm)} of a model."""
    F_, s, B = cfg["num_filters"], cfg["scale"], cfg["num_blocks"]
    shapes = {}

    def add(name, cin, cout, k, wn):
        shapes[name] = ((cout, cin, k, k), wn)

    if cfg["arch"] == "edsr":
        add("head.0", 3, F_, 3, False)
        for i in range(B):
            add(f"body.{i}.body.0", F_, F_, 3, False)
            add(f"body.{i}.body.2", F_, F_, 3, False)
        add(f"body.{B}", F_, F_, 3, False)
        if s == 4:
            add("tail.0.0", F_, 4 * F_, 3, False)
            add("tail.0.2", F_, 4 * F_, 3, False)
        else:
            add("tail.0.0", F_, s * s * F_, 3, False)
        add("tail.1", F_, 3, 3, False)
    else:
        r = cfg["expansion"]
        add("head.0", 3, F_, 3, True)
        for i in range(B):
            if cfg["arch"] == "wdsr-a":
                add(f"body.{i}.body.0", F_, r * F_, 3, True)
                add(f"body.{i}.body.2", r * F_, F_, 3, True)
            else:
                low = int(cfg.get("low_rank_ratio", 0.8) * F_)
                add(f"body.{i}.body.0", F_, r * F_, 1, True)
                add(f"body.{i}.body.2", r * F_, low, 1, True)
                add(f"body.{i}.body.3", low, F_, 3, True)
        add("tail.0", F_, 3 * s * s, 3, True)
        add("skip.0", 3, 3 * s * s, 5, True)
    return shapes


# ---- safetensors (a minimal writer/reader with json + numpy, independent of sr's C++) ----

_DTYPES = {np.dtype("float32"): "F32", np.dtype("float64"): "F64", np.dtype("int64"): "I64", np.dtype("uint8"): "U8"}
_NUMPY = {v: k for k, v in _DTYPES.items()}


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": {k: str(v) for k, v in metadata.items()}}
    blobs, offset = [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        data = a.tobytes()
        header[name] = {"dtype": _DTYPES[a.dtype], "shape": list(a.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    metadata = header.pop("__metadata__", {})
    base = 8 + n
    tensors = {}
    for name, e in header.items():
        b, en = e["data_offsets"]
        tensors[name] = np.frombuffer(raw[base + b:base + en], dtype=_NUMPY[e["dtype"]]).reshape(e["shape"])
    return tensors, metadata
