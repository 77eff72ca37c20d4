//! The simulator as a server: [`MockServer`] starts it on a loopback port, tells it what
//! to do, and reads what it recorded.

use std::net::TcpListener;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use super::state::{self, State};
use super::vocabulary::{
    DEFAULT_API_KEY, Fault, MockWorkflow, RecordedRequest, Route, Shapes, StoredRunInfo,
};
use super::{control, routes};

/// A running simulator. Stops when dropped.
pub struct MockServer {
    url: String,
    state: Arc<Mutex<State>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl MockServer {
    /// Starts a simulator on a free loopback port, expecting [`DEFAULT_API_KEY`], with the
    /// demo catalog ([`demo_workflows`](crate::mock::demo_workflows)), as `flowscale mock`
    /// has it. [`MockServer::start_empty`] starts one with no workflow.
    ///
    /// Panics if no port can be bound; use [`MockServer::start_on`] to handle that.
    pub fn start() -> Self {
        let server = Self::start_empty();
        for workflow in super::vocabulary::demo_workflows() {
            server.register(workflow);
        }
        server
    }

    /// Starts a simulator with no workflow registered (register your own with
    /// [`MockServer::register`]).
    ///
    /// Panics if no port can be bound; use [`MockServer::start_on`] to handle that.
    pub fn start_empty() -> Self {
        Self::start_on("127.0.0.1:0").expect("could not start the FlowScale simulator")
    }

    /// Starts a simulator on `addr` (`"127.0.0.1:8080"`, or port 0 for a free one).
    pub fn start_on(addr: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let url = format!("http://{}", listener.local_addr()?);
        let state = Arc::new(Mutex::new(State::new(DEFAULT_API_KEY.into(), url.clone())));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        // FlowScale's routes, and the simulator's own (its catalog edited over HTTP).
        let app = routes::router(state.clone()).merge(control::router(state.clone()));
        // The runtime and the listener are set up here, so that a failure is returned
        // to the caller instead of dying quietly on the background thread.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let listener = {
            let _entered = rt.enter();
            tokio::net::TcpListener::from_std(listener)
        };
        let listener = match listener {
            Ok(listener) => listener,
            Err(e) => {
                // Dropping a runtime inside another one (a #[tokio::test]) would panic.
                rt.shutdown_background();
                return Err(e);
            }
        };
        let thread = std::thread::Builder::new()
            .name("flowscale-mock".into())
            .spawn(move || {
                rt.block_on(async move {
                    tokio::select! {
                        r = axum::serve(listener, app) => {
                            if let Err(e) = r { eprintln!("flowscale mock stopped: {e}"); }
                        }
                        _ = rx => {}
                    }
                });
                rt.shutdown_background();
            })?;
        Ok(MockServer {
            url,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The base URL to give a client (`http://127.0.0.1:<port>`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The API key the simulator accepts.
    pub fn api_key(&self) -> String {
        self.state().api_key.clone()
    }

    /// Accept this key instead of [`DEFAULT_API_KEY`].
    pub fn set_api_key(&self, key: impl Into<String>) {
        self.state().api_key = key.into();
    }

    /// A blocking client for this simulator.
    #[cfg(feature = "blocking")]
    pub fn client(&self) -> crate::blocking::Client {
        crate::blocking::Client::new(self.api_key(), self.url())
            .expect("the simulator's URL is valid")
    }

    /// An async client for this simulator.
    #[cfg(feature = "async")]
    pub fn async_client(&self) -> crate::AsyncClient {
        crate::AsyncClient::new(self.api_key(), self.url()).expect("the simulator's URL is valid")
    }

    /// Adds (or replaces) a workflow.
    pub fn register(&self, workflow: MockWorkflow) -> &Self {
        self.state().workflows.insert(workflow.id.clone(), workflow);
        self
    }

    /// Removes the workflow with id `id`, as a redeploy that drops it would: the catalog
    /// no longer lists it and runs of it are refused. False if there was none.
    pub fn unregister(&self, id: &str) -> bool {
        self.state().workflows.remove(id).is_some()
    }

    /// Misbehave on the next `times` requests to `route`.
    pub fn fail_next(&self, route: Route, times: u32, fault: Fault) -> &Self {
        if times > 0 {
            self.state().faults.push(state::PendingFault {
                route,
                fault,
                remaining: times,
            });
        }
        self
    }

    /// Wait this long before every answer.
    pub fn set_latency(&self, latency: Duration) -> &Self {
        self.state().latency = latency;
        self
    }

    /// Which answer shapes to serve (default [`Shapes::Union`]).
    pub fn serve_shapes(&self, shapes: Shapes) -> &Self {
        self.state().shapes = shapes;
        self
    }

    /// `serve_shapes(Shapes::Legacy)` when `true`, back to the default
    /// [`Shapes::Union`] when `false`.
    pub fn serve_legacy_shapes(&self, legacy: bool) -> &Self {
        self.serve_shapes(if legacy {
            Shapes::Legacy
        } else {
            Shapes::Union
        })
    }

    /// The share of runs started from now on that fail, from 0 (the default: each as its
    /// workflow says) to 1 (all); which ones is fixed by their order, so a test sees the
    /// same runs fail every time.
    pub fn set_failure_rate(&self, rate: f64) -> &Self {
        self.state().failure_rate = if rate.is_nan() {
            0.0
        } else {
            rate.clamp(0.0, 1.0)
        };
        self
    }

    /// How many ComfyUI containers health and queue report (default 2).
    pub fn set_containers(&self, n: usize) -> &Self {
        self.state().containers = n.max(1);
        self
    }

    /// Downloads of outputs are sent `chunk` bytes at a time with `gap` between chunks (a
    /// slow link), from now on; `None` sends them at once again.
    pub fn throttle_downloads(&self, throttle: Option<(usize, Duration)>) -> &Self {
        self.state().download_throttle = throttle.map(|(chunk, gap)| (chunk.max(1), gap));
        self
    }

    /// The bytes the simulator serves for output `name` (with or without extension), once
    /// its run has completed; `None` for an output it does not know.
    pub fn output_bytes(&self, name: &str) -> Option<Vec<u8>> {
        let state = self.state();
        let (run, output) = state.run_with_output(name)?;
        Some(state::output_bytes(output, run.output_size))
    }

    /// Every run the simulator has created, oldest first.
    pub fn runs(&self) -> Vec<StoredRunInfo> {
        let state = self.state();
        let ids: Vec<String> = state.runs.iter().map(|r| r.id.clone()).collect();
        drop(state);
        ids.iter().filter_map(|id| self.run(id)).collect()
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests.clone()
    }

    /// A run as the simulator stored it.
    pub fn run(&self, run_id: &str) -> Option<StoredRunInfo> {
        let state = self.state();
        let now = std::time::Instant::now();
        state.run(run_id).map(|r| StoredRunInfo {
            id: r.id.clone(),
            workflow_id: r.workflow_id.clone(),
            group_id: r.group_id.clone(),
            status: r.status(now),
            fields: r.fields.clone(),
            files: r.files.clone(),
            output_names: r.outputs.clone(),
        })
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
