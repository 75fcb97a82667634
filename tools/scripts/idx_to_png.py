#!/usr/bin/env python3
"""Writes an IDX (MNIST layout) folder as an image folder of grayscale PNGs.

    idx_to_png.py IDX_DIR OUT_DIR [--names a,b,...] [--limit N]

OUT_DIR/train/<class>/<index>.png and OUT_DIR/test/<class>/<index>.png, the layout `cff` reads.
Class folders are named by --names (default: Fashion-MNIST's names when IDX_DIR's path contains
"fashion", else the digits) with '/' replaced by '-'; zero-padded numbers keep the digit
folders sorted. Only the Python standard library is used (zlib, struct, gzip).
"""
import argparse
import gzip
import os
import struct
import zlib

FASHION = ["T-shirt-top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    dims = magic & 0xFF
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return shape, data[4 + 4 * dims:]


def png_gray(width, height, pixels):
    raw = b"".join(b"\x00" + pixels[y * width:(y + 1) * width] for y in range(height))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def find(folder, stem):
    for ext in (".gz", ""):
        p = os.path.join(folder, stem + ext)
        if os.path.exists(p):
            return p
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("idx_dir")
    ap.add_argument("out_dir")
    ap.add_argument("--names", help="comma-separated class names, label order")
    ap.add_argument("--limit", type=int, default=0, help="at most N images per part (0 = all)")
    a = ap.parse_args()
    for prefix, part in (("train", "train"), ("t10k", "test")):
        images = find(a.idx_dir, prefix + "-images-idx3-ubyte")
        labels = find(a.idx_dir, prefix + "-labels-idx1-ubyte")
        if not images or not labels:
            continue
        (n, h, w), pixels = read_idx(images)
        (_,), label_bytes = read_idx(labels)
        classes = max(label_bytes) + 1
        if a.names:
            names = a.names.split(",")
        elif "fashion" in os.path.abspath(a.idx_dir).lower():
            names = FASHION
        else:
            names = [str(c).zfill(len(str(classes - 1))) for c in range(classes)]
        names = [s.replace("/", "-") for s in names]
        count = n if a.limit <= 0 else min(n, a.limit)
        for c in set(label_bytes[:count]):
            os.makedirs(os.path.join(a.out_dir, part, names[c]), exist_ok=True)
        digits = len(str(n - 1))
        for i in range(count):
            path = os.path.join(a.out_dir, part, names[label_bytes[i]], str(i).zfill(digits) + ".png")
            with open(path, "wb") as f:
                f.write(png_gray(w, h, pixels[i * h * w:(i + 1) * h * w]))
        print(f"{part}: {count} images, {classes} classes -> {os.path.join(a.out_dir, part)}")


if __name__ == "__main__":
    main()
