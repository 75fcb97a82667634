//! End-to-end tests of the safe crate against the real libcff_c (tiny MLP[16 2] on 8x8 images).
use cff::{Batch, Code, Dataset, Error, Model, Options, ProviderKind};
use std::path::PathBuf;

const CONFIG: &str = r#"{"model": {"embed_dim": 16, "num_layers": 2, "height": 8, "width": 8, "num_classes": 2},
                         "train": {"device": "cpu", "seed": 3, "threads": 1, "batch_size": 8}}"#;
const N: usize = 16;

/// Class 0 bright in the top half, class 1 in the bottom half.
fn training_data() -> (Vec<u8>, Vec<i64>) {
    let mut images = vec![0u8; N * 64];
    let labels: Vec<i64> = (0..N as i64).map(|i| i % 2).collect();
    for i in 0..N {
        for p in 0..64 {
            let top = p / 8 < 4;
            let base = if (labels[i] == 0) == top { 180 } else { 40 };
            images[i * 64 + p] = (base + (i * 7 + p * 3) % 30) as u8;
        }
    }
    (images, labels)
}

/// The probe images every binding predicts for the cross-binding check (same formula everywhere).
fn probe_images() -> Vec<u8> {
    (0..8 * 64)
        .map(|j| {
            let (i, p) = (j / 64, j % 64);
            ((i * 37 + p * 11 + i * p) % 256) as u8
        })
        .collect()
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cff-rust-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn trained_model() -> Model {
    let mut model = Model::from_json(CONFIG).unwrap();
    let (images, labels) = training_data();
    let batch = Batch::new(&images, [N, 1, 8, 8]).with_labels(&labels);
    for _ in 0..3 {
        let losses = model.step(&batch).unwrap();
        assert_eq!(losses.len(), 2);
        assert!(losses.iter().all(|l| l.is_finite()));
    }
    for _ in 0..3 {
        assert!(model.head_step(&batch).unwrap().is_finite());
    }
    model
}

fn header() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../capi/include/cff.h");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path:?}: {e}"))
}

#[test]
fn plugins_load_by_path_and_fail_with_the_library_message() {
    assert!(cff::plugin_abi_version() >= 1);
    let err = cff::load_plugin("/no/such/plugin.so").unwrap_err();
    assert_eq!(err.code(), Code::Plugin);
    assert!(err.message().contains("/no/such/plugin.so"), "{}", err.message());
    if let Ok(path) = std::env::var("CFF_TEST_PLUGIN") {
        assert_eq!(cff::load_plugin(&path).unwrap(), "cosine-margin-sample");
        assert!(cff::unload_plugin(&path).unwrap());
        assert!(!cff::unload_plugin(&path).unwrap());
    }
}

#[test]
fn abi_version_matches_header_and_library() {
    let header = header();
    let line = header
        .lines()
        .find(|l| l.starts_with("#define CFF_ABI_VERSION"))
        .expect("CFF_ABI_VERSION in cff.h");
    let value: u32 = line.split_whitespace().nth(2).unwrap().parse().unwrap();
    assert_eq!(cff::ABI_VERSION, value, "cff.h changed its ABI version: update cff-sys");
    assert_eq!(cff::abi_version(), cff::ABI_VERSION);
    assert!(!cff::version().is_empty());
    assert!(!cff::torch_version().is_empty());
}

/// (name, number of parameters) of every `CFF_API` function in `text`, for C or for cff-sys.
fn declarations(text: &str, marker: &str) -> Vec<(String, usize)> {
    let mut out = vec![];
    for part in text.split(marker).skip(1) {
        let Some(open) = part.find('(') else { continue };
        let Some(close) = part[open..].find(')') else { continue };
        let name = part[..open]
            .rsplit(|c: char| !(c.is_alphanumeric() || c == '_'))
            .next()
            .unwrap();
        let params = part[open + 1..open + close].trim();
        let arity = if params.is_empty() || params == "void" {
            0
        } else {
            params.matches(',').count() + 1
        };
        if name.starts_with("cff_") {
            out.push((name.to_string(), arity));
        }
    }
    out
}

#[test]
fn every_header_function_is_declared_in_sys_with_its_arity() {
    let sys_src = include_str!("../../cff-sys/src/lib.rs");
    // A trailing comma in a Rust argument list would count as one more parameter: strip them.
    let sys_src = sys_src.replace(",\n    )", "\n    )").replace(", )", ")");
    let sys: std::collections::HashMap<_, _> = declarations(&sys_src, "pub fn ").into_iter().collect();
    let header = declarations(&header(), "CFF_API ");
    assert!(
        header.len() > 70,
        "parsed only {} declarations from cff.h",
        header.len()
    );
    for (name, arity) in header {
        match sys.get(&name) {
            None => panic!("cff.h declares {name}, which cff-sys lacks"),
            Some(&n) => assert_eq!(n, arity, "{name}: cff.h has {arity} parameters, cff-sys {n}"),
        }
    }
}

#[test]
fn abi_mismatch_is_refused_with_a_clear_error() {
    let err = cff::check_abi(cff::ABI_VERSION, cff::ABI_VERSION + 1).unwrap_err();
    assert_eq!(err.code(), Code::Unsupported);
    assert!(err.message().contains("ABI version"), "{err}");
    assert!(cff::check_abi(1, 1).is_ok());
}

#[test]
fn create_step_head_predict_save_load_same_predictions() {
    let model = trained_model();
    assert_eq!(model.num_layers().unwrap(), 2);
    assert_eq!(model.num_classes().unwrap(), 2);
    assert_eq!(model.embed_dim().unwrap(), 16);
    assert_eq!(model.input_shape().unwrap(), [1, 8, 8]);
    assert_eq!(model.device().unwrap(), "cpu");
    assert!(
        model.config_json().unwrap().contains("\"embed_dim\": 16")
            || model.config_json().unwrap().contains("\"embed_dim\":16")
    );

    let (images, labels) = training_data();
    let batch = Batch::new(&images, [N, 1, 8, 8]);
    let before = model.predict_full(&batch, 2).unwrap();
    assert_eq!(before.labels.len(), N);
    assert_eq!(before.scores.len(), N * 2);
    assert_eq!(before.topk.len(), N * 2);
    for i in 0..N {
        assert_eq!(before.topk[i * 2], before.labels[i]);
        let row = &before.scores[i * 2..i * 2 + 2];
        assert!((row[0] + row[1] - 1.0).abs() < 1e-4);
    }
    let accuracy = model.evaluate(&batch.with_labels(&labels), &[1, 2]).unwrap();
    assert_eq!(accuracy[1], 1.0);

    let path = scratch("roundtrip.cff");
    model.save(&path).unwrap();
    let loaded = Model::load(&path, Some("cpu")).unwrap();
    assert_eq!(loaded.predict_full(&batch, 2).unwrap(), before);
    assert_eq!(loaded.predict(&batch).unwrap(), before.labels);
    assert_eq!(loaded.embed(&batch, 1).unwrap(), model.embed(&batch, 1).unwrap());

    // load_state into a fresh model of the same shape gives the same predictions too.
    let mut fresh = Model::from_json(CONFIG).unwrap();
    fresh.load_state(&path).unwrap();
    assert_eq!(fresh.predict_full(&batch, 2).unwrap(), before);
}

#[test]
fn float32_nhwc_batches_predict_like_uint8() {
    let model = trained_model();
    let (images, _) = training_data();
    let floats: Vec<f32> = images.iter().map(|&v| v as f32 / 255.0).collect();
    let a = model.predict(&Batch::new(&images, [N, 1, 8, 8])).unwrap();
    let b = model
        .predict(&Batch::new(&floats, [N, 1, 8, 8]).with_layout(cff::Layout::Nhwc))
        .unwrap();
    assert_eq!(a, b); // one channel: NHWC and NCHW hold the same bytes
}

#[test]
fn layer_by_layer_training_in_order() {
    let mut model = Model::from_json(CONFIG).unwrap();
    let (images, labels) = training_data();
    let batch = Batch::new(&images, [N, 1, 8, 8]).with_labels(&labels);
    let mut lb = model.layer_batch(&batch, true).unwrap();
    assert_eq!(lb.next_layer().unwrap(), 0);
    let err = model.train_layer(&mut lb, 1).unwrap_err();
    assert_eq!(err.code(), Code::State, "{err}");
    assert!(model.train_layer(&mut lb, 0).unwrap().is_finite());
    assert!(model.train_layer(&mut lb, 1).unwrap().is_finite());
    assert_eq!(lb.next_layer().unwrap(), 2);
    drop(model); // a layer batch may outlive its model
    drop(lb);
}

fn expect_err<T: std::fmt::Debug>(r: cff::Result<T>, code: Code, needle: &str) -> Error {
    let err = r.unwrap_err();
    assert_eq!(err.code(), code, "{err}");
    assert!(
        err.message().contains(needle),
        "message {:?} lacks {needle:?}",
        err.message()
    );
    assert!(err.to_string().contains(code.name()));
    err
}

#[test]
fn errors_carry_the_library_message() {
    // Bad config: the library names the unknown key.
    expect_err(
        Model::from_json(r#"{"model": {"embed_dimm": 3}}"#),
        Code::InvalidArgument,
        "embed_dimm",
    );
    expect_err(Model::from_json("{not json"), Code::InvalidArgument, "");
    let mut options = Options::new().unwrap();
    expect_err(options.set_embed_dim(0), Code::InvalidArgument, "embed_dim");
    options.set_device("gpu7").unwrap(); // devices are checked when the model is built
    expect_err(Model::new(&options), Code::InvalidArgument, "gpu7");
    // Missing and corrupt files.
    expect_err(
        Model::load("/nonexistent/model.cff", None),
        Code::Io,
        "/nonexistent/model.cff",
    );
    let junk = scratch("junk.cff");
    std::fs::write(&junk, b"not a checkpoint").unwrap();
    expect_err(Model::load(&junk, None), Code::Format, "");
    expect_err(
        Dataset::load_idx("/nonexistent-idx", "train"),
        Code::Io,
        "nonexistent-idx",
    );
    expect_err(
        Dataset::load_idx("/nonexistent-idx", "validation"),
        Code::InvalidArgument,
        "validation",
    );

    let mut model = Model::from_json(CONFIG).unwrap();
    let (images, labels) = training_data();
    // Wrong shape for the model: the library says so.
    let wrong = Batch::new(&images, [N / 2, 2, 8, 8]);
    expect_err(model.predict(&wrong), Code::InvalidArgument, "");
    // Wrong buffer size: caught by the binding (cff_batch carries no buffer length).
    expect_err(
        model.predict(&Batch::new(&images[..100], [N, 1, 8, 8])),
        Code::InvalidArgument,
        "100 elements",
    );
    expect_err(
        model.step(&Batch::new(&images, [N, 1, 8, 8]).with_labels(&labels[..3])),
        Code::InvalidArgument,
        "3 labels",
    );
    expect_err(
        model.step(&Batch::new(&images, [N, 1, 8, 8])),
        Code::InvalidArgument,
        "labels",
    );
    // Labels out of range, k out of range: library messages.
    let bad_labels = vec![5i64; N];
    expect_err(
        model.step(&Batch::new(&images, [N, 1, 8, 8]).with_labels(&bad_labels)),
        Code::InvalidArgument,
        "",
    );
    expect_err(
        model.predict_full(&Batch::new(&images, [N, 1, 8, 8]), 3),
        Code::InvalidArgument,
        "",
    );
    // NaN image.
    let nan = vec![f32::NAN; N * 64];
    expect_err(model.predict(&Batch::new(&nan, [N, 1, 8, 8])), Code::Numerics, "");
    // The model still works after every failure.
    assert_eq!(model.predict(&Batch::new(&images, [N, 1, 8, 8])).unwrap().len(), N);
}

#[test]
fn options_setters_and_json() {
    let mut o = Options::new().unwrap();
    o.set_embed_dim(16)
        .unwrap()
        .set_num_layers(2)
        .unwrap()
        .set_input_shape(1, 8, 8)
        .unwrap()
        .set_num_classes(2)
        .unwrap()
        .set_device("cpu")
        .unwrap()
        .set_seed(9)
        .unwrap()
        .set_loss("mcl")
        .unwrap()
        .set_augment("none")
        .unwrap()
        .set_threads(1)
        .unwrap();
    o.validate().unwrap();
    let json = o.to_json().unwrap();
    assert!(json.contains("\"seed\"") && json.contains('9'));
    let model = Model::new(&o).unwrap();
    drop(o); // options may be freed right after creation
    assert_eq!(model.embed_dim().unwrap(), 16);
}

#[test]
fn datasets_and_fit_with_progress() {
    let (images, labels) = training_data();
    let data = Dataset::from_batch(&Batch::new(&images, [N, 1, 8, 8]).with_labels(&labels), 2).unwrap();
    let info = data.info().unwrap();
    assert_eq!(
        (info.count, info.channels, info.height, info.width, info.num_classes),
        (N, 1, 8, 8, 2)
    );
    assert_eq!(info.dtype, cff::DType::U8);
    assert_eq!(data.images_u8(2, 3).unwrap(), images[2 * 64..5 * 64]);
    assert_eq!(data.labels(0, 4).unwrap(), vec![0, 1, 0, 1]);
    assert!((data.images_f32(0, 1).unwrap()[0] - images[0] as f32 / 255.0).abs() < 1e-6);
    assert_eq!(data.slice(4, 8).unwrap().info().unwrap().count, 8);
    assert_eq!(data.class_name(1).unwrap(), "1");

    let mut model = Model::from_json(CONFIG).unwrap();
    let mut calls = 0;
    let mut on_progress = |p: &cff::Progress| {
        calls += 1;
        assert!(p.stage == 1 || p.stage == 2);
        assert!(!p.message.is_empty());
        calls < 2 // stop at the second report
    };
    let stopped = model.fit(&data, None, Some(&mut on_progress)).unwrap();
    assert!(stopped);
    assert_eq!(calls, 2);
    let acc = model.evaluate_dataset(&data, &[1]).unwrap();
    assert!((0.0..=1.0).contains(&acc[0]));
}

#[test]
#[should_panic(expected = "boom")]
fn a_panicking_callback_stops_fit_and_resumes_the_panic() {
    let (images, labels) = training_data();
    let data = Dataset::from_batch(&Batch::new(&images, [N, 1, 8, 8]).with_labels(&labels), 2).unwrap();
    let mut model = Model::from_json(CONFIG).unwrap();
    let mut cb = |_: &cff::Progress| -> bool { panic!("boom") };
    let _ = model.fit(&data, None, Some(&mut cb));
}

#[test]
fn providers_list_builtins() {
    let losses = cff::providers(ProviderKind::Loss).unwrap();
    assert!(
        losses.iter().any(|p| p.name == "mcl" && p.origin == "built-in"),
        "{losses:?}"
    );
    let augs = cff::providers(ProviderKind::Augmentation).unwrap();
    assert!(augs.iter().any(|p| p.name == "hflip"));
    cff::device_check("cpu").unwrap();
    expect_err(cff::device_check("tpu"), Code::InvalidArgument, "tpu");
}

#[test]
fn thread_safety_markers() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Model>();
    send_sync::<Dataset>();
    send_sync::<cff::LayerBatch>();
    send::<Options>();
    // One model shared by threads: calls are serialised by the library.
    let model = std::sync::Arc::new(trained_model());
    let images = probe_images();
    let expected = model.predict(&Batch::new(&images, [8, 1, 8, 8])).unwrap();
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let (model, images) = (model.clone(), images.clone());
            std::thread::spawn(move || model.predict(&Batch::new(&images, [8, 1, 8, 8])).unwrap())
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), expected);
    }
}

// ---- Cross-binding check (driven by tests/bindings: CFF_CROSS_DIR, CFF_CROSS_MODE) ----------

fn write_expect(path: &PathBuf, p: &cff::Prediction) {
    let labels: Vec<String> = p.labels.iter().map(|v| v.to_string()).collect();
    let scores: Vec<String> = p.scores.iter().map(|v| format!("{v:.9e}")).collect();
    std::fs::write(
        path,
        format!("labels {}\nscores {}\n", labels.join(" "), scores.join(" ")),
    )
    .unwrap();
}

fn read_expect(path: &PathBuf) -> (Vec<i64>, Vec<f32>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut lines = text.lines();
    let labels = lines
        .next()
        .unwrap()
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().unwrap())
        .collect();
    let scores = lines
        .next()
        .unwrap()
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().unwrap())
        .collect();
    (labels, scores)
}

#[test]
fn cross_binding() {
    let (Ok(dir), Ok(mode)) = (std::env::var("CFF_CROSS_DIR"), std::env::var("CFF_CROSS_MODE")) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let probe = probe_images();
    let batch = Batch::new(&probe, [8, 1, 8, 8]);
    if mode == "write" {
        let model = trained_model();
        model.save(dir.join("rust.cff")).unwrap();
        write_expect(&dir.join("rust.expect"), &model.predict_full(&batch, 2).unwrap());
        return;
    }
    let names = std::env::var("CFF_CROSS_MODELS").unwrap();
    for name in names.split(',') {
        let model = Model::load(dir.join(format!("{name}.cff")), Some("cpu")).unwrap();
        let (labels, scores) = read_expect(&dir.join(format!("{name}.expect")));
        let got = model.predict_full(&batch, 2).unwrap();
        assert_eq!(got.labels, labels, "labels of the model {name} saved");
        for (a, b) in got.scores.iter().zip(&scores) {
            assert!((a - b).abs() <= 1e-6, "scores of {name}: {a} vs {b}");
        }
        assert_eq!(got.scores.len(), scores.len());
        eprintln!("rust: model saved by {name} predicts the same");
    }
}

#[test]
fn step_hosts_get_batches_normalization_and_an_lr_scale() {
    let (images, labels) = training_data();
    let data = Dataset::from_batch(&Batch::new(&images, [N, 1, 8, 8]).with_labels(&labels), 2).unwrap();
    let (mean, std) = data.normalization().unwrap();
    let want = images.iter().map(|&p| p as f64 / 255.0).sum::<f64>() / images.len() as f64;
    assert!((mean[0] - want).abs() < 1e-12 && std[0] > 0.0);
    let mut it = data.batches(5, 3, true).unwrap();
    drop(data); // the iterator keeps its own reference
    let mut counts = vec![];
    let mut seen = vec![];
    while let Some((px, lb, epoch)) = it.next_batch().unwrap() {
        assert_eq!(epoch, 0);
        counts.push(lb.len());
        seen.extend(px);
    }
    assert_eq!(counts, vec![5, 5, 5, 1]);
    let mut a: Vec<&[u8]> = seen.chunks(64).collect();
    let mut b: Vec<&[u8]> = images.chunks(64).collect();
    a.sort();
    b.sort();
    assert_eq!(a, b); // every image once per epoch
    let mut model = Model::from_json(CONFIG).unwrap();
    let before = model.predict_full(&Batch::new(&images, [N, 1, 8, 8]), 1).unwrap();
    model.set_lr_scale(0.0).unwrap();
    model
        .step(&Batch::new(&images, [N, 1, 8, 8]).with_labels(&labels))
        .unwrap();
    let after = model.predict_full(&Batch::new(&images, [N, 1, 8, 8]), 1).unwrap();
    assert_eq!(before.scores, after.scores);
    assert_eq!(model.set_lr_scale(-1.0).unwrap_err().code(), Code::InvalidArgument);
    assert_eq!(cff::lr_schedule_scale(true, 0, 10).unwrap(), 1.0);
    assert!((cff::lr_schedule_scale(true, 5, 10).unwrap() - 0.5).abs() < 1e-12);
    assert!(cff::discover_plugins().is_ok());
}

#[test]
fn the_pipeline_trains_what_fit_trains() {
    let (images, labels) = training_data();
    let data = Dataset::from_batch(&Batch::new(&images, [N, 1, 8, 8]).with_labels(&labels), 2).unwrap();
    let config = r#"{"model": {"embed_dim": 16, "num_layers": 3, "height": 8, "width": 8, "num_classes": 2},
                     "train": {"device": "cpu", "seed": 3, "threads": 1, "blas_threads": 1, "precision": "fp32",
                               "batch_size": 8, "epochs": 2, "head_epochs": 1}}"#;
    let mut sequential = Model::from_json(config).unwrap();
    let mut piped = Model::from_json(config).unwrap();
    let err = piped.set_parallel(r#"{"pipeline": true, "stage": 2}"#).unwrap_err();
    assert!(err.to_string().contains("unknown key parallel.stage"), "{err}");
    piped.set_parallel(r#"{"pipeline": true, "stages": 2, "queue_depth": 1}"#).unwrap();
    sequential.fit(&data, None, None).unwrap();
    piped.fit(&data, None, None).unwrap();
    let batch = Batch::new(&images, [N, 1, 8, 8]);
    assert_eq!(sequential.predict_full(&batch, 1).unwrap().scores, piped.predict_full(&batch, 1).unwrap().scores);
    piped.set_parallel("{}").unwrap();
}
