//! Which file name each output of one call gets: names compared as case-insensitive,
//! normalizing file systems compare them, and the numbered suffix each output starts from,
//! so that outputs saved concurrently get the same names in any order. No I/O: the names
//! are taken on disk by `files::save`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use crate::decide::file_name;

/// The names taken by one `download_outputs` call, so that two outputs never get the same
/// file even when overwriting. Names are compared as file systems that ignore case or
/// Unicode normalization (macOS, Windows) would: see [`fold`].
#[derive(Clone, Debug, Default)]
pub(crate) struct NameBook(Arc<Mutex<HashSet<String>>>);

impl NameBook {
    /// Takes `name` for this call; false if an output of this call has it (or a name that
    /// one of those file systems takes for the same).
    pub(crate) fn take(&self, name: &str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(fold(name))
    }
}

/// A name as a case-insensitive, normalization-insensitive file system sees it, or
/// coarser: lowercased, and every run of non-ASCII characters (with an ASCII letter that a
/// combining mark follows: `e` + U+0301 is `é` decomposed) made one `?`. Two names that
/// such a file system takes for one always fold alike; two that fold alike only cost a
/// numbered suffix.
pub(crate) fn fold(name: &str) -> String {
    let lower: Vec<char> = name.chars().flat_map(char::to_lowercase).collect();
    let mut folded = String::with_capacity(lower.len());
    for (i, &c) in lower.iter().enumerate() {
        let composed = lower.get(i + 1).is_some_and(|&next| combining(next));
        if c.is_ascii() && !composed {
            folded.push(c);
        } else if !folded.ends_with('?') {
            folded.push('?');
        }
    }
    folded
}

/// Combining marks: the blocks that decomposed accents come from.
fn combining(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'
        | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}'
        | '\u{20D0}'..='\u{20FF}'
        | '\u{FE20}'..='\u{FE2F}')
}

/// For each output name, the suffix its file name starts from: the k-th output whose name
/// sanitises like an earlier one's starts at `-k`. Outputs saved concurrently then get the
/// same names whatever order their downloads finish in.
pub(crate) fn first_suffixes<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<u32> {
    let mut seen: Vec<(String, u32)> = Vec::new();
    names
        .into_iter()
        .map(|name| {
            let base = fold(&file_name::sanitize(name, ""));
            match seen.iter_mut().find(|(b, _)| *b == base) {
                Some((_, count)) => {
                    *count += 1;
                    *count
                }
                None => {
                    seen.push((base, 0));
                    0
                }
            }
        })
        .collect()
}
