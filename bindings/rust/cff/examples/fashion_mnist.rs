//! Trains a small CFF+M model on part of Fashion-MNIST step by step, saves it, reloads it and
//! predicts a few test images.
//!
//!   cargo run --release --example fashion_mnist -- [DATA_DIR] [--limit N] [--epochs N]
//!
//! DATA_DIR defaults to /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist).
use cff::{Batch, Dataset, Model, Options};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut folder = "/usr/share/datasets/fashion-mnist".to_string();
    let (mut limit, mut epochs) = (4096usize, 2usize);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--limit" => limit = args.next().ok_or("--limit N")?.parse()?,
            "--epochs" => epochs = args.next().ok_or("--epochs N")?.parse()?,
            _ => folder = arg,
        }
    }
    println!(
        "libcff {} (ABI {}, LibTorch {})",
        cff::version(),
        cff::abi_version(),
        cff::torch_version()
    );
    let train = Dataset::load_idx(&folder, "train")?;
    let test = Dataset::load_idx(&folder, "test")?;
    let info = train.info()?;
    let limit = limit.min(info.count);

    let mut options = Options::new()?;
    options
        .set_embed_dim(128)?
        .set_num_layers(2)?
        .set_input_shape(info.channels as i64, info.height as i64, info.width as i64)?
        .set_num_classes(info.num_classes as i64)?
        .set_device("cpu")?
        .set_seed(1)?;
    let mut model = Model::new(&options)?;

    let (batch_size, pixels) = (256, info.channels * info.height * info.width);
    let shape = |n| [n, info.channels, info.height, info.width];
    let images = train.images_u8(0, limit)?;
    let labels = train.labels(0, limit)?;
    for stage in 1..=2 {
        for epoch in 1..=epochs {
            let mut sum = 0.0;
            let mut batches = 0;
            for start in (0..limit).step_by(batch_size) {
                let n = batch_size.min(limit - start);
                if n < 2 {
                    continue;
                }
                let batch = Batch::new(&images[start * pixels..(start + n) * pixels], shape(n))
                    .with_labels(&labels[start..start + n]);
                sum += if stage == 1 {
                    model.step(&batch)?.iter().sum::<f64>()
                } else {
                    model.head_step(&batch)?
                };
                batches += 1;
            }
            println!("stage {stage} epoch {epoch}: mean loss {:.4}", sum / batches as f64);
        }
    }
    let accuracy = model.evaluate_dataset(&test.slice(0, 2000)?, &[1, 5])?;
    println!(
        "test top-1 {:.1}%, top-5 {:.1}% (2000 images)",
        100.0 * accuracy[0],
        100.0 * accuracy[1]
    );

    let path = std::env::temp_dir().join("cff-rust-example.cff");
    model.save(&path)?;
    let reloaded = Model::load(&path, None)?;
    let probe = test.images_u8(0, 5)?;
    let predicted = reloaded.predict(&Batch::new(&probe, shape(5)))?;
    assert_eq!(predicted, model.predict(&Batch::new(&probe, shape(5)))?);
    let truth = test.labels(0, 5)?;
    for (p, t) in predicted.iter().zip(&truth) {
        println!(
            "predicted {:<12} actual {}",
            test.class_name(*p as usize)?,
            test.class_name(*t as usize)?
        );
    }
    Ok(())
}
