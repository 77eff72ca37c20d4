//! The line that resumes a run's work, as the tool prints it in hints and on the way out:
//! the same directory and saving options as the command that stopped, and `download` once
//! the run is complete (its outputs only need saving), `wait` while it may still run.

use std::path::Path;

use crate::args::WaitSettings;

/// `flowscale wait RUN -o DIR ...` for a run that may still be going, or
/// `flowscale download RUN -o DIR ...` for one that is complete: `--skip-existing` then
/// keeps the outputs saved already (unless `--overwrite` was asked), and the partial files
/// of the others are resumed.
pub fn line(run_id: &str, complete: bool, wait: &WaitSettings) -> String {
    let mut words = vec![
        "flowscale".to_owned(),
        if complete { "download" } else { "wait" }.to_owned(),
        run_id.to_owned(),
    ];
    if wait.output_dir != Path::new(".") {
        words.push("-o".to_owned());
        words.push(quoted(&wait.output_dir.display().to_string()));
    }
    if wait.no_download && !complete {
        words.push("--no-download".to_owned());
    }
    if wait.saving.overwrite {
        words.push("--overwrite".to_owned());
    } else if wait.saving.skip_existing || complete {
        words.push("--skip-existing".to_owned());
    }
    words.join(" ")
}

/// `flowscale download RUN -o DIR ...`, as a `download` that stopped resumes: the same
/// folder and saving option (the partial files are resumed, the files saved kept).
pub fn download_line(run_id: &str, dir: &Path, overwrite: bool) -> String {
    let mut line = format!("flowscale download {run_id}");
    if dir != Path::new(".") {
        line.push_str(&format!(" -o {}", quoted(&dir.display().to_string())));
    }
    line.push_str(if overwrite {
        " --overwrite"
    } else {
        " --skip-existing"
    });
    line
}

/// A word as a POSIX shell reads it back: bare when it is plain, else in single quotes.
fn quoted(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// A hint about `run_id` with the tool's generic resume (`flowscale wait RUN`, the
/// `RUN_ID` and `-o DIR` placeholders) made into this command's own line.
pub fn fill(hint: &str, run_id: &str, complete: bool, wait: &WaitSettings) -> String {
    let own = line(run_id, complete, wait);
    hint.replace(&format!("`flowscale wait {run_id}`"), &format!("`{own}`"))
        .replace("`flowscale wait RUN_ID -o DIR`", &format!("`{own}`"))
        .replace("RUN_ID", run_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::SaveSettings;

    fn settings(dir: &str, skip: bool, overwrite: bool) -> WaitSettings {
        WaitSettings {
            timeout: std::time::Duration::from_secs(600),
            poll: std::time::Duration::from_secs(2),
            output_dir: dir.into(),
            no_download: false,
            events: false,
            saving: SaveSettings {
                skip_existing: skip,
                overwrite,
            },
        }
    }

    #[test]
    fn the_line_keeps_the_directory_and_says_download_once_complete() {
        let out = settings("my outputs/run's", false, false);
        assert_eq!(
            line("r1", false, &out),
            r"flowscale wait r1 -o 'my outputs/run'\''s'"
        );
        assert_eq!(
            line("r1", true, &out),
            r"flowscale download r1 -o 'my outputs/run'\''s' --skip-existing"
        );
        assert_eq!(
            line("r1", true, &settings(".", false, true)),
            "flowscale download r1 --overwrite"
        );
        assert_eq!(
            fill(
                "the run goes on: resume with `flowscale wait r1`",
                "r1",
                false,
                &settings("o", true, false)
            ),
            "the run goes on: resume with `flowscale wait r1 -o o --skip-existing`"
        );
    }
}
