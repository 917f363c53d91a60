#!/usr/bin/env python3
"""Reads a TensorBoard event file as the documented record format describes it, independently of sr.

    read_events.py EVENT_FILE OUT_JSON

Each record is u64le length, u32le masked CRC-32C of the length bytes, the data, u32le masked
CRC-32C of the data; the data is a tensorflow.Event decoded here with a minimal protobuf parser
(wall_time = 1 double, step = 2 varint, file_version = 3 string, summary = 5 with repeated
Value = 1 {tag = 1, simple_value = 2 float, image = 4, histo = 5}). Writes what it found to
OUT_JSON for tests/test_tensorboard.cpp to compare. When the `tensorboard` package is importable
it also loads the file's directory with its EventAccumulator and records what that saw under
"tensorboard". Exit status 1 with a one-line message on any framing or CRC error.
"""
import hashlib
import json
import os
import struct
import sys


def crc32c_table():
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
        table.append(crc)
    return table


TABLE = crc32c_table()


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked(crc):
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def varint(buf, pos):
    result, shift = 0, 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, pos


def fields(buf):
    """Yields (field number, wire type, value) of a protobuf message."""
    pos = 0
    while pos < len(buf):
        key, pos = varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = varint(buf, pos)
            value, pos = buf[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            fail("unexpected wire type %d" % wire)
        yield number, wire, value


def records(raw):
    pos = 0
    while pos < len(raw):
        if pos + 12 > len(raw):
            fail("truncated record header at byte %d" % pos)
        length_bytes = raw[pos:pos + 8]
        (length,) = struct.unpack("<Q", length_bytes)
        (length_crc,) = struct.unpack("<I", raw[pos + 8:pos + 12])
        if masked(crc32c(length_bytes)) != length_crc:
            fail("length CRC mismatch at byte %d" % pos)
        data = raw[pos + 12:pos + 12 + length]
        if len(data) != length or pos + 16 + length > len(raw):
            fail("truncated record data at byte %d" % pos)
        (data_crc,) = struct.unpack("<I", raw[pos + 12 + length:pos + 16 + length])
        if masked(crc32c(data)) != data_crc:
            fail("data CRC mismatch at byte %d" % pos)
        yield data
        pos += 16 + length


def png_header(png):
    """Width, height and color type from the IHDR chunk of PNG bytes."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        fail("encoded_image_string is not a PNG")
    width, height, _, color_type = struct.unpack(">IIBB", png[16:26])
    return width, height, color_type


def decode(path):
    out = {"records": 0, "file_version": None, "scalars": [], "images": [], "histograms": [], "wall_times": []}
    for data in records(open(path, "rb").read()):
        out["records"] += 1
        step = 0
        summary = None
        for number, _, value in fields(data):
            if number == 1:
                out["wall_times"].append(struct.unpack("<d", value)[0])
            elif number == 2:
                step = value - (1 << 64) if value >= 1 << 63 else value
            elif number == 3:
                out["file_version"] = value.decode("utf-8")
            elif number == 5:
                summary = value
        if summary is None:
            continue
        for number, _, value_bytes in fields(summary):
            if number != 1:
                continue
            tag, kind = None, None
            for vn, _, v in fields(value_bytes):
                if vn == 1:
                    tag = v.decode("utf-8")
                elif vn == 2:
                    kind = ("scalar", struct.unpack("<f", v)[0])
                elif vn == 4:
                    image = {f: val for f, _, val in fields(v)}
                    width, height, color_type = png_header(image[4])
                    kind = ("image", {"height": image[1], "width": image[2], "colorspace": image[3],
                                      "png_width": width, "png_height": height, "png_color_type": color_type,
                                      "png_sha256": hashlib.sha256(image[4]).hexdigest()})
                elif vn == 5:
                    h = {}
                    for hn, _, hv in fields(v):
                        if hn in (1, 2, 3, 4, 5):
                            h[("min", "max", "num", "sum", "sum_squares")[hn - 1]] = struct.unpack("<d", hv)[0]
                        elif hn in (6, 7):
                            h[("bucket_limit", "bucket")[hn - 6]] = list(struct.unpack("<%dd" % (len(hv) // 8), hv))
                    kind = ("histogram", h)
            if kind is None:
                fail("summary value %r has no scalar, image or histogram" % tag)
            if kind[0] == "scalar":
                out["scalars"].append({"tag": tag, "step": step, "value": kind[1]})
            elif kind[0] == "image":
                out["images"].append(dict(tag=tag, step=step, **kind[1]))
            else:
                out["histograms"].append(dict(tag=tag, step=step, **kind[1]))
    return out


def with_tensorboard(path):
    try:
        import tensorboard
        from tensorboard.backend.event_processing import event_accumulator
    except ImportError:
        return None
    acc = event_accumulator.EventAccumulator(os.path.dirname(path), size_guidance={
        event_accumulator.SCALARS: 0, event_accumulator.IMAGES: 0, event_accumulator.HISTOGRAMS: 0})
    acc.Reload()
    tags = acc.Tags()
    seen = {"version": tensorboard.__version__, "scalars": [], "images": [], "histograms": []}
    for tag in tags.get("scalars", []):
        seen["scalars"] += [{"tag": tag, "step": e.step, "value": e.value} for e in acc.Scalars(tag)]
    for tag in tags.get("images", []):
        seen["images"] += [{"tag": tag, "step": e.step, "height": e.height, "width": e.width,
                            "png_sha256": hashlib.sha256(e.encoded_image_string).hexdigest()} for e in acc.Images(tag)]
    for tag in tags.get("histograms", []):
        seen["histograms"] += [{"tag": tag, "step": e.step, "num": e.histogram_value.num,
                                "bucket": list(e.histogram_value.bucket)} for e in acc.Histograms(tag)]
    return seen


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    result = decode(sys.argv[1])
    seen = with_tensorboard(sys.argv[1])
    if seen is not None:
        result["tensorboard"] = seen
    with open(sys.argv[2], "w") as f:
        json.dump(result, f, indent=1)
    print("read %d records%s" % (result["records"], "; tensorboard %s loaded %d scalars, %d images, %d histograms" % (
        seen["version"], len(seen["scalars"]), len(seen["images"]), len(seen["histograms"])) if seen else
        "; tensorboard package not importable"))
