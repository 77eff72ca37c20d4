//! Running a batch's jobs as concurrent futures (async client).

use futures_util::StreamExt;

use super::Client;
use crate::batch::{BatchRun, JobOutcome, Prepared};

impl Client {
    /// Runs up to `run.concurrency` jobs at once; outcomes in job order.
    pub(crate) async fn run_jobs(&self, run: &BatchRun, jobs: Vec<Prepared>) -> Vec<JobOutcome> {
        let mut outcomes: Vec<(usize, JobOutcome)> = futures_util::stream::iter(jobs)
            .map(|job| async move { (job.index, self.run_job(run, job).await) })
            .buffer_unordered(run.concurrency)
            .collect()
            .await;
        outcomes.sort_by_key(|(index, _)| *index);
        outcomes.into_iter().map(|(_, outcome)| outcome).collect()
    }
}
