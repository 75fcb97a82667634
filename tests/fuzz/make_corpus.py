"""Writes the fuzz targets' seed corpora (small valid inputs) into tests/fuzz/corpus/<target>/.
The checkpoint seeds come from a model the cff program trains: make_corpus.py [CFF_BINARY]."""
import gzip
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib

here = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def png(w, h, channels):
    color = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    raw = b"".join(b"\0" + bytes((x * 7 + y * 13) % 256 for x in range(w * channels)) for y in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def bmp(w, h):
    row = (w * 3 + 3) // 4 * 4
    pixels = b"".join(bytes((x + y) % 256 for x in range(w * 3)) + bytes(row - w * 3) for y in range(h))
    header = struct.pack("<2sIHHI", b"BM", 54 + len(pixels), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    return header + info + pixels


# image: mode byte (channels, target size, resize) + an encoded image
for mode, (name, img) in enumerate([("gray8.png", png(8, 8, 1)), ("rgb6x5.png", png(6, 5, 3)),
                                    ("rgba4.png", png(4, 4, 4)), ("graya3.png", png(3, 3, 2)),
                                    ("rgb5.bmp", bmp(5, 4)), ("p5.pgm", b"P5 4 4 255\n" + bytes(range(16))),
                                    ("p6.ppm", b"P6 2 2 255\n" + bytes(range(12)))]):
    put("fuzz_image", name, bytes([mode * 37 % 256]) + img)

# idx: mode bit 0 labels, bit 1 gzip'd by the target
images = struct.pack(">IIII", 0x803, 2, 3, 3) + bytes(range(18))
labels = struct.pack(">II", 0x801, 3) + bytes([0, 1, 2])
put("fuzz_idx", "images", b"\x00" + images)
put("fuzz_idx", "labels", b"\x01" + labels)
put("fuzz_idx", "images_gz", b"\x02" + images)
put("fuzz_idx", "labels_gz", b"\x03" + labels)
put("fuzz_idx", "gzip_in_file", b"\x00" + gzip.compress(images))

# cifar: mode (bit 0 CIFAR-100, bit 1 coarse), names length, names, records
def records(n, label_bytes):
    return b"".join(bytes([i % 10] * label_bytes) + bytes((i + p) % 256 for p in range(3072)) for i in range(n))
names = b"airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n"
put("fuzz_cifar", "c10", b"\x00\x00" + records(2, 1))
put("fuzz_cifar", "c10_names", b"\x00" + bytes([len(names)]) + names + records(1, 1))
put("fuzz_cifar", "c100", b"\x01\x00" + records(2, 2))
put("fuzz_cifar", "c100_coarse", b"\x03\x00" + records(1, 2))

# config
put("fuzz_config", "empty", b"{}")
put("fuzz_config", "mlp", json.dumps({"model": {"arch": "mlp", "embed_dim": 16, "num_layers": 2, "channels": 1,
                                                "height": 8, "width": 8, "num_classes": 4},
                                      "train": {"lr": 0.01, "std": [0.3], "mean": [0.5], "seed": 3}}).encode())
put("fuzz_config", "vit", json.dumps({"model": {"arch": "vit", "embed_dim": 16, "num_heads": 2, "patch_size": 4,
                                                "pooling": "cls", "class_names": ["a", "b"], "num_classes": 2},
                                      "train": {"algorithm": "ff", "ff_prediction": "head",
                                                "lr_schedule": "cosine", "views": 1}}).encode())

# spec: mode bit 0 augmentation, else loss
for i, s in enumerate(["mcl", "mcl:m0=0.4,mL=0.1,schedule=linear", "supcon:tau=0.15", "ff", "symba:alpha=1",
                       "mcl:schedule=cosine,k=2"]):
    put("fuzz_spec", f"loss{i}", bytes([2 * i % 256]) + s.encode())
for i, s in enumerate(["hflip", "crop:padding=4+hflip", "none", "crop:padding=2"]):
    put("fuzz_spec", f"augment{i}", b"\x01" + s.encode())

# capi: byte strings that drive a few calls each
put("fuzz_capi", "steps", bytes([1, 0, 0, 4, 1, 0, 0, 0, 0, 0]) + bytes(range(200)))
put("fuzz_capi", "save_load", bytes([0, 1, 0, 2, 1, 0, 0, 0, 0, 5, 1]) + bytes(80) + bytes([6, 1]) + bytes(80))
put("fuzz_capi", "layers", bytes([2, 0, 1, 3, 2, 1, 2, 1, 3, 3, 1]) + bytes(range(40, 140)) + bytes([4, 1, 0, 0]))

# checkpoint: a small model trained by the cff program, as a file (mode 0) and as a payload (mode 1)
if len(sys.argv) > 1:
    with tempfile.TemporaryDirectory() as work:
        subprocess.run([sys.executable, os.path.join(here, "..", "tools", "make_idx.py"), work], check=True)
        model = os.path.join(work, "m.cff")
        subprocess.run([sys.argv[1], "train", work, "--out", model, "-E", "4", "-L", "1", "--batch", "64",
                        "--epochs", "1", "--head-epochs", "1", "--threads", "1", "-q", "--json"], check=True,
                       stdout=subprocess.DEVNULL)
        data = open(model, "rb").read()
        put("fuzz_checkpoint", "mlp_file", b"\x00" + data)
        put("fuzz_checkpoint", "mlp_payload", b"\x01" + data[24:])
        put("fuzz_checkpoint", "truncated", b"\x00" + data[:200])
