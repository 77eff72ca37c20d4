//! `flowscale`: the FlowScale API from a shell (feature `cli`).
//!
//! ```sh
//! cargo install flowscale --features cli
//! flowscale run bncu0a1kipv -i text_51536="a cat" -i image_35728=@cat.png -o out/
//! ```
//!
//! Results go to stdout (lines, or one JSON document with `--json`); bars, the spinner and
//! errors to stderr. Exit codes are in `exit.rs` and `flowscale --help`.

mod args;
mod batch_command;
mod catalog;
mod commands;
mod credentials;
mod display;
mod events;
mod exit;
mod inputs;
mod interrupt;
mod lock;
mod login;
mod output;
mod pod_choice;
mod profiles;
mod resume;
mod secret;
mod write_file;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use args::Cli;
use args::Command;
use exit::Failure;
use output::Mode;

fn main() -> ExitCode {
    // A bug must still end in one `error:` line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        output::note(format_args!(
            "error: internal error in flowscale (please report it): {info}"
        ));
    }));
    // clap colours its help and errors by its own reading of the terminal: never on a
    // dumb one.
    let cli = match output::dumb_terminal() {
        true => <Cli as clap::FromArgMatches>::from_arg_matches(
            &Cli::command().color(clap::ColorChoice::Never).get_matches(),
        )
        .unwrap_or_else(|e| e.exit()),
        false => Cli::parse(),
    };
    let mode = if cli.command.events() {
        Mode::Events
    } else if cli.json {
        Mode::Json
    } else if cli.quiet {
        Mode::Quiet
    } else {
        Mode::Human
    };
    // Ctrl-C never loses a submission on the wire, and says how to resume.
    interrupt::install(mode);
    // A closed stdout never abandons a paid run: these finish their work first.
    if matches!(
        cli.command,
        Command::Run(_) | Command::Wait(_) | Command::Download { .. } | Command::Batch(_)
    ) {
        output::keep_going_if_closed();
    }
    let outcome = execute(cli, mode);
    if let Err(failure) = &outcome {
        report(failure, mode);
    }
    if output::stdout_was_closed() {
        return ExitCode::from(output::EXIT_CLOSED_STDOUT as u8);
    }
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => ExitCode::from(failure.code as u8),
    }
}

fn execute(cli: Cli, mode: Mode) -> Result<(), Failure> {
    // The commands that need no pod.
    #[cfg(feature = "mock")]
    let pod_option = cli.pod_option_given();
    match cli.command {
        #[cfg(feature = "mock")]
        Command::Mock {
            port,
            shapes,
            run_time,
            output_size,
            latency,
            hold_answers,
            fault,
            failure_rate,
            not_for_mock,
        } => {
            // Given before `mock` they are the global ones, after it the hidden ones.
            if let Some(flag) = not_for_mock.given().or(pod_option) {
                return Err(Failure::usage(
                    format!("`flowscale mock` takes only its own options, not {flag}"),
                    "see `flowscale mock --help`",
                ));
            }
            let demo = Demo {
                run_time,
                output_size,
                latency,
                hold_answers,
                faults: fault,
                failure_rate,
            };
            return serve_simulator(port, shapes, demo);
        }
        Command::Completions { shell } => return completions(shell),
        // The one schema CI checks every document and event of the tool against.
        Command::Schema => {
            output::line(include_str!("schema.json").trim_end());
            return Ok(());
        }
        Command::Login => {
            let key = login::LoginKey {
                api_key: cli.api_key,
                api_key_file: cli.api_key_file,
            };
            return login::login(cli.profile.as_deref(), cli.api_url, key, mode);
        }
        Command::Logout => return login::logout(cli.profile.as_deref(), mode),
        Command::Man { dir } => return manual(dir.as_deref(), mode),
        _ => {}
    }
    let given = credentials::Given {
        api_key: cli.api_key,
        api_key_file: cli.api_key_file,
        api_url: cli.api_url,
        profile: cli.profile,
    };
    if let Command::Profiles = cli.command {
        return login::list(mode, &given);
    }
    let pair = credentials::resolve(&given)?;
    // A `.env` in the current folder chose the pod: said, since it outranks a saved
    // default profile and nothing else on screen says which pod was used (stderr only).
    if let pod_choice::Place::DotEnv(path) = &pair.url_from {
        output::note(format_args!("note: using the pod {} from {path}", pair.url));
    }
    let mut builder = flowscale::Client::builder()
        .api_key(pair.key.expose())
        .base_url(pair.url);
    if let Some(timeout) = cli.response_timeout {
        builder = builder.response_timeout(timeout);
    }
    let client = builder.build()?;
    commands::run(&client, cli.command, mode).map_err(|f| hint_at_url_path(f, &client))
}

/// A pod answers its API at its root. A 404 from a URL with a path of its own (one copied
/// with `/api/v1` from the API docs, say) most likely means that path is the mistake.
fn hint_at_url_path(mut failure: Failure, client: &flowscale::Client) -> Failure {
    let path = client
        .base_url()
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('/'))
        .map_or("", |(_, path)| path.trim_end_matches('/'));
    // More telling than the generic not-found hint: that path is the likelier mistake.
    if !path.is_empty() && failure.message.contains("API error 404") {
        failure.hint = Some(format!(
            "the API URL ends in `/{path}`: FlowScale's is the pod's root, like \
             https://<pod-id>.pod.flowscale.ai"
        ));
    }
    failure
}

/// One `error:` line and a hint on stderr; with `--json`, the same as a JSON document on
/// stdout too, so that a script reading stdout learns the run id.
fn report(failure: &Failure, mode: Mode) {
    // A failure after a run was started is about that run, whatever the error knew.
    let run_id = failure.run_id.clone().or_else(interrupt::current_run);
    output::error(&failure.message);
    if let Some(hint) = &failure.hint {
        output::hint(hint);
    }
    // One error document: the words, what it concerns, and for scripts the exit code by
    // number and name, the run's status when it ended, and the hint.
    let doc = serde_json::json!({
        "error": failure.message,
        "run_id": run_id,
        "exit_code": failure.code,
        "code": exit::code_name(failure.code),
        "status": failure.status,
        "hint": failure.hint,
    });
    if mode == Mode::Events {
        output::event("failed", doc);
    } else if mode == Mode::Json && !failure.result_printed {
        output::line(output::versioned(&doc));
    }
}

/// `flowscale completions SHELL`: the completion script, from the same clap definition the
/// tool parses with, so it never falls behind.
fn completions(shell: clap_complete::Shell) -> Result<(), Failure> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "flowscale", &mut out);
    output::line(String::from_utf8_lossy(&out).trim_end());
    Ok(())
}

/// One manual page in roff: clap_mangen's sections, then the examples and the exit codes
/// (`extra`) as written, line for line (roff would fill them into one paragraph).
fn man_page(page: clap::Command, extra: &str) -> std::io::Result<Vec<u8>> {
    let page = page.after_help(None::<&'static str>);
    let mut roff = Vec::new();
    clap_mangen::Man::new(page).render(&mut roff)?;
    roff.extend_from_slice(b".SH EXTRA\n.nf\n");
    for line in extra.trim().lines() {
        // A backslash is roff's escape; a line starting with `.` or `'` would be a request.
        let line = line.replace('\\', "\\e");
        if line.starts_with('.') || line.starts_with('\'') {
            roff.extend_from_slice(b"\\&");
        }
        roff.extend_from_slice(line.as_bytes());
        roff.push(b'\n');
    }
    roff.extend_from_slice(b".fi\n");
    Ok(roff)
}

/// `flowscale man`: the manual pages in roff, from the clap definition: the tool's, then
/// one per command (`flowscale-run(1)`...) with all its options, examples and the exit
/// codes; printed one after the other, or written into `dir` one file each.
fn manual(dir: Option<&std::path::Path>, mode: Mode) -> Result<(), Failure> {
    let failed = |what: String, e: std::io::Error| Failure {
        message: format!("the manual could not be written: {what}: {e}"),
        hint: None,
        run_id: None,
        code: exit::EXIT_FAILED,
        result_printed: false,
        status: None,
    };
    let mut top = Cli::command();
    top.build();
    let top_after = top
        .get_after_help()
        .map(|h| h.to_string())
        .unwrap_or_default();
    let mut pages = vec![("flowscale".to_owned(), top.clone(), top_after.clone())];
    for sub in top.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("flowscale-{}", sub.get_name());
        // The page of a command: its own options, the global ones, its examples (its
        // `after_help`), and the tool's exit codes.
        let after = sub
            .get_after_help()
            .map(|h| h.to_string())
            .unwrap_or_default();
        let codes = top_after.split_once("Exit codes:").map_or("", |(_, c)| c);
        // clap names are `&'static str` without its `string` feature: a few short names,
        // for a process that ends after printing them.
        let leak = |text: String| -> &'static str { Box::leak(text.into_boxed_str()) };
        let page = sub
            .clone()
            .name(leak(name.clone()))
            .bin_name(leak(format!("flowscale {}", sub.get_name())));
        pages.push((name, page, format!("{after}\n\nExit codes:{codes}")));
    }
    // Only the folder itself is made: a mistyped path is an error, not a tree of folders.
    if let Some(dir) = dir
        && !dir.is_dir()
    {
        std::fs::create_dir(dir).map_err(|e| failed(dir.display().to_string(), e))?;
    }
    let mut written = Vec::new();
    let mut all = Vec::new();
    let mut docs = Vec::new();
    for (name, page, extra) in pages {
        let roff = man_page(page, &extra).map_err(|e| failed(name.clone(), e))?;
        match dir {
            Some(dir) => {
                let path = dir.join(format!("{name}.1"));
                std::fs::write(&path, &roff).map_err(|e| failed(path.display().to_string(), e))?;
                written.push(path.display().to_string());
            }
            None if mode == Mode::Json => docs.push(serde_json::json!({
                "name": name,
                "roff": String::from_utf8_lossy(&roff),
            })),
            None => all.extend(roff),
        }
    }
    if dir.is_none() && mode == Mode::Json {
        return output::emit(mode, &serde_json::json!({"pages": docs}), Vec::new);
    }
    match dir {
        Some(_) => output::emit(mode, &serde_json::json!({"pages": written}), || {
            written.clone()
        }),
        None => {
            output::line(String::from_utf8_lossy(&all).trim_end());
            Ok(())
        }
    }
}

/// How `flowscale mock`'s demo workflows behave, when not as `demo_workflows` has them.
#[cfg(feature = "mock")]
struct Demo {
    run_time: Option<std::time::Duration>,
    output_size: Option<usize>,
    latency: Option<std::time::Duration>,
    hold_answers: Option<std::time::Duration>,
    faults: Vec<args::MockFault>,
    failure_rate: f64,
}

/// `flowscale mock`: the simulator with its demo workflows, until Ctrl-C.
#[cfg(feature = "mock")]
fn serve_simulator(port: u16, shapes: flowscale::mock::Shapes, demo: Demo) -> Result<(), Failure> {
    use flowscale::mock::{MockServer, demo_workflows};
    let server = MockServer::start_on(&format!("127.0.0.1:{port}")).map_err(|e| Failure {
        message: format!("could not start the simulator on port {port}: {e}"),
        hint: Some("choose another port with --port".to_owned()),
        run_id: None,
        code: exit::EXIT_FAILED,
        result_printed: false,
        status: None,
    })?;
    server.serve_shapes(shapes);
    server.set_failure_rate(demo.failure_rate);
    if let Some(latency) = demo.latency {
        server.set_latency(latency);
    }
    for f in demo.faults {
        server.fail_next(f.route, f.times, f.fault);
    }
    if let Some(hold) = demo.hold_answers {
        server.fail_next(
            flowscale::mock::Route::Execute,
            u32::MAX,
            flowscale::mock::Fault::DelayAnswer(hold),
        );
    }
    let mut names = Vec::new();
    for mut workflow in demo_workflows() {
        names.push(workflow.id().to_owned());
        if let Some(d) = demo.run_time {
            workflow = workflow.duration(d);
        }
        if let Some(bytes) = demo.output_size {
            workflow = workflow.output_size(bytes);
        }
        server.register(workflow);
    }
    output::note(format_args!(
        "FlowScale simulator on {} (Ctrl-C to stop)",
        server.url()
    ));
    output::note(format_args!("workflows: {}", names.join(", ")));
    output::note("in another shell:");
    output::line(format_args!(
        "export {}={}",
        flowscale::constants::ENV_API_URL,
        server.url()
    ));
    output::line(format_args!(
        "export {}={}",
        flowscale::constants::ENV_API_KEY,
        server.api_key()
    ));
    loop {
        std::thread::park();
    }
}
