"""Writes a tiny MNIST-layout IDX folder (gzip'd) of 4 separable classes: make_idx.py DIR."""
import gzip
import random
import struct
import sys

out = sys.argv[1]
rng = random.Random(0)


def images_and_labels(n):
    imgs, labels = bytearray(), bytearray()
    for _ in range(n):
        c = rng.randrange(4)
        labels.append(c)
        for i in range(8 * 8):
            lit = (i // 16) == c  # class c lights rows 2c, 2c+1
            imgs.append(min(255, (200 if lit else 0) + rng.randrange(50)))
    return imgs, labels


for part, n in (("train", 400), ("t10k", 120)):
    imgs, labels = images_and_labels(n)
    with gzip.open(f"{out}/{part}-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, 8, 8) + bytes(imgs))
    with gzip.open(f"{out}/{part}-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">II", 0x801, n) + bytes(labels))
