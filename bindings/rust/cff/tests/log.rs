//! The log handler receives the library's warnings. Its own test binary: the handler is
//! process-wide, and api.rs loads and unloads the same plugin in parallel tests.
use cff::Model;

#[test]
fn log_handler_receives_the_library_warnings() {
    let Ok(path) = std::env::var("CFF_TEST_PLUGIN") else {
        return; // ctest sets it
    };
    cff::load_plugin(&path).unwrap();
    let file = std::path::Path::new(&path)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let config = format!(
        r#"{{"model": {{"embed_dim": 16, "num_layers": 2, "height": 8, "width": 8, "num_classes": 2}},
            "train": {{"device": "cpu", "threads": 1, "loss": "cosine-margin", "plugins": [{{"file": "{file}",
            "provider": "cosine-margin", "kind": "loss", "hash": "0000000000000000"}}]}}}}"#
    );
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = got.clone();
    cff::set_log_handler(Some(Box::new(move |level, message: &str| {
        sink.lock().unwrap().push((level, message.to_string()))
    })));
    drop(Model::from_json(&config).unwrap());
    cff::set_log_handler(None);
    let got = got.lock().unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, cff::LogLevel::Warning);
    assert!(got[0].1.contains(&format!("differs from the {file}")), "{}", got[0].1);
}
