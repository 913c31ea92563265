//! `train` lets its checkpoint go only after the model is saved: whatever the save does, the
//! run is never left with neither.

use crate::common::{run, stderr, tiny_train_args, train_dir};

#[test]
fn a_failed_save_keeps_the_checkpoint() {
    let dir = train_dir(40);
    // A directory where the weights file goes: writing the model file by file fails there.
    std::fs::create_dir_all(dir.path().join("m/model.safetensors/taken")).unwrap();
    let args = tiny_train_args("m", "2", &["-q"]);
    let out = run(dir.path(), &args);
    let saved = out.status.success()
        && run(dir.path(), &["predict", "-m", "m", "a good film"])
            .status
            .success();
    let checkpoint = dir.path().join("m/checkpoint/checkpoint.safetensors");
    assert!(
        saved || checkpoint.is_file(),
        "neither a model nor a checkpoint is left: {}",
        stderr(&out)
    );
    if !saved {
        assert!(
            stderr(&out).contains("cannot save the model to m"),
            "{}",
            stderr(&out)
        );
    }
}
