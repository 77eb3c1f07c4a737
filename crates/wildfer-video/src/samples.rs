//! Where each sample of an MP4 track lies in the file, walked in decoding order with checked
//! arithmetic from the parsed tables: O(1) state per step, every table index checked, so a
//! corrupt table is an error, never a panic or a huge allocation.

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
    /// A walker over `count` samples: sizes per sample (or `constant_size` for all when
    /// empty), chunk offsets (`stco`/`co64`) and sample-to-chunk runs (`stsc`: first chunk,
    /// samples per chunk). `Err` names what is inconsistent.
    pub(crate) fn new(
        sizes: Vec<u32>,
        constant_size: u32,
        count: u32,
        chunk_offsets: Vec<u64>,
        stsc: Vec<(u32, u32)>,
    ) -> Result<Self, String> {
        if chunk_offsets.is_empty() && count > 0 {
            return Err("no chunk offset table (stco/co64)".into());
        }
        for (i, w) in stsc.iter().enumerate() {
            let ok = match i {
                0 => w.0 == 1,
                _ => w.0 > stsc[i - 1].0,
            };
            if !ok {
                return Err(format!(
                    "sample-to-chunk table out of order at chunk {}",
                    w.0
                ));
            }
        }
        if sizes.is_empty() && constant_size == 0 && count > 0 {
            return Err("no sample sizes".into());
        }
        if !sizes.is_empty() && sizes.len() != count as usize {
            return Err(format!(
                "sample size table lists {} sizes for {count} samples",
                sizes.len()
            ));
        }
        Ok(SampleWalker {
            sizes,
            constant_size,
            count,
            chunk_offsets,
            runs: stsc,
            next: 0,
            chunk: 0,
            run: 0,
            left_in_chunk: 0,
            offset: 0,
        })
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
