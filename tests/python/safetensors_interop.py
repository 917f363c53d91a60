#!/usr/bin/env python3
"""Interoperability of sr's safetensors files with an independent reader and writer.

    safetensors_interop.py check FILE [FILE2]   verify files written by tests/test_safetensors.cpp
    safetensors_interop.py write FILE   write a file for the C++ reader to verify

Both modes follow the published layout with nothing but json and numpy: u64 little-endian header
size N, N bytes of JSON, then the data buffer. When the `safetensors` package is importable they
also check against it (check: it loads FILE to the same arrays, and writes the bytes of FILE2,
which holds the same tensors with the metadata {"arch": "wdsr-b"}; write: it writes
FILE.reference.safetensors as well). Exit status 0 on success; failures print
one line saying what differs.
"""
import json
import struct
import sys

import numpy as np

DTYPES = {  # file dtype -> numpy dtype, in the reference's enum order (= ascending alignment)
    "BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "I16": np.int16, "U16": np.uint16,
    "F16": np.float16, "I32": np.int32, "U32": np.uint32, "F32": np.float32, "F64": np.float64,
    "I64": np.int64, "U64": np.uint64,
}
ENUM_ORDER = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32",
              "F32", "F64", "I64", "U64"]


def expected_from_cpp():
    """What tests/test_safetensors.cpp writes (keep the two in step)."""
    tensors = {
        "conv.weight": ((np.arange(18, dtype=np.float32) - 8.5) * 0.25).reshape(2, 3, 3, 1),
        "conv.bias": np.array([1.5, -2.25], dtype=np.float32),
        "scalar": np.array(3.0, dtype=np.float32),
        "empty": np.zeros((0, 4), dtype=np.float32),
        "norm.g": np.arange(1, 4, dtype=np.float64) / 3.0,
        "step": np.array(1234567890123, dtype=np.int64),
        "counts": np.array([0, 1, 127, 128, 255], dtype=np.uint8),
    }
    metadata = {"arch": "wdsr-b", "scale": "4", "note": "\u00fcn\u00efcode \u2713"}
    return tensors, metadata


def written_by_python():
    """What `write` stores (tests/test_safetensors.cpp checks these values)."""
    tensors = {
        "x": np.array([[0.5, -1.0], [2.0, 3.25], [1e-3, 7.0]], dtype=np.float32),
        "h": np.array([1.0, -2.0, 65504.0, 2.0 ** -24, np.inf], dtype=np.float16),
        "d": np.array([[0.1, 0.2], [-1e-300, 12345.678]], dtype=np.float64),
        "i": np.array([-1, 0, 2 ** 40], dtype=np.int64),
    }
    metadata = {"source": "numpy", "step": "7"}
    return tensors, metadata


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        fail("duplicate key in header: %r" % keys)
    return dict(pairs)


def read_plain(path):
    """Reads a safetensors file with json + numpy, checking the layout rules on the way."""
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header_bytes = raw[8:8 + n]
    header = json.loads(header_bytes.decode("utf-8"), object_pairs_hook=no_duplicates)
    metadata = header.pop("__metadata__", {})
    data = raw[8 + n:]
    entries = sorted(header.items(), key=lambda kv: tuple(kv[1]["data_offsets"]))
    position = 0
    tensors = {}
    for name, info in entries:
        begin, end = info["data_offsets"]
        dtype = np.dtype(DTYPES[info["dtype"]]).newbyteorder("<")
        shape = tuple(info["shape"])
        if begin != position:
            fail("tensor %r starts at %d, expected %d" % (name, begin, position))
        if end - begin != int(np.prod(shape, dtype=np.int64)) * dtype.itemsize:
            fail("tensor %r size %d does not match %s %s" % (name, end - begin, info["dtype"], shape))
        tensors[name] = np.frombuffer(data[begin:end], dtype=dtype).reshape(shape)
        position = end
    if position != len(data):
        fail("data buffer has %d bytes, tensors end at %d" % (len(data), position))
    return raw, n, header, metadata, tensors


def compare(label, got, want):
    if set(got) != set(want):
        fail("%s: tensor names %s, expected %s" % (label, sorted(got), sorted(want)))
    for name, w in want.items():
        g = got[name]
        if g.dtype != w.dtype or g.shape != w.shape or not np.array_equal(g, w):
            fail("%s: tensor %r is %s %s %r, expected %s %s %r" % (label, name, g.dtype, g.shape, g, w.dtype,
                                                                     w.shape, w))


def check(path, identical_path=None):
    tensors_want, metadata_want = expected_from_cpp()
    raw, n, header, metadata, tensors = read_plain(path)
    if n % 8 != 0:
        fail("header size %d is not a multiple of 8" % n)
    if metadata != metadata_want:
        fail("metadata %r, expected %r" % (metadata, metadata_want))
    compare("json+numpy", tensors, tensors_want)
    # The reference writer's order: descending dtype, then name; every tensor naturally aligned.
    order = sorted(header, key=lambda k: header[k]["data_offsets"])
    want_order = sorted(header, key=lambda k: (-ENUM_ORDER.index(header[k]["dtype"]), k))
    if order != want_order:
        fail("data order %s, expected %s" % (order, want_order))
    for name in order:
        itemsize = np.dtype(DTYPES[header[name]["dtype"]]).itemsize
        if (8 + n + header[name]["data_offsets"][0]) % itemsize != 0:
            fail("tensor %r is not aligned to %d bytes in the file" % (name, itemsize))
    print("json+numpy: %d tensors and metadata as expected" % len(tensors))

    try:
        import safetensors
        from safetensors import safe_open
        from safetensors.numpy import load_file, save
    except ImportError:
        print("safetensors package not importable: checked with json+numpy only")
        return
    compare("safetensors %s" % safetensors.__version__, load_file(path), tensors_want)
    with safe_open(path, framework="numpy") as f:
        if f.metadata() != metadata_want:
            fail("safetensors reads metadata %r, expected %r" % (f.metadata(), metadata_want))
    # Byte identity with the reference writer: it keeps metadata in a hash map, so the order of
    # several keys is arbitrary; the second file has one metadata key.
    if identical_path:
        single = {"arch": metadata_want["arch"]}
        theirs = save(tensors_want, metadata=single)
        if open(identical_path, "rb").read() != theirs:
            fail("safetensors %s writes different bytes than %s" % (safetensors.__version__, identical_path))
    print("safetensors %s: loads the same tensors and metadata%s" % (
        safetensors.__version__, "; writes byte-identical files" if identical_path else ""))


def dtype_name(array):
    for name, dtype in DTYPES.items():
        if array.dtype == np.dtype(dtype):
            return name
    raise ValueError(array.dtype)


def write(path):
    tensors, metadata = written_by_python()
    # Deliberately unlike sr's writer: JSON with spaces, keys in insertion order, no padding, data
    # in insertion order (so F16 and F64 data are not aligned in the file).
    header = {"__metadata__": metadata}
    offset = 0
    for name, t in tensors.items():
        header[name] = {"dtype": dtype_name(t), "shape": list(t.shape), "data_offsets": [offset, offset + t.nbytes]}
        offset += t.nbytes
    text = json.dumps(header).encode("utf-8")
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for t in tensors.values():
            f.write(np.ascontiguousarray(t).astype(t.dtype.newbyteorder("<")).tobytes())
    print("json+numpy: wrote %s" % path)
    try:
        import safetensors
        from safetensors.numpy import save_file
    except ImportError:
        print("safetensors package not importable: wrote the json+numpy file only")
        return
    save_file(tensors, path + ".reference.safetensors", metadata=metadata)
    print("safetensors %s: wrote %s.reference.safetensors" % (safetensors.__version__, path))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "write":
        write(sys.argv[2])
    elif len(sys.argv) in (3, 4) and sys.argv[1] == "check":
        check(*sys.argv[2:])
    else:
        print(__doc__)
        sys.exit(2)
