#!/usr/bin/env python3
"""Writes the committed bad-input corpus (tests/bad_inputs/files/) from the fuzz seeds.

Run from the repository root:  python3 tests/bad_inputs/make_corpus.py
Standard library only. Every file is a small, deliberate defect of one kind, made from the valid
16x16 seeds in fuzz/corpus (themselves cut from the repository's CC0 sample) or written by hand
here; manifest.tsv says which tool command each one goes through and what error it must give.
Inputs that would be large (decompression bombs) are not committed: the test generates them.
"""
import json
import os
import struct
import zlib

ROOT = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(ROOT, "files")
SEEDS = os.path.join(ROOT, "..", "..", "fuzz", "corpus")


def seed(kind, name):
    with open(os.path.join(SEEDS, kind, name), "rb") as f:
        return f.read()


def put(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


# ---- PNG ----------------------------------------------------------------------------------
SIG = b"\x89PNG\r\n\x1a\n"


def chunk(kind, body, crc=None):
    c = zlib.crc32(kind + body) if crc is None else crc
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", c & 0xFFFFFFFF)


def ihdr(w, h, depth=8, color=2, compression=0, filt=0, interlace=0):
    return chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color, compression, filt, interlace))


def rows_rgb(w, h, filter_byte=0):
    return b"".join(bytes([filter_byte]) + bytes((x * 16 + y * 3) & 255 for x in range(3 * w)) for y in range(h))


def png(w=4, h=4, depth=8, color=2, body=None, extra=b"", **kw):
    data = zlib.compress(rows_rgb(w, h) if body is None else body)
    return SIG + ihdr(w, h, depth, color, **kw) + extra + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def pngs():
    good = png()
    put("png_empty.png", b"")
    put("png_signature_only.png", SIG)
    put("png_cut_in_ihdr.png", good[:20])
    idat_at = good.index(b"IDAT")
    put("png_cut_in_idat.png", good[: idat_at + 10])
    put("png_bad_ihdr_crc.png", SIG + ihdr(4, 4)[:-4] + b"\0\0\0\0" + good[33:])
    broken = bytearray(good)
    broken[idat_at + 8] ^= 0xFF  # inside the zlib stream; CRC recomputed, so only inflate sees it
    data = zlib.compress(rows_rgb(4, 4))
    bad = bytearray(data)
    bad[4] ^= 0x55
    put("png_corrupt_deflate.png", SIG + ihdr(4, 4) + chunk(b"IDAT", bytes(bad)) + chunk(b"IEND", b""))
    put("png_bad_idat_crc.png", SIG + ihdr(4, 4) + chunk(b"IDAT", data, crc=0x12345678) + chunk(b"IEND", b""))
    put("png_zero_width.png", png(w=0, h=4, body=b""))
    put("png_zero_height.png", png(w=4, h=0, body=b""))
    put("png_absurd_size.png", png(w=100000, h=100000, body=b"\0" * 16))
    put("png_width_over_2g.png", png(w=0x80000000, h=1, body=b"\0" * 16))
    put("png_bit_depth_7.png", png(depth=7))
    put("png_color_type_5.png", png(color=5))
    put("png_palette_16bit.png", png(depth=16, color=3))
    put("png_compression_method_1.png", png(compression=1))
    put("png_filter_method_1.png", png(filt=1))
    put("png_interlace_method_2.png", png(interlace=2))
    put("png_short_image_data.png", png(body=rows_rgb(4, 2)))
    put("png_bad_row_filter.png", png(body=rows_rgb(4, 4, filter_byte=9)))
    put("png_palette_without_plte.png", png(color=3, body=b"".join(b"\0" + b"\0" * 4 for _ in range(4))))
    put("png_no_idat.png", SIG + ihdr(4, 4) + chunk(b"IEND", b""))
    put("png_idat_before_ihdr.png", SIG + chunk(b"IDAT", data) + ihdr(4, 4) + chunk(b"IEND", b""))
    put("png_huge_chunk_length.png", SIG + ihdr(4, 4) + struct.pack(">I", 0x7FFFFFF0) + b"IDAT" + data)
    put("png_no_ihdr.png", SIG + chunk(b"IEND", b""))
    put("png_wrong_signature.png", b"\x89PNX\r\n\x1a\n" + good[8:])


# ---- JPEG (cut from the 16x16 baseline and progressive seeds) -------------------------------
def segments(jpeg):
    """(marker, start, end) of each segment before the scan data of the first SOS."""
    out, i = [], 2
    while i < len(jpeg):
        marker = jpeg[i + 1]
        length = struct.unpack(">H", jpeg[i + 2 : i + 4])[0]
        out.append((marker, i, i + 2 + length))
        if marker == 0xDA:
            break
        i += 2 + length
    return out


def without(jpeg, marker):
    for m, s, e in segments(jpeg):
        if m == marker:
            return jpeg[:s] + jpeg[e:]
    raise ValueError(marker)


def patch(data, offset, new):
    return data[:offset] + new + data[offset + len(new) :]


def jpegs():
    base = seed("fuzz_image", "baseline.jpg")
    prog = seed("fuzz_image", "progressive.jpg")
    seg = {m: (s, e) for m, s, e in segments(base)}
    sof = seg[0xC0][0]  # FFC0 len(2) precision(1) height(2) width(2) components(1) ...
    sos_end = seg[0xDA][1]
    put("jpg_empty.jpg", b"")
    put("jpg_soi_only.jpg", base[:2])
    put("jpg_cut_in_dqt.jpg", base[: seg[0xDB][0] + 30])
    put("jpg_cut_in_scan.jpg", base[: sos_end + 40])
    put("jpg_no_scan.jpg", base[:sos_end - 14] + b"\xff\xd9")
    put("jpg_zero_width.jpg", patch(base, sof + 7, b"\0\0"))
    put("jpg_zero_height.jpg", patch(base, sof + 5, b"\0\0"))
    put("jpg_absurd_size.jpg", patch(base, sof + 5, b"\xfd\xe8\xfd\xe8"))  # 65000 x 65000
    put("jpg_precision_12.jpg", patch(base, sof + 4, b"\x0c"))
    put("jpg_zero_components.jpg", patch(base, sof + 9, b"\x00"))
    put("jpg_sampling_factor_0.jpg", patch(base, sof + 11, b"\x00"))
    put("jpg_no_dqt.jpg", without(base, 0xDB))
    put("jpg_segment_length_1.jpg", patch(base, seg[0xDB][0] + 2, b"\x00\x01"))
    flipped = bytearray(base)
    for i in range(sos_end + 4, len(base) - 4, 7):
        flipped[i] ^= 0xA5
    put("jpg_corrupt_scan.jpg", bytes(flipped))
    put("jpg_unknown_sof.jpg", patch(base, sof + 1, b"\xc3"))  # lossless: not supported by libjpeg
    put("jpg_progressive_cut.jpg", prog[: len(prog) * 2 // 3])
    dht = seg[0xC4][0]
    put("jpg_bad_huffman_table.jpg", patch(base, dht + 5, b"\xff" * 16))


# ---- BMP ---------------------------------------------------------------------------------
def bmp(w=4, h=4, bpp=24, compression=0, offset=54, header_size=40, colors=0, pixels=None, file_size=None):
    row = ((w * bpp + 31) // 32) * 4 if w > 0 else 0
    body = pixels if pixels is not None else bytes(range(256))[: max(0, row * abs(h))] * 1
    if pixels is None and row * abs(h) > 256:
        body = bytes((i * 7) & 255 for i in range(row * abs(h)))
    info = struct.pack("<IiiHHIIiiII", header_size, w, h, 1, bpp, compression, len(body), 2835, 2835, colors, 0)
    size = 14 + len(info) + len(body) if file_size is None else file_size
    return b"BM" + struct.pack("<IHHI", size, 0, 0, offset) + info + body


def bmps():
    good = bmp()
    put("bmp_empty.bmp", b"")
    put("bmp_cut_in_header.bmp", good[:20])
    put("bmp_cut_in_pixels.bmp", bmp(w=16, h=16)[:300])
    put("bmp_zero_width.bmp", bmp(w=0, h=4, pixels=b""))
    put("bmp_zero_height.bmp", bmp(w=4, h=0, pixels=b""))
    put("bmp_absurd_size.bmp", bmp(w=1 << 30, h=1 << 30, pixels=b"\0" * 64))
    put("bmp_size_overflow.bmp", bmp(w=0x7FFFFFFF, h=0x7FFFFFFF, bpp=32, pixels=b"\0" * 64))
    put("bmp_negative_width.bmp", bmp(w=-4, h=4, pixels=b"\0" * 48))
    put("bmp_bpp_7.bmp", bmp(bpp=7))
    put("bmp_compression_9.bmp", bmp(compression=9))
    put("bmp_pixels_past_end.bmp", bmp(offset=100000))
    put("bmp_header_size_5.bmp", bmp(header_size=5))
    put("bmp_palette_2g_colors.bmp", bmp(bpp=8, colors=0x7FFFFFFF, pixels=b"\0" * 16))
    put("bmp_rle8_cut.bmp", bmp(bpp=8, compression=1, colors=2, offset=62, pixels=b"\0\0\0\0\xff\xff\xff\0" + b"\x04"))


# ---- TGA ---------------------------------------------------------------------------------
def tga(w=4, h=4, kind=2, bpp=24, cmap_type=0, cmap_len=0, cmap_bpp=0, pixels=None):
    head = struct.pack("<BBBHHBHHHHBB", 0, cmap_type, kind, 0, cmap_len, cmap_bpp, 0, 0, w, h, bpp, 0x20)
    body = pixels if pixels is not None else bytes((i * 5) & 255 for i in range(w * h * bpp // 8))
    return head + body


def tgas():
    good = tga()
    put("tga_cut_in_header.tga", good[:10])
    put("tga_cut_in_pixels.tga", good[:30])
    put("tga_zero_width.tga", tga(w=0, h=4, pixels=b"\0" * 48))
    put("tga_absurd_size.tga", tga(w=65535, h=65535, pixels=b"\0" * 48))
    put("tga_bpp_13.tga", tga(bpp=13, pixels=b"\0" * 48))
    put("tga_rle_cut.tga", tga(kind=10, pixels=b"\x83\x01\x02"))
    put("tga_colormap_no_entries.tga", tga(kind=1, bpp=8, cmap_type=1, cmap_len=0, cmap_bpp=24, pixels=b"\0" * 16))


# ---- NPY ---------------------------------------------------------------------------------
def npy(header, data=b"", version=1, magic=b"\x93NUMPY"):
    text = header + " " * ((64 - (len(magic) + 4 + len(header) + 1) % 64) % 64) + "\n"
    size = struct.pack("<H", len(text)) if version == 1 else struct.pack("<I", len(text))
    return magic + bytes([version, 0]) + size + text.encode() + data


def npys():
    ok = "{'descr': '|u1', 'fortran_order': False, 'shape': (4, 4, 3), }"
    px = bytes(range(48))
    put("npy_empty.npy", b"")
    put("npy_magic_only.npy", b"\x93NUMPY")
    put("npy_version_9.npy", npy(ok, px, version=9))
    put("npy_header_length_past_end.npy", b"\x93NUMPY\x01\x00\xff\xff{'descr'")
    put("npy_header_not_a_dict.npy", npy("[1, 2, 3]", px))
    put("npy_float64.npy", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4, 4, 3), }", b"\0" * 384))
    put("npy_fortran_order.npy", npy(ok.replace("False", "True"), px))
    put("npy_4d.npy", npy("{'descr': '|u1', 'fortran_order': False, 'shape': (1, 4, 4, 3), }", px))
    put("npy_1d.npy", npy("{'descr': '|u1', 'fortran_order': False, 'shape': (48,), }", px))
    put("npy_zero_height.npy", npy("{'descr': '|u1', 'fortran_order': False, 'shape': (0, 4, 3), }"))
    put("npy_absurd_size.npy", npy("{'descr': '|u1', 'fortran_order': False, 'shape': (100000, 100000, 3), }", px))
    put("npy_cut_data.npy", npy(ok, px[:20]))
    put("npy_5_channels.npy", npy("{'descr': '|u1', 'fortran_order': False, 'shape': (4, 4, 5), }", bytes(80)))
    put("npy_negative_dim.npy", npy("{'descr': '|u1', 'fortran_order': False, 'shape': (-4, 4, 3), }", px))
    put("npy_no_shape.npy", npy("{'descr': '|u1', 'fortran_order': False, }", px))


# ---- other formats and non-images named like images ------------------------------------------
def others():
    put("gif_named_png.png", b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00"
        b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
    put("webp_named_jpg.jpg", b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00")
    put("tiff_named_png.png", b"II*\x00\x08\x00\x00\x00\x00\x00")
    put("text_named_png.png", b"this is not an image, just a note someone saved as .png\n")
    put("html_named_jpg.jpg", b"<!DOCTYPE html><html><body>404 Not Found</body></html>\n")
    put("pdf_named_png.png", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")
    put("zeros_named_bmp.bmp", b"\0" * 64)
    put("heic_named_jpg.jpg", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic")


# ---- model files (edits of the 4-filter WDSR-B x2 seed) ------------------------------------
def model_parts():
    raw = seed("fuzz_safetensors", "wdsr-b-8.safetensors")
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8 : 8 + n]), raw[8 + n :], raw


def model(header, data):
    text = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(text)) + text + data


def edited(fn):
    header, data, _ = model_parts()
    data = fn(header, data)
    return model(header, data)


def models():
    header, data, raw = model_parts()
    tensors = sorted(k for k in header if k != "__metadata__")
    first = tensors[0]

    def meta(key, value):
        def f(h, d):
            if value is None:
                del h["__metadata__"][key]
            else:
                h["__metadata__"][key] = value
            return d
        return f

    def tensor(name, key, value):
        def f(h, d):
            h[name][key] = value
            return d
        return f

    put("model_empty.safetensors", b"")
    put("model_7_bytes.safetensors", raw[:7])
    put("model_header_length_huge.safetensors", struct.pack("<Q", 1 << 62) + raw[8:])
    put("model_header_past_end.safetensors", struct.pack("<Q", len(raw)) + raw[8:])
    put("model_header_not_json.safetensors", struct.pack("<Q", 16) + b"not json at all!" + data)
    put("model_header_json_array.safetensors", struct.pack("<Q", 2) + b"[]" + data)
    put("model_header_cut_json.safetensors", struct.pack("<Q", 40) + raw[8:48])
    put("model_cut_in_data.safetensors", raw[: len(raw) - 500])
    put("model_no_metadata.safetensors", edited(lambda h, d: (h.pop("__metadata__"), d)[1]))
    put("model_format_other.safetensors", edited(meta("format", "pytorch")))
    put("model_format_version_99.safetensors", edited(meta("format_version", "99")))
    put("model_no_scale.safetensors", edited(meta("scale", None)))
    put("model_scale_text.safetensors", edited(meta("scale", "two")))
    put("model_scale_0.safetensors", edited(meta("scale", "0")))
    put("model_scale_4_tail_x2.safetensors", edited(meta("scale", "4")))
    put("model_arch_unknown.safetensors", edited(meta("arch", "srgan")))
    put("model_filters_negative.safetensors", edited(meta("num_filters", "-4")))
    put("model_filters_8.safetensors", edited(meta("num_filters", "8")))
    put("model_blocks_million.safetensors", edited(meta("num_blocks", "1000000")))
    put("model_metadata_number.safetensors", edited(meta("scale", 2)))
    put("model_missing_tensor.safetensors", edited(lambda h, d: (h.pop(first), d)[1]))
    put("model_dtype_q4.safetensors", edited(tensor(first, "dtype", "Q4")))
    put("model_dtype_i32.safetensors", edited(tensor(first, "dtype", "I32")))
    put("model_dtype_f16.safetensors", edited(tensor(first, "dtype", "F16")))
    off = header[first]["data_offsets"]
    put("model_offsets_past_end.safetensors", edited(tensor(first, "data_offsets", [off[0], len(data) + 400])))
    put("model_offsets_reversed.safetensors", edited(tensor(first, "data_offsets", [off[1], off[0]])))
    put("model_offsets_size_mismatch.safetensors", edited(tensor(first, "data_offsets", [off[0], off[1] - 4])))
    shape = header[first]["shape"]
    put("model_shape_wrong.safetensors", edited(tensor(first, "shape", [shape[0] // 2, 2] + shape[1:])))
    put("model_shape_negative.safetensors", edited(tensor(first, "shape", [-shape[0]] + shape[1:])))

    def poke(value):
        def f(h, d):
            start = h[first]["data_offsets"][0]
            return d[:start] + struct.pack("<f", value) + d[start + 4 :]
        return f

    put("model_nan_weight.safetensors", edited(poke(float("nan"))))
    put("model_inf_weight.safetensors", edited(poke(float("inf"))))
    put("model_is_a_png.safetensors", png())


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    pngs()
    jpegs()
    bmps()
    tgas()
    npys()
    others()
    models()
    print(len(os.listdir(OUT)), "files,", sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT)), "bytes")
