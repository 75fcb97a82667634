//! 2,000 models created and dropped, 5,000 predictions: the RSS must not keep growing. Its own
//! test binary, so that no other test shares the process while the RSS is measured. One model
//! of this size (MLP[16 2] on 8x8 images) holds about 100 KiB: 2,000 kept alive add 196 MiB.
use cff::{Batch, Model};

const CONFIG: &str = r#"{"model": {"embed_dim": 16, "num_layers": 2, "height": 8, "width": 8, "num_classes": 2},
                         "train": {"device": "cpu", "seed": 3, "threads": 1, "batch_size": 8}}"#;
const N: usize = 16;
const BOUND_MIB: f64 = 8.0;

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<f64>().unwrap() / 1024.0
}

fn cycle(models: usize, predicts: usize, images: &[u8], labels: &[i64]) {
    for _ in 0..models {
        drop(Model::from_json(CONFIG).unwrap());
    }
    let mut model = Model::from_json(CONFIG).unwrap();
    model
        .step(&Batch::new(images, [N, 1, 8, 8]).with_labels(labels))
        .unwrap();
    for _ in 0..predicts {
        assert_eq!(model.predict(&Batch::new(images, [N, 1, 8, 8])).unwrap().len(), N);
    }
}

#[test]
fn models_and_predicts_do_not_leak() {
    let images: Vec<u8> = (0..N * 64).map(|i| (i * 37 % 251) as u8).collect();
    let labels: Vec<i64> = (0..N as i64).map(|i| i % 2).collect();
    cycle(200, 500, &images, &labels); // warm-up: the allocator's pools and LibTorch's caches fill once
    let before = rss_mib();
    cycle(2000, 5000, &images, &labels);
    let growth = rss_mib() - before;
    println!("RSS {before:.1} MiB before, growth {growth:+.1} MiB over 2,000 models and 5,000 predictions");
    assert!(
        growth < BOUND_MIB,
        "RSS grew by {growth:.1} MiB (bound {BOUND_MIB} MiB)"
    );
}
