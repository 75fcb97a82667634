"""A user's program against an installed libcff: one training step of a tiny model, then a
prediction; prints where the library was loaded from."""
import numpy as np

import cff

model = cff.Model({"model": {"embed_dim": 8, "num_layers": 2, "height": 4, "width": 4, "num_classes": 2},
                   "train": {"device": "cpu", "seed": 1}})
images = (np.arange(6 * 16) * 37 % 256).astype(np.uint8).reshape(6, 1, 4, 4)
labels = np.arange(6, dtype=np.int64) % 2
losses = model.step(images, labels)
predicted = model.predict(images)
print(f"python user ok: libcff {cff.version()}, {len(losses)} layer losses, {len(predicted)} labels")
print("library:", cff.library_path())
