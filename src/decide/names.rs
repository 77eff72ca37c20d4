//! Which file name each output of one call gets: names compared as case-insensitive,
//! normalizing file systems compare them, and the numbered suffix each output starts from,
//! so that outputs saved concurrently get the same names in any order, and the order of
//! names one output tries ([`Naming`]). No I/O: the names are taken on disk by
//! `files::reserve`, which asks [`Naming`] for the next one whenever the disk refuses one.

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

/// The most numbered names tried for one output.
pub(crate) const MAX_SUFFIX: u32 = 100_000;

/// The file names one output tries, in order, for every step that takes one: the check for
/// a file saved earlier, the reservation before the bytes, and the commit after them (when
/// a file appeared at the reserved name meanwhile). It starts at the output's first suffix
/// ([`first_suffixes`]) and skips every name another output of the call holds in the
/// [`NameBook`]; whether a name is free on disk is for the caller to find out, which then
/// says [`Naming::refused`].
///
/// States: no name held (at suffix `n`), a name held (suffix `n`), out of names.
#[derive(Debug)]
pub(crate) struct Naming {
    base: String,
    ext: String,
    first: u32,
    n: u32,
    held: bool,
    book: NameBook,
}

impl Naming {
    /// The names for output `name` with extension `ext` (from [`file_name::extension`]),
    /// from suffix `first` (none for 0).
    pub(crate) fn new(name: &str, ext: &str, first: u32, book: NameBook) -> Self {
        Naming {
            base: file_name::sanitize(name, ext),
            ext: ext.to_owned(),
            first,
            n: first,
            held: false,
            book,
        }
    }

    /// The name held now; when none is, the first free one from here on is taken in the
    /// book and held. `None` once every suffix is used up.
    pub(crate) fn current(&mut self) -> Option<String> {
        while self.n < MAX_SUFFIX {
            let name = self.name(self.n);
            if self.held || self.book.take(&name) {
                self.held = true;
                return Some(name);
            }
            self.n += 1;
        }
        None
    }

    /// The disk refused the held name (a file is there, or another download holds it):
    /// the next [`current`](Self::current) moves on. The book keeps the name, which no
    /// other output of the call is to get either.
    pub(crate) fn refused(&mut self) {
        if self.held {
            self.held = false;
            self.n = self.n.saturating_add(1);
        }
    }

    /// Whether the held name (or the one to be tried) is the first this output tries: the
    /// only one under which a file saved earlier is taken for this output.
    pub(crate) fn at_first(&self) -> bool {
        self.n == self.first
    }

    fn name(&self, n: u32) -> String {
        match n {
            0 => format!("{}{}", self.base, self.ext),
            n => format!("{}-{n}{}", self.base, self.ext),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_output_starts_at_its_first_suffix_and_keeps_its_name_until_refused() {
        let mut naming = Naming::new("image", ".png", 0, NameBook::default());
        assert_eq!(naming.current().as_deref(), Some("image.png"));
        // Asked again (the commit after the reservation): the same name.
        assert_eq!(naming.current().as_deref(), Some("image.png"));
        naming.refused();
        assert_eq!(naming.current().as_deref(), Some("image-1.png"));
        let mut second = Naming::new("image", ".png", 2, NameBook::default());
        assert_eq!(second.current().as_deref(), Some("image-2.png"));
        assert!(second.at_first());
    }

    #[test]
    fn names_another_output_of_the_call_holds_are_skipped_whatever_their_case() {
        let book = NameBook::default();
        let mut first = Naming::new("Image", ".png", 0, book.clone());
        let mut second = Naming::new("image", ".PNG", 0, book.clone());
        assert_eq!(first.current().as_deref(), Some("Image.png"));
        assert_eq!(second.current().as_deref(), Some("image-1.PNG"));
        assert!(!second.at_first());
        // A name refused on disk stays in the book: no later output gets it.
        first.refused();
        assert_eq!(first.current().as_deref(), Some("Image-2.png"));
        let mut third = Naming::new("image", ".png", 0, book);
        assert_eq!(third.current().as_deref(), Some("image-3.png"));
    }

    #[test]
    fn refusing_with_no_name_held_does_not_skip_one_and_the_suffixes_end() {
        let mut naming = Naming::new("a", "", MAX_SUFFIX - 1, NameBook::default());
        naming.refused();
        assert_eq!(naming.current().as_deref(), Some("a-99999"));
        naming.refused();
        assert_eq!(naming.current(), None);
        naming.refused();
        assert_eq!(naming.current(), None);
    }
}
