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
        let target = if shown && !crate::output::dumb_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Bars {
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
        let mut upload = self.upload.lock().unwrap();
        let bar = upload.get_or_insert_with(|| self.bar("upload"));
        bar.set_length(p.total.unwrap_or(p.done));
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
            let bar = downloads
                .entry(name.clone())
                .or_insert_with(|| self.bar(name));
            bar.set_length(p.total.unwrap_or(p.done));
            bar.set_position(p.done);
            if p.is_complete() {
                freeze(bar, p.done, self.narrow);
            }
        }
    }

    /// Shows a wait's progress on the spinner.
    pub fn event(&self, event: &RunEvent) {
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

/// A label that fits the bars' column of `width` characters.
fn short(label: &str, width: usize) -> String {
    let count = label.chars().count();
    if count <= width {
        label.to_owned()
    } else {
        let tail: String = label.chars().skip(count + 1 - width).collect();
        format!("…{tail}")
    }
}
