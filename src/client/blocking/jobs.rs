//! Running a batch's jobs on a few threads at once (blocking client).

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use super::Client;
use crate::batch::{BatchRun, JobOutcome, Prepared};

impl Client {
    /// Runs the jobs on up to `run.concurrency` threads; outcomes in job order.
    pub(crate) fn run_jobs(&self, run: &BatchRun, jobs: Vec<Prepared>) -> Vec<JobOutcome> {
        let total = jobs.len();
        let queue = Mutex::new(jobs.into_iter().collect::<VecDeque<_>>());
        let outcomes = Mutex::new(vec![None; total]);
        std::thread::scope(|scope| {
            for _ in 0..run.concurrency.min(total) {
                scope.spawn(|| {
                    loop {
                        let next = queue
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .pop_front();
                        let Some(job) = next else { break };
                        let index = job.index;
                        let outcome = self.run_job(run, job);
                        outcomes.lock().unwrap_or_else(PoisonError::into_inner)[index] =
                            Some(outcome);
                    }
                });
            }
        });
        outcomes
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
            .into_iter()
            .flatten()
            .collect()
    }
}
