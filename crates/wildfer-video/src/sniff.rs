//! Just enough ISO-BMFF (MP4/MOV) parsing to name the video codec of a file the H.264 path
//! cannot read, so the error can say what it is and what to do.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// What the container says about its first video track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoCodec {
    /// The sample entry's four-character code (`avc1`, `hvc1`, `hev1`, `vp09`, `av01`, ...).
    pub fourcc: String,
}

impl VideoCodec {
    /// A readable name: `HEVC (hvc1)`.
    pub fn describe(&self) -> String {
        let name = match self.fourcc.as_str() {
            "avc1" | "avc3" => "H.264",
            "hvc1" | "hev1" => "HEVC",
            "vp09" => "VP9",
            "av01" => "AV1",
            "mp4v" => "MPEG-4 Part 2",
            "apcn" | "apch" | "apcs" | "apco" | "ap4h" => "Apple ProRes",
            "jpeg" | "mjpa" => "Motion JPEG",
            _ => return format!("'{}'", self.fourcc),
        };
        format!("{name} ({})", self.fourcc)
    }
}

/// Bound on the boxes walked, so a crafted file cannot make this loop long.
const MAX_BOXES: usize = 10_000;

/// One box: its type, its payload [start, end) (cut at the parent's end), and the size it
/// claimed when that ran past the parent.
struct BoxAt {
    kind: [u8; 4],
    start: u64,
    end: u64,
    overrun: Option<u64>,
}

/// The boxes in [start, end), in order, up to the first unreadable header; stops (leaving
/// `walked` above the bound) once `walked`, which counts every box of the whole walk, passes
/// [`MAX_BOXES`].
fn boxes_in<R: Read + Seek>(r: &mut R, start: u64, end: u64, walked: &mut usize) -> Vec<BoxAt> {
    let mut out = Vec::new();
    let mut pos = start;
    while let Some(b) = box_at(r, pos, end) {
        *walked += 1;
        if *walked > MAX_BOXES {
            break;
        }
        pos = b.end;
        out.push(b);
    }
    out
}

/// The box whose header is at `pos`, inside a parent ending at `end`.
fn box_at<R: Read + Seek>(r: &mut R, pos: u64, end: u64) -> Option<BoxAt> {
    if pos + 8 > end {
        return None;
    }
    r.seek(SeekFrom::Start(pos)).ok()?;
    let mut h = [0u8; 8];
    r.read_exact(&mut h).ok()?;
    let size32 = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as u64;
    let kind = [h[4], h[5], h[6], h[7]];
    let (header, size) = match size32 {
        0 => (8, end - pos),
        1 => {
            let mut l = [0u8; 8];
            r.read_exact(&mut l).ok()?;
            (16, u64::from_be_bytes(l))
        }
        n => (8, n),
    };
    if size < header || pos + header > end {
        return None;
    }
    // A box claiming to run past its parent is cut at the parent's end (and noted).
    let claimed_end = pos.saturating_add(size);
    Some(BoxAt {
        kind,
        start: pos + header,
        end: claimed_end.min(end),
        overrun: (claimed_end > end).then_some(size),
    })
}

/// The first video track's sample-entry code, or `None` if the file is not an MP4/MOV with one.
pub fn video_codec(path: &Path) -> Option<VideoCodec> {
    let mut f = std::fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    let mut walked = 0;
    let (s, e) = *children(&mut f, 0, len, b"moov", &mut walked).first()?;
    let traks = children(&mut f, s, e, b"trak", &mut walked);
    for (ts, te) in traks {
        let Some((ms, me)) = children(&mut f, ts, te, b"mdia", &mut walked)
            .first()
            .copied()
        else {
            continue;
        };
        // hdlr: version/flags (4), pre_defined (4), handler type (4).
        let is_video = children(&mut f, ms, me, b"hdlr", &mut walked)
            .first()
            .and_then(|&(hs, _)| read_at(&mut f, hs + 8, 4))
            .is_some_and(|t| t == b"vide");
        if !is_video {
            continue;
        }
        let mut path_boxes = vec![(ms, me)];
        for name in [b"minf", b"stbl", b"stsd"] {
            let (ps, pe) = *path_boxes.last()?;
            path_boxes.push(*children(&mut f, ps, pe, name, &mut walked).first()?);
        }
        let (ss, _) = *path_boxes.last()?;
        // stsd: version/flags (4), entry count (4), then the first entry's size (4) and type.
        let fourcc = read_at(&mut f, ss + 12, 4)?;
        return Some(VideoCodec {
            fourcc: String::from_utf8_lossy(&fourcc).into_owned(),
        });
    }
    None
}

fn children(
    f: &mut std::fs::File,
    start: u64,
    end: u64,
    kind: &[u8; 4],
    walked: &mut usize,
) -> Vec<(u64, u64)> {
    boxes_in(f, start, end, walked)
        .into_iter()
        .filter(|b| &b.kind == kind)
        .map(|b| (b.start, b.end))
        .collect()
}

fn read_at(f: &mut std::fs::File, pos: u64, n: usize) -> Option<Vec<u8>> {
    f.seek(SeekFrom::Start(pos)).ok()?;
    let mut v = vec![0u8; n];
    f.read_exact(&mut v).ok()?;
    Some(v)
}

/// Bytes per entry of the tables whose entry count the parser allocates for up front. `stsz`
/// (4 bytes a sample, only when its constant size is 0), `elst` (by version), `stsd` (boxes of
/// at least 8 bytes) and `pssh` (version 1 key ids) have their own layouts.
const TABLES: [(&[u8; 4], u64); 6] = [
    (b"stts", 8),
    (b"ctts", 8),
    (b"stsc", 12),
    (b"stco", 4),
    (b"co64", 8),
    (b"stss", 4),
];

/// Boxes made only of boxes, walked by [`check_table_sizes`].
const CONTAINERS: [&[u8; 4]; 12] = [
    b"moov", b"trak", b"edts", b"mdia", b"minf", b"stbl", b"mvex", b"dinf", b"udta", b"ilst",
    b"sinf", b"schi",
];

/// Sample entries whose fixed fields (78 bytes for video, 28 for audio version 0) are
/// followed by boxes (`avcC`, `esds`, `sinf`, ...).
const VIDEO_ENTRIES: [&[u8; 4]; 10] = [
    b"avc1", b"avc3", b"hvc1", b"hev1", b"mp4v", b"vp08", b"vp09", b"av01", b"encv", b"s263",
];
const AUDIO_ENTRIES: [&[u8; 4]; 8] = [
    b"mp4a", b"enca", b"Opus", b"fLaC", b"alac", b"lpcm", b"samr", b"sawb",
];

/// Refuse what would make the parser reserve memory the file cannot back, before it runs: a
/// box running past its parent or past the end of the file (only `mdat` may, in a truncated
/// file), and a table whose entry count claims more entries than its box holds (a 40-byte box
/// can claim four billion). `Err` says which box.
pub(crate) fn check_table_sizes(path: &Path) -> Result<(), String> {
    let Ok(mut f) = std::fs::File::open(path) else {
        return Ok(()); // the parser reports it
    };
    let len = f.metadata().map_or(0, |m| m.len());
    let mut walked = 0;
    check_tree(&mut f, 0, len, Level::File, &mut walked)
}

/// Where a box sits, for what its children are.
#[derive(Clone, Copy, PartialEq)]
enum Level {
    File,
    Box,
    /// Inside `ilst`: every child is a metadata item made of boxes (`data`, `name`, ...).
    Items,
    /// Inside `stsd`: sample entries, fixed fields then boxes.
    Entries,
}

fn check_tree(
    f: &mut std::fs::File,
    start: u64,
    end: u64,
    level: Level,
    walked: &mut usize,
) -> Result<(), String> {
    let top = level == Level::File;
    let found = boxes_in(f, start, end, walked);
    for b in &found {
        if let Some(claimed) = b.overrun
            && !(top && &b.kind == b"mdat")
        {
            return Err(format!(
                "box '{}' claims {claimed} bytes, past the end of {}",
                String::from_utf8_lossy(&b.kind),
                if top { "the file" } else { "its parent box" }
            ));
        }
    }
    if *walked > MAX_BOXES {
        return Err(format!("more than {MAX_BOXES} boxes"));
    }
    for BoxAt {
        kind,
        start: s,
        end: e,
        ..
    } in found
    {
        let room = |skip: u64| e.saturating_sub(s).saturating_sub(skip);
        let name = String::from_utf8_lossy(&kind).into_owned();
        if &kind == b"ilst" {
            check_tree(f, s, e, Level::Items, walked)?;
        } else if CONTAINERS.contains(&&kind) || level == Level::Items {
            check_tree(f, s, e, Level::Box, walked)?;
        } else if &kind == b"meta" {
            // A full box (version and flags) holding boxes, in udta and in moov.
            check_tree(f, s.saturating_add(4).min(e), e, Level::Box, walked)?;
        } else if let Some(&(_, per)) = TABLES.iter().find(|(k, _)| **k == kind) {
            if let Some(h) = read_at(f, s, 8) {
                check_count(&name, &h[4..8], per, room(8))?;
            }
        } else if &kind == b"elst" {
            if let Some(h) = read_at(f, s, 8) {
                check_count(&name, &h[4..8], if h[0] == 1 { 20 } else { 12 }, room(8))?;
            }
        } else if &kind == b"stsd" {
            if let Some(h) = read_at(f, s, 8) {
                check_count(&name, &h[4..8], 8, room(8))?;
            }
            check_tree(f, s.saturating_add(8).min(e), e, Level::Entries, walked)?;
        } else if level == Level::Entries {
            // The boxes after a sample entry's fixed fields (audio: 16 more bytes in version
            // 1, 36 in version 2).
            let fixed = if VIDEO_ENTRIES.contains(&&kind) {
                Some(78)
            } else if AUDIO_ENTRIES.contains(&&kind) {
                read_at(f, s.saturating_add(8), 2).map(|v| match v[1] {
                    1 => 44,
                    2 => 64,
                    _ => 28,
                })
            } else {
                None
            };
            if let Some(fixed) = fixed {
                check_tree(f, s.saturating_add(fixed).min(e), e, Level::Box, walked)?;
            }
        } else if &kind == b"stsz" {
            // version/flags, constant sample size, sample count.
            if let Some(h) = read_at(f, s, 12)
                && h[4..8] == [0; 4]
            {
                check_count(&name, &h[8..12], 4, room(12))?;
            }
        } else if &kind == b"pssh" {
            // version/flags, system id (16), key-id count, 16 bytes per key id.
            if let Some(h) = read_at(f, s, 24)
                && h[0] > 0
            {
                check_count(&name, &h[20..24], 16, room(24))?;
            }
        }
    }
    Ok(())
}

fn check_count(table: &str, count: &[u8], per: u64, room: u64) -> Result<(), String> {
    let n = u64::from(u32::from_be_bytes([count[0], count[1], count[2], count[3]]));
    if n.saturating_mul(per) > room {
        return Err(format!("{table} table claims {n} entries in {room} bytes"));
    }
    Ok(())
}
