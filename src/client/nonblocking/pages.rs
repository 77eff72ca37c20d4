//! Walking every page of runs as a `Stream` (async client only).

use futures_core::Stream;
use futures_util::stream;

use super::Client;
use crate::decide::paging::Pager;
use crate::wire::error::Result;
use crate::wire::query::RunsQuery;
use crate::wire::types::Run;

impl Client {
    /// Every run matching `query`, page after page, fetched as the stream is polled (from
    /// the query's page on). A failed page is yielded as an error and ends the stream.
    ///
    /// ```no_run
    /// use futures_util::StreamExt;
    /// use flowscale::RunsQuery;
    /// # async fn f() -> flowscale::Result<()> {
    /// # let client = flowscale::AsyncClient::new("key", "https://pod.example")?;
    /// let mut runs = std::pin::pin!(client.runs(RunsQuery::new().page_size(100)));
    /// while let Some(run) = runs.next().await {
    ///     let run = run?;
    ///     println!("{} {}", run.id.as_deref().unwrap_or("-"), run.status);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn runs(&self, query: RunsQuery) -> impl Stream<Item = Result<Run>> + Send + '_ {
        stream::unfold(
            (self, Pager::new(query)),
            |(client, mut pager)| async move {
                loop {
                    if let Some(run) = pager.pop() {
                        return Some((Ok(run), (client, pager)));
                    }
                    let query = pager.take_query()?;
                    match client.runs_page(&query).await {
                        Ok(page) => pager.absorb(query, page),
                        Err(e) => return Some((Err(e), (client, pager))),
                    }
                }
            },
        )
    }
}
