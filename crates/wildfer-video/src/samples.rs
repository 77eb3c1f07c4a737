//! Where each sample of an MP4 track lies in the file, walked in decoding order with checked
//! arithmetic. The `mp4` crate's own `read_sample` panics on inconsistent tables (an `unwrap` on
//! the timing table, unchecked sums, a division by a zero chunk size), so wildfer parses the
//! header with it but locates samples itself: O(1) state per step, every table index checked.

use mp4::Mp4Track;

/// Cursor over (offset, size) of a track's samples.
pub(crate) struct SampleWalker {
    /// Per-sample sizes, or empty when `constant_size` applies to all.
    sizes: Vec<u32>,
    constant_size: u32,
    count: u32,
    chunk_offsets: Vec<u64>,
    /// (first chunk, 1-based; samples per chunk), first chunks strictly increasing from 1.
    runs: Vec<(u32, u32)>,
    // Cursor.
    next: u32,
    /// 1-based chunk of the next sample; 0 before the first.
    chunk: u32,
    run: usize,
    left_in_chunk: u32,
    offset: u64,
}

impl SampleWalker {
    /// The tables of a non-fragmented track; `Err` names what is inconsistent.
    pub(crate) fn new(track: &Mp4Track) -> Result<Self, String> {
        let stbl = &track.trak.mdia.minf.stbl;
        let chunk_offsets = match (&stbl.stco, &stbl.co64) {
            (Some(stco), _) => stco.entries.iter().map(|&o| u64::from(o)).collect(),
            (None, Some(co64)) => co64.entries.clone(),
            (None, None) => return Err("no chunk offset table (stco/co64)".into()),
        };
        let mut runs = Vec::with_capacity(stbl.stsc.entries.len());
        for e in &stbl.stsc.entries {
            let ok = match runs.last() {
                None => e.first_chunk == 1,
                Some(&(prev, _)) => e.first_chunk > prev,
            };
            if !ok {
                return Err(format!(
                    "sample-to-chunk table out of order at chunk {}",
                    e.first_chunk
                ));
            }
            runs.push((e.first_chunk, e.samples_per_chunk));
        }
        let stsz = &stbl.stsz;
        let (sizes, constant_size) = if stsz.sample_size > 0 {
            (Vec::new(), stsz.sample_size)
        } else {
            if stsz.sample_sizes.len() != stsz.sample_count as usize {
                return Err(format!(
                    "sample size table lists {} sizes for {} samples",
                    stsz.sample_sizes.len(),
                    stsz.sample_count
                ));
            }
            (stsz.sample_sizes.clone(), 0)
        };
        Ok(SampleWalker {
            sizes,
            constant_size,
            count: stsz.sample_count,
            chunk_offsets,
            runs,
            next: 0,
            chunk: 0,
            run: 0,
            left_in_chunk: 0,
            offset: 0,
        })
    }

    pub(crate) fn samples(&self) -> u32 {
        self.count
    }

    /// Move to the next chunk that holds samples.
    fn next_chunk(&mut self) -> Result<(), String> {
        loop {
            self.chunk += 1;
            let Some(&offset) = self.chunk_offsets.get(self.chunk as usize - 1) else {
                return Err(format!(
                    "sample {} lies past the last chunk ({})",
                    self.next + 1,
                    self.chunk_offsets.len()
                ));
            };
            while self
                .runs
                .get(self.run + 1)
                .is_some_and(|&(first, _)| first <= self.chunk)
            {
                self.run += 1;
            }
            let Some(&(_, per_chunk)) = self.runs.get(self.run) else {
                return Err("empty sample-to-chunk table".into());
            };
            if per_chunk > 0 {
                self.offset = offset;
                self.left_in_chunk = per_chunk;
                return Ok(());
            }
        }
    }
}

impl Iterator for SampleWalker {
    /// (byte offset, size) of the next sample in decoding order.
    type Item = Result<(u64, u32), String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.count {
            return None;
        }
        if self.left_in_chunk == 0
            && let Err(e) = self.next_chunk()
        {
            self.next = self.count;
            return Some(Err(e));
        }
        let size = if self.sizes.is_empty() {
            self.constant_size
        } else {
            self.sizes[self.next as usize]
        };
        let at = self.offset;
        let Some(end) = at.checked_add(u64::from(size)) else {
            self.next = self.count;
            return Some(Err(format!("sample {} offset overflows", self.next + 1)));
        };
        self.offset = end;
        self.left_in_chunk -= 1;
        self.next += 1;
        Some(Ok((at, size)))
    }
}
