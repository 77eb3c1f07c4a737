//! Without ffmpeg, a video wildfer cannot decode itself fails with one line naming the codec
//! and the fix. (Its own test binary: the environment variable below is process-wide.)
#![allow(clippy::unwrap_used)]

mod common;
use common::{media, one_line};

#[test]
fn hevc_without_ffmpeg_names_codec_and_fix() {
    // Changing the environment of a running test process is unsafe in edition 2024, so the
    // test re-runs itself as a child with WILDFER_FFMPEG pointing nowhere.
    let exe = std::env::current_exe().unwrap();
    if std::env::var_os("WILDFER_TEST_CHILD").is_none() {
        let out = std::process::Command::new(exe)
            .args([
                "--exact",
                "hevc_without_ffmpeg_names_codec_and_fix",
                "--nocapture",
            ])
            .env("WILDFER_TEST_CHILD", "1")
            .env("WILDFER_FFMPEG", "/nonexistent/ffmpeg")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        return;
    }
    assert!(!wildfer_video::ffmpeg::available());
    let e = wildfer_video::open(&media("face_noface.mov"))
        .err()
        .unwrap();
    let s = e.to_string();
    one_line(
        e,
        &[
            "face_noface.mov",
            "HEVC (hvc1)",
            "needs ffmpeg",
            "apt-get install ffmpeg",
        ],
    );
    assert!(!s.contains("not a readable"), "{s}");
    // An H.264 MP4 does not need ffmpeg.
    assert!(wildfer_video::open(&media("single_face.mp4")).is_ok());
    // A text file is still reported as what it is.
    let d = std::env::temp_dir().join(format!("wildfer-noffmpeg-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let text = d.join("notes.mp4");
    std::fs::write(&text, b"just text\n").unwrap();
    one_line(
        wildfer_video::open(&text).err().unwrap(),
        &["notes.mp4", "not a readable MP4/MOV"],
    );
    let _ = std::fs::remove_dir_all(&d);
}
