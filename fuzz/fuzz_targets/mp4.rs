//! MP4/MOV demuxing and H.264 decoding (the in-process video path), and the codec sniffer used
//! for the error when ffmpeg is missing.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wildfer_fuzz::{check_error, scratch_file};
use wildfer_video::{FrameSource, Mp4H264Source};

fuzz_target!(|data: &[u8]| {
    let path = scratch_file("input.mp4", data);
    let _ = wildfer_video::sniff::video_codec(&path);
    match Mp4H264Source::open(&path) {
        Ok(mut src) => {
            // A bounded number of frames keeps each run short; corrupt frames are errors
            // and the stream goes on.
            for _ in 0..64 {
                match src.next_frame() {
                    None => break,
                    Some(Ok(f)) => assert_eq!(f.rgb.len(), f.width * f.height * 3),
                    Some(Err(e)) => check_error(&e, "input.mp4"),
                }
            }
        }
        Err(e) => check_error(&e, "input.mp4"),
    }
});
