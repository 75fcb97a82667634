//! A user's program against an installed libcff: one training step of a tiny model, then a
//! prediction.
use cff::{Batch, Model};

fn main() -> Result<(), cff::Error> {
    let config = r#"{"model": {"embed_dim": 8, "num_layers": 2, "height": 4, "width": 4, "num_classes": 2},
                     "train": {"device": "cpu", "seed": 1}}"#;
    let mut model = Model::from_json(config)?;
    let images: Vec<u8> = (0..6 * 16).map(|i| (i * 37 % 256) as u8).collect();
    let labels: Vec<i64> = (0..6).map(|i| i % 2).collect();
    let batch = Batch::new(&images, [6, 1, 4, 4]).with_labels(&labels);
    let losses = model.step(&batch)?;
    let predicted = model.predict(&Batch::new(&images, [6, 1, 4, 4]))?;
    println!("rust user ok: libcff {}, {} layer losses, {} labels", cff::version(), losses.len(), predicted.len());
    Ok(())
}
