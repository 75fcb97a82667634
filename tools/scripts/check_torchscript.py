#!/usr/bin/python3
"""Checks a TorchScript export against libcff's own prediction on real data.

Loads MODEL (a checkpoint) through the Python binding, writes its TorchScript module
(cff_model_export_torchscript, as `cff export --format torchscript` does), loads that with
PyTorch's torch.jit.load, and compares the top-1 labels of both on the first COUNT images of an
IDX test set (default: Debian's Fashion-MNIST). Prints one JSON line; exits 1 on any mismatch.

Usage (from the repository, after scripts/build.sh):
  /usr/bin/python3 tools/scripts/check_torchscript.py MODEL [--data DIR] [--count 1000] [--lib build/capi/libcff_c.so]
"""
import argparse
import json
import os
import sys
import tempfile
import time

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--lib", default=os.path.join(root, "build", "capi", "libcff_c.so"))
    a = ap.parse_args()
    os.environ.setdefault("CFF_LIBRARY", a.lib)
    sys.path.insert(0, os.path.join(root, "bindings", "python"))
    import cff
    import torch

    model = cff.Model.load(a.model, "cpu")
    test = cff.Dataset.load_idx(a.data, "test")
    count = min(a.count, len(test))
    images = test.images(0, count)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.ts")
        model.export_torchscript(path)
        module = torch.jit.load(path)
        t0 = time.perf_counter()
        with torch.no_grad():
            logits = module(torch.from_numpy(images))
        torch_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    labels, scores, _ = model.predict_full(images)
    cff_s = time.perf_counter() - t0
    torch_labels = logits.argmax(1).numpy()
    same = int((torch_labels == labels).sum())
    max_diff = float((torch.softmax(logits, 1).numpy() - scores).__abs__().max())
    truth = test.labels(0, count)
    print(json.dumps({"model": a.model, "images": count, "same_top1": same, "max_score_diff": max_diff,
                      "accuracy_cff": float((labels == truth).mean()),
                      "accuracy_torchscript": float((torch_labels == truth).mean()),
                      "seconds_cff": round(cff_s, 3), "seconds_torchscript": round(torch_s, 3),
                      "torch": torch.__version__}))
    return 0 if same == count else 1


if __name__ == "__main__":
    sys.exit(main())
