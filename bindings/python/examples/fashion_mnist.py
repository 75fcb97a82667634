"""Trains a small CFF+M model on part of Fashion-MNIST step by step, saves it, reloads it and
predicts a few test images.

    PYTHONPATH=bindings/python /usr/bin/python3 bindings/python/examples/fashion_mnist.py [DATA_DIR] [--limit N]
"""
import argparse
import os
import tempfile

import numpy as np

import cff


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="?", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--limit", type=int, default=4096, help="training images to use")
    ap.add_argument("--epochs", type=int, default=2, help="epochs of each stage")
    args = ap.parse_args()
    print(f"libcff {cff.version()} (ABI {cff.abi_version()}, LibTorch {cff.torch_version()})")

    train = cff.Dataset.load_idx(args.data, "train")
    test = cff.Dataset.load_idx(args.data, "test")
    info = train.info
    limit = min(args.limit, info.count)
    options = (cff.Options().set_embed_dim(128).set_num_layers(2)
               .set_input_shape(info.channels, info.height, info.width)
               .set_num_classes(info.num_classes).set_device("cpu").set_seed(1))
    model = cff.Model(options)

    images, labels = train.images(0, limit), train.labels(0, limit)  # uint8 (N, 1, 28, 28), int64 (N,)
    batch = 256
    for stage in (1, 2):
        for epoch in range(1, args.epochs + 1):
            losses = []
            for start in range(0, limit - 1, batch):
                x, y = images[start:start + batch], labels[start:start + batch]  # views: no copies
                losses.append(model.step(x, y).sum() if stage == 1 else model.head_step(x, y))
            print(f"stage {stage} epoch {epoch}: mean loss {np.mean(losses):.4f}")
    top1, top5 = model.evaluate_dataset(test.slice(0, 2000), ks=(1, 5))
    print(f"test top-1 {100 * top1:.1f}%, top-5 {100 * top5:.1f}% (2000 images)")

    path = os.path.join(tempfile.gettempdir(), "cff-python-example.cff")
    model.save(path)
    reloaded = cff.Model.load(path)
    probe = test.images(0, 5)
    predicted = reloaded.predict(probe)
    assert (predicted == model.predict(probe)).all()
    names = test.class_names
    for p, t in zip(predicted, test.labels(0, 5)):
        print(f"predicted {names[p]:<12} actual {names[t]}")


if __name__ == "__main__":
    main()
