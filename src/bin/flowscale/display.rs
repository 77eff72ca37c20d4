//! What the tool shows while it works: an upload bar, a spinner with the run's status,
//! download bars. All on stderr, and only when stderr is a terminal and the output mode
//! is for people (not `--json` or `--quiet`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flowscale::types::Transfer;
use flowscale::{Progress, RunEvent};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bars of one command.
#[derive(Clone)]
pub struct Bars {
    multi: MultiProgress,
    /// For people, but stderr is no terminal that can redraw (a CI log, a pipe, `TERM=dumb`):
    /// a line per change of state instead of bars, with the time since the start.
    lines: Option<std::time::Instant>,
    /// Under 80 columns: bars without the byte counts and the rate, which would not fit.
    narrow: bool,
    downloads: Arc<Mutex<HashMap<String, ProgressBar>>>,
    upload: Arc<Mutex<Option<ProgressBar>>>,
    spinner: Arc<Mutex<Option<ProgressBar>>>,
}

impl Bars {
    /// Bars that draw on stderr when `shown` and stderr is a terminal; nothing otherwise.
    pub fn new(shown: bool) -> Self {
        // A dumb terminal cannot redraw a bar in place: none then.
        let redraws =
            std::io::IsTerminal::is_terminal(&std::io::stderr()) && !crate::output::dumb_terminal();
        let target = if shown && redraws {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Bars {
            lines: (shown && !redraws).then(std::time::Instant::now),
            narrow: stderr_width().is_some_and(|w| w < 80),
            multi: MultiProgress::with_draw_target(target),
            downloads: Arc::default(),
            upload: Arc::default(),
            spinner: Arc::default(),
        }
    }

    fn bar(&self, label: &str) -> ProgressBar {
        // `wide_bar` takes what the terminal has left: the line fits 40 columns as 200.
        let style = ProgressStyle::with_template(&template(self.narrow, "{bytes_per_sec}"))
            .expect("a valid template")
            .progress_chars("=> ");
        let bar = self.multi.add(ProgressBar::new(0).with_style(style));
        bar.set_message(short(label, if self.narrow { 12 } else { 20 }));
        bar
    }

    /// A transfer of unknown length: its label, bytes so far and rate.
    fn open_ended(&self, label: &str) -> ProgressBar {
        let style = ProgressStyle::with_template("{msg:>20!} {spinner} {bytes} {bytes_per_sec}")
            .expect("a valid template");
        let bar = self.multi.add(ProgressBar::no_length().with_style(style));
        bar.set_message(short(label, if self.narrow { 12 } else { 20 }));
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }

    /// Prints a result line on stdout without tearing the bars.
    pub fn println(&self, line: &str) {
        self.multi.suspend(|| crate::output::line(line));
    }

    /// Prints a note on stderr above the bars.
    pub fn note(&self, line: &str) {
        self.multi.suspend(|| crate::output::note(line));
    }

    /// Moves the upload bar; once the upload is complete, the bar keeps the upload's own
    /// rate (drawn later, indicatif would divide by the whole wait).
    pub fn upload(&self, p: &Progress) {
        // A form of text goes out in a blink: a bar for a few hundred bytes says nothing.
        if p.total.is_some_and(|total| total < SMALL_UPLOAD) {
            return;
        }
        if self.lines.is_some() {
            if p.is_complete() {
                self.line(&format!("upload done ({})", indicatif::HumanBytes(p.done)));
            }
            return;
        }
        let mut upload = self.upload.lock().unwrap();
        let bar = upload.get_or_insert_with(|| match p.total {
            Some(_) => self.bar("upload"),
            // A stream of unknown length: its bytes and rate, never a bar that claims 100%.
            None => self.open_ended("upload"),
        });
        if p.total.is_some() {
            bar.set_length(p.total.unwrap_or(p.done));
        }
        bar.set_position(p.done);
        if p.is_complete() {
            freeze(bar, p.done, self.narrow);
            drop(upload);
            // Nothing moves until the pod answers: say what is awaited.
            self.status("upload done, waiting for the pod to accept the run");
        }
    }

    /// Shows `message` on the spinner (made if there is none yet): what the tool waits for
    /// when no bar moves (the catalog, the pod's answer to a submission).
    /// Stops drawing every bar (what is on screen stays): a signal's notes come next, and
    /// must not be drawn over.
    pub fn silence(&self) {
        self.multi.set_draw_target(ProgressDrawTarget::hidden());
    }

    pub fn status(&self, message: &str) {
        // Off a terminal the phases before the run are said by its events, not here.
        if self.lines.is_some() {
            return;
        }
        let mut spinner = self.spinner.lock().unwrap();
        let spinner = spinner.get_or_insert_with(|| self.spinner());
        spinner.set_message(message.to_owned());
    }

    fn spinner(&self) -> ProgressBar {
        // The time since the wait began, from the first moment.
        let style = ProgressStyle::with_template("{spinner} {wide_msg} ({elapsed})")
            .expect("a valid template");
        let s = self.multi.add(ProgressBar::new_spinner().with_style(style));
        s.enable_steady_tick(Duration::from_millis(120));
        s
    }

    /// Moves one download's bar.
    pub fn download(&self, p: &Progress) {
        if let Transfer::Download { name, .. } = &p.transfer {
            let mut downloads = self.downloads.lock().unwrap();
            let fresh = !downloads.contains_key(name);
            let bar = downloads
                .entry(name.clone())
                .or_insert_with(|| self.bar(name));
            bar.set_length(p.total.unwrap_or(p.done));
            bar.set_position(p.done);
            if fresh && p.done > 0 {
                // Bytes kept from an earlier try: where the bar starts, not speed.
                bar.reset_eta();
            }
            if p.is_complete() {
                freeze(bar, p.done, self.narrow);
            }
        }
    }

    /// Says a change of state as a line (off a terminal), with the time since the start.
    fn line(&self, what: &str) {
        if let Some(start) = self.lines {
            let secs = start.elapsed().as_secs();
            crate::output::note(format_args!("[{:02}:{:02}] {what}", secs / 60, secs % 60));
        }
    }

    /// Shows a wait's progress on the spinner (off a terminal: a line per change).
    pub fn event(&self, event: &RunEvent) {
        if self.lines.is_some() {
            match event {
                RunEvent::Submitted { .. }
                | RunEvent::StatusChanged { .. }
                | RunEvent::OutputReady { .. }
                | RunEvent::Finished { .. } => self.line(&event.to_string()),
                _ => {}
            }
            return;
        }
        let mut spinner = self.spinner.lock().unwrap();
        let spinner = spinner.get_or_insert_with(|| {
            // A status before the first poll has one.
            let s = self.spinner();
            s.set_message("run submitted, waiting for its status");
            s
        });
        match event {
            RunEvent::Submitted { .. } => spinner.set_message("run is submitted"),
            RunEvent::StatusChanged { status, .. } => {
                spinner.set_message(format!("run is {status}"))
            }
            RunEvent::OutputReady { name, .. } => spinner.set_message(format!("{name} is ready")),
            RunEvent::Retrying { error, .. } => spinner.set_message(format!("retrying: {error}")),
            _ => {}
        }
    }

    /// Ends every bar and the spinner, leaving the bars on screen.
    pub fn finish(&self) {
        if let Some(s) = self.spinner.lock().unwrap().take() {
            s.finish_and_clear();
        }
        if let Some(b) = self.upload.lock().unwrap().as_ref() {
            b.finish();
        }
        for bar in self.downloads.lock().unwrap().values() {
            bar.finish();
        }
    }
}

/// Uploads smaller than this get no bar.
const SMALL_UPLOAD: u64 = 64 * 1024;

/// Ends a complete transfer's bar with its own average rate: drawn later, indicatif would
/// go on dividing by a time that keeps growing, and show a rate that falls for nothing.
fn freeze(bar: &ProgressBar, done: u64, narrow: bool) {
    if bar.is_finished() {
        return;
    }
    let secs = bar.elapsed().as_secs_f64().max(1e-3);
    let rate = indicatif::HumanBytes((done as f64 / secs) as u64);
    if let Ok(style) = ProgressStyle::with_template(&template(narrow, &format!("{rate}/s"))) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.finish();
}

/// A bar's template: the label, the bar and, where there is room, the bytes and `rate`.
fn template(narrow: bool, rate: &str) -> String {
    match narrow {
        true => "{msg:>12!} [{wide_bar}] {percent:>3}%".to_owned(),
        false if rate == "{bytes_per_sec}" => {
            "{msg:>20!} [{wide_bar}] {bytes}/{total_bytes} {bytes_per_sec} {eta}".to_owned()
        }
        false => format!("{{msg:>20!}} [{{wide_bar}}] {{bytes}}/{{total_bytes}} {rate}"),
    }
}

/// The width of the terminal on stderr, when it is one.
fn stderr_width() -> Option<u16> {
    terminal_width(2)
}

/// The width of the terminal on stdout, when it is one (a table for people fits it).
pub fn stdout_width() -> Option<u16> {
    terminal_width(1)
}

/// The width of the terminal on file descriptor `fd`, when it is one.
fn terminal_width(fd: i32) -> Option<u16> {
    #[cfg(unix)]
    {
        // SAFETY: TIOCGWINSZ fills the `winsize` it is given, and touches nothing else.
        #[allow(unsafe_code)]
        unsafe {
            let mut size: libc::winsize = std::mem::zeroed();
            if libc::ioctl(fd, libc::TIOCGWINSZ, &mut size) == 0 && size.ws_col > 0 {
                return Some(size.ws_col);
            }
        }
        None
    }
    #[cfg(not(unix))]
    {
        let _ = fd;
        None
    }
}

/// `text` in a table column `width` terminal cells wide: cut with `…` when wider, padded
/// with spaces when narrower. Cells, not characters: a CJK character takes two, a
/// combining mark none.
pub fn cell(text: &str, width: usize) -> String {
    use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};
    let whole = text.width();
    if whole <= width {
        return format!("{text}{}", " ".repeat(width - whole));
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    if width > 0 {
        out.push('…');
        used += 1;
    }
    out.push_str(&" ".repeat(width.saturating_sub(used)));
    out
}

/// A label that fits the bars' column of `width` characters.
fn short(label: &str, width: usize) -> String {
    let count = label.chars().count();
    if count <= width {
        label.to_owned()
    } else {
        // The start (a name: `filename_prefix`, `preview`) and the end (the random tail that
        // tells two outputs of one name apart), the middle cut.
        let tail_len = (width.saturating_sub(1) / 3).min(width.saturating_sub(1));
        let head_len = width.saturating_sub(1 + tail_len);
        let head: String = label.chars().take(head_len).collect();
        let tail: String = label.chars().skip(count - tail_len).collect();
        format!("{head}…{tail}")
    }
}

#[cfg(test)]
mod tests {
    use super::{cell, short};

    #[test]
    fn cells_are_measured_in_terminal_columns() {
        assert_eq!(cell("run", 5), "run  ");
        // Two columns a character: three fit in six.
        assert_eq!(cell("猫の画像", 6), "猫の… ");
        assert_eq!(cell("猫の", 6), "猫の  ");
        assert_eq!(cell("abcdefgh", 5), "abcd…");
        assert_eq!(cell("abc", 0), "");
    }

    #[test]
    fn a_label_keeps_the_start_of_a_name_and_its_tail() {
        let a = short("filename_prefix_58359_BW90UKB3Z9", 20);
        let b = short("preview_58359_7XLEZQ31AB", 20);
        assert_eq!(a.chars().count(), 20, "{a}");
        assert!(
            a.starts_with("filename_pref") && a.ends_with("UKB3Z9"),
            "{a}"
        );
        assert!(b.starts_with("preview_"), "{b}");
        assert_eq!(short("image", 20), "image");
        assert_eq!(short("abcdefghijklmnop", 12).chars().count(), 12);
        // Never a panic, however small the room.
        let _ = short("abcdef", 1);
        let _ = short("abcdef", 0);
    }
}
