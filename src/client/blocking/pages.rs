//! Walking every page of runs as an `Iterator` (blocking client only).

use super::Client;
use crate::decide::paging::Pager;
use crate::wire::error::Result;
use crate::wire::query::RunsQuery;
use crate::wire::types::Run;

impl Client {
    /// Every run matching `query`, page after page, fetched as the iterator advances
    /// (from the query's page on). A failed page is yielded as an error and ends the walk.
    ///
    /// ```no_run
    /// use flowscale::RunsQuery;
    /// # let client = flowscale::Client::new("key", "https://pod.example")?;
    /// for run in client.runs(RunsQuery::new().group_id("batch_001").page_size(100)) {
    ///     let run = run?;
    ///     println!("{} {}", run.id.as_deref().unwrap_or("-"), run.status);
    /// }
    /// # Ok::<(), flowscale::Error>(())
    /// ```
    pub fn runs(&self, query: RunsQuery) -> RunsIter<'_> {
        RunsIter {
            client: self,
            pager: Pager::new(query),
        }
    }
}

/// The iterator returned by [`Client::runs`].
#[derive(Debug)]
#[must_use = "iterators do nothing unless advanced"]
pub struct RunsIter<'a> {
    client: &'a Client,
    pager: Pager,
}

impl Iterator for RunsIter<'_> {
    type Item = Result<Run>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(run) = self.pager.pop() {
                return Some(Ok(run));
            }
            let query = self.pager.take_query()?;
            match self.client.runs_page(&query) {
                Ok(page) => self.pager.absorb(query, page),
                Err(e) => return Some(Err(e)),
            }
        }
    }
}
