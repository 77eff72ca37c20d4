//! What the tool shows while it works: an upload bar, a spinner with the run's status,
//! download bars. All on stderr, and only when stderr is a terminal and the output mode
//! is for people (not `--json` or `--quiet`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flowscale::{Progress, RunEvent, Transfer};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bars of one command.
#[derive(Clone)]
pub struct Bars {
    multi: MultiProgress,
    downloads: Arc<Mutex<HashMap<String, ProgressBar>>>,
    upload: Arc<Mutex<Option<ProgressBar>>>,
    spinner: Arc<Mutex<Option<ProgressBar>>>,
}

impl Bars {
    /// Bars that draw on stderr when `shown` and stderr is a terminal; nothing otherwise.
    pub fn new(shown: bool) -> Self {
        let target = if shown {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Bars {
            multi: MultiProgress::with_draw_target(target),
            downloads: Arc::default(),
            upload: Arc::default(),
            spinner: Arc::default(),
        }
    }

    fn bar(&self, label: &str) -> ProgressBar {
        let style = ProgressStyle::with_template(
            "{msg:>28} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
        )
        .expect("a valid template")
        .progress_chars("=> ");
        let bar = self.multi.add(ProgressBar::new(0).with_style(style));
        bar.set_message(short(label));
        bar
    }

    /// Prints a result line on stdout without tearing the bars.
    pub fn println(&self, line: &str) {
        self.multi.suspend(|| crate::output::line(line));
    }

    /// Moves the upload bar; once the upload is complete, the bar keeps the upload's own
    /// rate (drawn later, indicatif would divide by the whole wait).
    pub fn upload(&self, p: &Progress) {
        let mut upload = self.upload.lock().unwrap();
        let bar = upload.get_or_insert_with(|| self.bar("upload"));
        bar.set_length(p.total.unwrap_or(p.done));
        bar.set_position(p.done);
        if p.is_complete() && !bar.is_finished() {
            let secs = bar.elapsed().as_secs_f64().max(1e-3);
            let rate = indicatif::HumanBytes((p.done as f64 / secs) as u64);
            let template = format!("{{msg:>28}} [{{bar:30}}] {{bytes}}/{{total_bytes}} {rate}/s");
            if let Ok(style) = ProgressStyle::with_template(&template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.finish();
        }
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
        }
    }

    /// Shows a wait's progress on the spinner.
    pub fn event(&self, event: &RunEvent) {
        let mut spinner = self.spinner.lock().unwrap();
        let spinner = spinner.get_or_insert_with(|| {
            // The time since the wait began, from the first moment, and a status before
            // the first poll has one.
            let style = ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .expect("a valid template");
            let s = self.multi.add(ProgressBar::new_spinner().with_style(style));
            s.set_message("run submitted, waiting for its status");
            s.enable_steady_tick(Duration::from_millis(120));
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

/// A label that fits the bars' column.
fn short(label: &str) -> String {
    let count = label.chars().count();
    if count <= 28 {
        label.to_owned()
    } else {
        let tail: String = label.chars().skip(count - 27).collect();
        format!("…{tail}")
    }
}
