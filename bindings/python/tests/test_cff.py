"""Tests of the Python binding against the real libcff_c (tiny MLP[16 2] on 8x8 images).

Run from the repository: PYTHONPATH=bindings/python /usr/bin/python3 -m unittest discover -s bindings/python/tests
"""
import ctypes
import gc
import os
import re
import tempfile
import threading
import unittest

import numpy as np

import cff

CONFIG = {"model": {"embed_dim": 16, "num_layers": 2, "height": 8, "width": 8, "num_classes": 2},
          "train": {"device": "cpu", "seed": 3, "threads": 1, "batch_size": 8,
                    "precision": "fp32"}}  # the same numerics on every host (auto is bf16 on AVX512-BF16/AMX)
N = 16
HEADER = os.path.join(os.path.dirname(__file__), "..", "..", "..", "capi", "include", "cff.h")


def training_data():
    """Class 0 bright in the top half, class 1 in the bottom half."""
    labels = np.arange(N, dtype=np.int64) % 2
    i = np.arange(N)[:, None]
    p = np.arange(64)[None, :]
    top = (p // 8) < 4
    base = np.where((labels[:, None] == 0) == top, 180, 40)
    images = (base + (i * 7 + p * 3) % 30).astype(np.uint8).reshape(N, 1, 8, 8)
    return images, labels


def probe_images():
    """The images every binding predicts for the cross-binding check."""
    i = np.arange(8)[:, None]
    p = np.arange(64)[None, :]
    return ((i * 37 + p * 11 + i * p) % 256).astype(np.uint8).reshape(8, 1, 8, 8)


def trained_model():
    model = cff.Model(CONFIG)
    images, labels = training_data()
    for _ in range(3):
        losses = model.step(images, labels)
        assert losses.shape == (2,) and np.isfinite(losses).all(), losses
    for _ in range(3):
        assert np.isfinite(model.head_step(images, labels))
    return model


class Versions(unittest.TestCase):
    def test_abi_version_matches_header_and_library(self):
        with open(HEADER) as f:
            header = f.read()
        value = int(re.search(r"^#define CFF_ABI_VERSION (\d+)", header, re.M).group(1))
        self.assertEqual(cff.ABI_VERSION, value, "cff.h changed its ABI version: update the Python binding")
        self.assertEqual(cff.abi_version(), cff.ABI_VERSION)
        self.assertTrue(cff.version() and cff.torch_version())

    def test_plugins_load_by_path_and_fail_with_the_library_message(self):
        self.assertGreaterEqual(cff.plugin_abi_version(), 1)
        with self.assertRaises(cff.CffError) as ctx:
            cff.load_plugin("/no/such/plugin.so")
        self.assertEqual(ctx.exception.code, cff.Code.PLUGIN)
        self.assertIn("/no/such/plugin.so", ctx.exception.message)
        path = os.environ.get("CFF_TEST_PLUGIN")
        if path:
            self.assertEqual(cff.load_plugin(path), "cosine-margin-sample")
            self.assertIn("cosine-margin", [p.name for p in cff.providers(cff.ProviderKind.LOSS)])
            self.assertTrue(cff.unload_plugin(path))
            self.assertFalse(cff.unload_plugin(path))

    def test_every_header_function_is_declared_with_its_arity(self):
        with open(HEADER) as f:
            decls = re.findall(r"CFF_API\s+([^;(]*?)\b(cff_\w+)\(([^)]*)\);", f.read())
        self.assertGreater(len(decls), 70)
        from cff import _lib
        self.assertEqual(sorted({name for _, name, _ in decls} - set(_lib.SIGNATURES)), [])
        for ret, name, params in decls:
            arity = 0 if params.strip() == "void" else params.count(",") + 1
            restype, argtypes = _lib.SIGNATURES[name]
            self.assertEqual(len(argtypes), arity, f"{name}: cff.h has {arity} parameters")
            returns_status = ret.replace("CFF_NODISCARD", "").replace(" ", "") == "cff_status*"
            self.assertEqual(restype is _lib.S, returns_status, f"{name}: result type")
            self.assertEqual(returns_status, "CFF_NODISCARD" in ret, f"{name}: a status result is CFF_NODISCARD")

    def test_batch_layout_matches_c(self):
        from cff import _lib
        # x86-64 / aarch64 SysV: 4 x 4-byte fields, then pointer + length twice, then 4 x int64.
        self.assertEqual(ctypes.sizeof(_lib.Batch), 80)
        self.assertEqual(_lib.Batch.images.offset, 16)
        self.assertEqual(_lib.Batch.labels_length.offset, 40)

    def test_abi_mismatch_is_refused(self):
        self.assertIsNone(cff.check_abi(1, 1))
        self.assertIn("ABI version", cff.check_abi(cff.ABI_VERSION, cff.ABI_VERSION + 1))
        # A binding written for another ABI refuses to load the library.
        from cff import _lib
        saved, saved_version = _lib._lib, _lib.ABI_VERSION
        try:
            _lib._lib, _lib.ABI_VERSION = None, saved_version + 1
            with self.assertRaises(cff.CffError) as e:
                cff.version()
            self.assertEqual(e.exception.code, cff.Code.UNSUPPORTED)
            self.assertIn(f"written for ABI version {saved_version + 1}", e.exception.message)
        finally:
            _lib._lib, _lib.ABI_VERSION = saved, saved_version


class Training(unittest.TestCase):
    def test_create_step_head_predict_save_load_same_predictions(self):
        model = trained_model()
        self.assertEqual((model.num_layers, model.num_classes, model.embed_dim), (2, 2, 16))
        self.assertEqual(model.input_shape, (1, 8, 8))
        self.assertEqual(model.device, "cpu")
        self.assertEqual(model.config["model"]["embed_dim"], 16)
        images, labels = training_data()
        before = model.predict_full(images, k=2)
        self.assertEqual(before.labels.shape, (N,))
        self.assertEqual(before.scores.shape, (N, 2))
        np.testing.assert_array_equal(before.topk[:, 0], before.labels)
        np.testing.assert_allclose(before.scores.sum(axis=1), 1, atol=1e-4)
        self.assertEqual(model.evaluate(images, labels, ks=(1, 2))[1], 1.0)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "model.cff")
            model.save(path)
            with cff.Model.load(path, device="cpu") as loaded:
                after = loaded.predict_full(images, k=2)
                np.testing.assert_array_equal(after.labels, before.labels)
                np.testing.assert_array_equal(after.scores, before.scores)
                np.testing.assert_array_equal(loaded.predict(images), before.labels)
                np.testing.assert_array_equal(loaded.embed(images, 1), model.embed(images, 1))
            fresh = cff.Model(CONFIG)
            fresh.load_state(path)
            np.testing.assert_array_equal(fresh.predict_proba(images), before.scores)

    def test_torchscript_export_runs_in_pytorch_with_the_same_predictions(self):
        try:
            import torch
        except ImportError:
            self.skipTest("python3-torch is not installed: the TorchScript export is checked in C++ only")
        images, labels = training_data()
        vit = {"model": dict(CONFIG["model"], arch="vit", embed_dim=16, num_heads=2, patch_size=4),
               "train": CONFIG["train"]}
        ff = {"model": CONFIG["model"], "train": dict(CONFIG["train"], algorithm="ff", ff_prediction="head")}
        ff_vit = {"model": vit["model"], "train": ff["train"]}
        for name, config in [("mlp cff", CONFIG), ("vit cff", vit), ("mlp ff", ff), ("vit ff", ff_vit)]:
            with self.subTest(name), cff.Model(config) as model, tempfile.TemporaryDirectory() as tmp:
                for _ in range(2):
                    model.step(images, labels)
                    model.head_step(images, labels)
                path = os.path.join(tmp, "model.ts")
                model.export_torchscript(path)
                module = torch.jit.load(path)
                got, scores, _ = model.predict_full(images)
                for x in (torch.from_numpy(images), torch.from_numpy(images.astype(np.float32) / 255)):
                    logits = module(x)
                    self.assertEqual(tuple(logits.shape), (N, 2))
                    np.testing.assert_allclose(torch.softmax(logits, 1).numpy(), scores, rtol=1e-4, atol=1e-5)
                    np.testing.assert_array_equal(logits.argmax(1).numpy(), got)

    def test_layouts_dtypes_and_no_copy(self):
        model = trained_model()
        images, _ = training_data()
        floats = images.astype(np.float32) / 255
        expected = model.predict(images)
        np.testing.assert_array_equal(model.predict(floats), expected)
        np.testing.assert_array_equal(model.predict(images[:, 0]), expected)  # (N, H, W)
        np.testing.assert_array_equal(model.predict(images.transpose(0, 2, 3, 1), layout="nhwc"), expected)
        np.testing.assert_array_equal(model.predict(floats.astype(np.float64)), expected)  # converted
        # A C-contiguous uint8/float32 array reaches the library as is (same memory).
        from cff import _Batch
        for a in (images, floats):
            b = _Batch(a)
            self.assertIs(b.images, a)
            self.assertEqual(b.struct.images, a.ctypes.data)
        # A strided view is copied into a contiguous array first and still predicts correctly.
        wide = np.zeros((N, 1, 8, 16), dtype=np.uint8)
        wide[..., ::2] = images
        np.testing.assert_array_equal(model.predict(wide[..., ::2]), expected)

    def test_layer_by_layer(self):
        model = cff.Model(CONFIG)
        images, labels = training_data()
        lb = model.layer_batch(images, labels)
        self.assertEqual(lb.next_layer, 0)
        with self.assertRaises(cff.CffError) as e:
            model.train_layer(lb, 1)
        self.assertEqual(e.exception.code, cff.Code.STATE)
        self.assertTrue(np.isfinite(model.train_layer(lb, 0)))
        self.assertTrue(np.isfinite(model.train_layer(lb, 1)))
        self.assertEqual(lb.next_layer, 2)
        model.close()  # a layer batch may outlive its model
        lb.close()
        lb.close()

    def test_options(self):
        o = (cff.Options().set_embed_dim(16).set_num_layers(2).set_input_shape(1, 8, 8).set_num_classes(2)
             .set_device("cpu").set_seed(9).set_loss("mcl").set_augment("none").set_threads(1)
             .set_normalization([0.5], [0.25]).validate())
        self.assertEqual(o.to_dict()["train"]["seed"], 9)
        model = cff.Model(o)
        o.close()
        self.assertEqual(model.embed_dim, 16)
        with self.assertRaisesRegex(cff.CffError, "closed"):
            cff.Model(o)
        self.assertEqual(cff.Model(cff.Options(CONFIG)).num_layers, 2)

    def test_dataset_and_fit(self):
        images, labels = training_data()
        ds = cff.Dataset.from_arrays(images, labels, 2)
        self.assertEqual(ds.info, (N, 1, 8, 8, np.dtype(np.uint8), 2))
        self.assertEqual(len(ds), N)
        np.testing.assert_array_equal(ds.images(2, 3), images[2:5])
        np.testing.assert_allclose(ds.images(0, 1, np.float32), images[:1] / 255, atol=1e-6)
        np.testing.assert_array_equal(ds.labels(0, 4), [0, 1, 0, 1])
        self.assertEqual(len(ds.slice(4, 8)), 8)
        self.assertEqual(ds.class_names, ["0", "1"])
        model = cff.Model(CONFIG)
        seen = []
        stopped = model.fit(ds, progress=lambda p: (seen.append(p), len(seen) < 2)[1])
        self.assertTrue(stopped)
        self.assertEqual(len(seen), 2)
        self.assertTrue(seen[0].message)
        self.assertIn(seen[0].stage, (1, 2))

        def boom(_):
            raise RuntimeError("boom")

        with self.assertRaisesRegex(RuntimeError, "boom"):
            model.fit(ds, progress=boom)
        self.assertEqual(model.predict(images).shape, (N,))  # still usable
        acc = model.evaluate_dataset(ds, ks=(1,))
        self.assertTrue(0 <= acc[0] <= 1)

    def test_parallel_pipeline_trains_what_fit_trains(self):
        images, labels = training_data()
        ds = cff.Dataset.from_arrays(images, labels, 2)
        config = {"model": dict(CONFIG["model"], num_layers=3),
                  "train": dict(CONFIG["train"], blas_threads=1, epochs=2, head_epochs=1)}
        sequential, piped = cff.Model(config), cff.Model(config)
        with self.assertRaisesRegex(cff.CffError, "unknown key parallel.stage"):
            piped.set_parallel(pipeline=True, stage=2)
        with self.assertRaisesRegex(cff.CffError, "must be one of none, pipeline, data, pipeline,data"):
            piped.set_parallel(mode="both")
        piped.set_parallel(pipeline=True, stages=2, queue_depth=1)
        sequential.fit(ds)
        piped.fit(ds)
        np.testing.assert_array_equal(sequential.predict_full(images)[1], piped.predict_full(images)[1])
        piped.set_parallel()  # back to the defaults

    def test_providers_and_threads(self):
        losses = cff.providers(cff.ProviderKind.LOSS)
        self.assertIn(("mcl", "built-in"), [(p.name, p.origin) for p in losses])
        self.assertIn("hflip", [p.name for p in cff.providers(cff.ProviderKind.AUGMENTATION)])
        cff.device_check("cpu")
        model = trained_model()
        probe = probe_images()
        expected = model.predict(probe)
        results = []
        threads = [threading.Thread(target=lambda: results.append(model.predict(probe))) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(len(results), 4)
        for r in results:
            np.testing.assert_array_equal(r, expected)


class Errors(unittest.TestCase):
    def expect(self, code, needle, fn, *args, **kwargs):
        with self.assertRaises(cff.CffError) as e:
            fn(*args, **kwargs)
        self.assertEqual(e.exception.code, code, str(e.exception))
        self.assertIn(needle, e.exception.message)
        self.assertIn("CFF_CODE_" + code.name, str(e.exception))
        return e.exception

    def test_errors_carry_the_library_message(self):
        self.expect(cff.Code.INVALID_ARGUMENT, "embed_dimm", cff.Model, {"model": {"embed_dimm": 3}})
        self.expect(cff.Code.INVALID_ARGUMENT, "", cff.Model, "{not json")
        o = cff.Options()
        self.expect(cff.Code.INVALID_ARGUMENT, "embed_dim", o.set_embed_dim, 0)
        o.set_device("gpu7")
        self.expect(cff.Code.INVALID_ARGUMENT, "gpu7", cff.Model, o)
        self.expect(cff.Code.IO, "/nonexistent/model.cff", cff.Model.load, "/nonexistent/model.cff")
        with tempfile.NamedTemporaryFile(suffix=".cff") as junk:
            junk.write(b"not a checkpoint")
            junk.flush()
            self.expect(cff.Code.FORMAT, "", cff.Model.load, junk.name)
        self.expect(cff.Code.IO, "nonexistent-idx", cff.Dataset.load_idx, "/nonexistent-idx", "train")
        self.expect(cff.Code.INVALID_ARGUMENT, "validation", cff.Dataset.load_idx, "/nonexistent-idx", "validation")

        model = cff.Model(CONFIG)
        images, labels = training_data()
        self.expect(cff.Code.INVALID_ARGUMENT, "", model.predict, images.reshape(N // 2, 2, 8, 8))
        self.expect(cff.Code.INVALID_ARGUMENT, "3 labels", model.step, images, labels[:3])
        self.expect(cff.Code.INVALID_ARGUMENT, "", model.step, images, np.full(N, 5))
        self.expect(cff.Code.INVALID_ARGUMENT, "", model.predict_full, images, k=3)
        self.expect(cff.Code.INVALID_ARGUMENT, "int32", model.predict, images.astype(np.int32))
        self.expect(cff.Code.NUMERICS, "", model.predict, np.full((N, 1, 8, 8), np.nan, dtype=np.float32))
        self.assertEqual(model.predict(images).shape, (N,))  # still usable
        model.close()
        self.expect(cff.Code.INVALID_ARGUMENT, "", model.predict, images)  # the library's own check

    def test_wrong_types_and_shapes_are_python_errors(self):
        model = cff.Model(CONFIG)
        images, labels = training_data()
        with self.assertRaisesRegex(TypeError, "labels must be integers, not float64"):
            model.step(images, labels + 0.7)  # 3.7 must not become 3
        with self.assertRaisesRegex(ValueError, r"one-dimensional .* \(16, 1\)"):
            model.step(images, labels.reshape(N, 1))
        with self.assertRaisesRegex(ValueError, "3 labels for a batch of 16 images"):
            model.step(images, labels[:3])
        with self.assertRaisesRegex(TypeError, "int32"):
            model.predict(images.astype(np.int32))
        with self.assertRaisesRegex(ValueError, "layout"):
            model.predict(images, layout="chwn")
        with self.assertRaises(cff.CffError):  # the subclasses are still the library's error
            model.predict(images.astype(np.int32))
        # Float pixels are 0..1 (cff.h); 0..255 in float is refused by the library, not trained on.
        self.expect(cff.Code.INVALID_ARGUMENT, "0..1", model.step, images.astype(np.float32), labels)
        model.close()

    def test_close_while_other_threads_call(self):
        """close() (or with-exit) while other threads are inside calls on the same model: those
        calls finish or raise "not a live handle"; nothing crashes or deadlocks."""
        images, labels = training_data()
        for _ in range(5):
            model = cff.Model(CONFIG)
            errors, started = [], threading.Barrier(4)

            def work():
                started.wait()
                try:
                    while True:
                        model.step(images, labels)
                        model.predict(images)
                except cff.CffError as e:
                    if not ("not a live handle" in e.message or "is NULL" in e.message):
                        errors.append(e)
                except BaseException as e:  # anything else is a failure
                    errors.append(e)

            threads = [threading.Thread(target=work) for _ in range(3)]
            for t in threads:
                t.start()
            started.wait()
            model.close()
            for t in threads:
                t.join(timeout=60)
                self.assertFalse(t.is_alive(), "a call hung after close()")
            self.assertEqual(errors, [])

    def test_unknown_code_is_kept(self):
        e = cff.CffError(1234, "from a newer library")
        self.assertEqual(e.code, 1234)
        self.assertIn("CFF_CODE_UNKNOWN", str(e))


class StepHost(unittest.TestCase):
    """What a host that trains step by step gets: batches, normalisation, lr scale, schedule."""

    def test_batches_normalization_and_lr_scale(self):
        images, labels = training_data()
        with cff.Dataset.from_arrays(images, labels, 2) as d:
            mean, std = d.normalization()
            x = images.astype(np.float64) / 255
            np.testing.assert_allclose(mean, [x.mean()], rtol=1e-12)
            np.testing.assert_allclose(std, [x.std(ddof=1)], rtol=1e-12)
            epochs = list(d.batches(5, seed=3, epochs=2))
        self.assertEqual([len(b[1]) for b in epochs], [5, 5, 5, 1] * 2)
        first = np.concatenate([b[1] for b in epochs[:4]])
        self.assertEqual(sorted(first.tolist()), sorted(labels.tolist()))
        seen = np.concatenate([b[0] for b in epochs[:4]]).reshape(N, -1)
        self.assertEqual(sorted(map(bytes, seen)), sorted(map(bytes, images.reshape(N, -1))))
        self.assertFalse(np.array_equal(epochs[0][0], epochs[4][0]))  # epochs are shuffled apart
        with cff.Model(CONFIG) as m:
            before = m.predict_full(images).scores
            m.set_lr_scale(0.0)  # a step computes losses but moves no weight
            m.step(images, labels)
            np.testing.assert_array_equal(before, m.predict_full(images).scores)
            with self.assertRaises(cff.CffError):
                m.set_lr_scale(-1)
        self.assertEqual(cff.lr_schedule_scale(cff.LrSchedule.COSINE, 0, 10), 1.0)
        self.assertAlmostEqual(cff.lr_schedule_scale(cff.LrSchedule.COSINE, 5, 10), 0.5)
        self.assertEqual(cff.lr_schedule_scale(cff.LrSchedule.CONSTANT, 3, 10), 1.0)
        with self.assertRaises(cff.CffError):
            cff.lr_schedule_scale(cff.LrSchedule.AUTO, 0, 10)
        loaded, failed = cff.discover_plugins()
        self.assertGreaterEqual(loaded + failed, 0)

    def test_log_handler_receives_the_library_warnings(self):
        path = os.environ.get("CFF_TEST_PLUGIN")
        if not path:
            self.skipTest("CFF_TEST_PLUGIN not set (ctest sets it)")
        cff.load_plugin(path)
        # A model that remembers a different file of its plugin loads, with a warning.
        config = {"model": CONFIG["model"], "train": dict(CONFIG["train"], loss="cosine-margin", plugins=[
            {"file": os.path.basename(path), "provider": "cosine-margin", "kind": "loss", "hash": "0" * 16}])}
        got = []
        cff.set_log_handler(lambda level, message: got.append((level, message)))
        try:
            cff.Model(config).close()
        finally:
            cff.set_log_handler(None)
        self.assertEqual(len(got), 1, got)
        self.assertEqual(got[0][0], cff.LogLevel.WARNING)
        self.assertIn("differs from the " + os.path.basename(path), got[0][1])
        cff.Model(config).close()  # no handler: nothing is printed, nothing fails


def rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise OSError("no VmRSS in /proc/self/status")


class Leaks(unittest.TestCase):
    """2,000 models created and closed, 5,000 predictions: the RSS must not keep growing (one model
    of this size holds about 100 KiB: 2,000 kept alive add 196 MiB)."""

    BOUND_MIB = 8

    def test_models_and_predicts_do_not_leak(self):
        images, labels = training_data()

        def cycle(models, predicts):
            for _ in range(models):
                cff.Model(CONFIG).close()
            with cff.Model(CONFIG) as m:
                m.step(images, labels)
                for _ in range(predicts):
                    m.predict(images)

        cycle(200, 500)  # warm-up: the allocator's pools and LibTorch's caches fill once
        before = rss_mib()
        cycle(2000, 5000)
        growth = rss_mib() - before
        print(f"\nRSS {before:.1f} MiB before, growth {growth:+.1f} MiB over 2,000 models and 5,000 predictions")
        self.assertLess(growth, self.BOUND_MIB)


class CrossBinding(unittest.TestCase):
    """Driven by tests/bindings: CFF_CROSS_DIR, CFF_CROSS_MODE (write|check), CFF_CROSS_MODELS."""

    @unittest.skipUnless(os.environ.get("CFF_CROSS_DIR") and os.environ.get("CFF_CROSS_MODE"), "not driven")
    def test_cross_binding(self):
        d = os.environ["CFF_CROSS_DIR"]
        probe = probe_images()
        if os.environ["CFF_CROSS_MODE"] == "write":
            model = trained_model()
            model.save(os.path.join(d, "python.cff"))
            p = model.predict_full(probe, k=2)
            with open(os.path.join(d, "python.expect"), "w") as f:
                f.write("labels " + " ".join(str(v) for v in p.labels) + "\n")
                f.write("scores " + " ".join(f"{v:.9e}" for v in p.scores.ravel()) + "\n")
            return
        for name in os.environ["CFF_CROSS_MODELS"].split(","):
            with cff.Model.load(os.path.join(d, name + ".cff"), "cpu") as model:
                got = model.predict_full(probe, k=2)
            with open(os.path.join(d, name + ".expect")) as f:
                labels = [int(v) for v in f.readline().split()[1:]]
                scores = [float(v) for v in f.readline().split()[1:]]
            np.testing.assert_array_equal(got.labels, labels, err_msg=f"labels of the model {name} saved")
            np.testing.assert_allclose(got.scores.ravel(), scores, atol=1e-6, rtol=0)
            print(f"python: the model {name} saved predicts the same")


if __name__ == "__main__":
    unittest.main()
