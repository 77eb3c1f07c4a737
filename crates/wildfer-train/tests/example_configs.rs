//! Every example run configuration under `examples/train/` parses, validates and builds its
//! network description (the data root need not exist until training starts).
#![allow(clippy::unwrap_used)]

use std::path::Path;
use wildfer_train::{TrainConfig, WindowSpec};

#[test]
fn example_configs_are_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/train");
    let mut names = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "toml") {
            let cfg = TrainConfig::load(&path).unwrap_or_else(|e| panic!("{e}"));
            let net = cfg.network().unwrap();
            assert_eq!(net.num_classes(), cfg.model.classes);
            WindowSpec::of(&net).unwrap();
            names.push(path.file_stem().unwrap().to_string_lossy().into_owned());
        }
    }
    names.sort();
    assert_eq!(
        names,
        [
            "fer2013_faceapi_resnet34",
            "fer2013_faceapi_resnet34_stage2",
            "fer2013_faceapi_resnet34_stage2_ls",
            "fer2013_faceapi_resnet34_stage3",
            "fer2013_mini_xception",
            "fer2013_resnet18",
            "fer2013_resnet18_cbam",
            "fer2013_resnet18_llam",
            "fer2013_resnet18_se",
            "fer2013_resnet18_stage2",
            "method_a_resnet101_cbam_bilstm",
            "method_b_cnn",
            "method_b_cnn_rnn",
            "method_b_cnn_transformer",
            "method_c_llam",
            "method_d_senet50",
            "sfew_faceapi_resnet34_finetune",
            "sfew_faceapi_resnet34_stage2_finetune",
            "sfew_resnet18_finetune",
            "student_pseudo",
            "synth_small"
        ]
    );
}
