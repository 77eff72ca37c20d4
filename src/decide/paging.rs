//! Walking the pages of runs: the bookkeeping shared by the run iterator (`Client::runs`)
//! and the run stream (`AsyncClient::runs`): which page to ask for next, and when to stop.

use std::collections::VecDeque;

use crate::wire::query::RunsQuery;
use crate::wire::types::{Run, RunPage};

/// Walks pages: hands out the next query, takes each page, yields runs one by one, and
/// stops after the last page (by `meta.total_pages`, or a short or empty page on servers
/// that send no meta).
#[derive(Debug)]
pub(crate) struct Pager {
    next: Option<RunsQuery>,
    buffered: VecDeque<Run>,
}

impl Pager {
    pub fn new(query: RunsQuery) -> Self {
        Pager {
            next: Some(query),
            buffered: VecDeque::new(),
        }
    }

    /// The next run already fetched, if any.
    pub fn pop(&mut self) -> Option<Run> {
        self.buffered.pop_front()
    }

    /// The query for the next page, or `None` when every page was seen. Taking it marks it
    /// as in flight: call [`Pager::absorb`] with its answer, or nothing more is fetched.
    pub fn take_query(&mut self) -> Option<RunsQuery> {
        self.next.take()
    }

    /// Takes the answer to the query last taken.
    pub fn absorb(&mut self, query: RunsQuery, page: RunPage) {
        let got = page.runs.len();
        let more = match page.meta.as_ref().and_then(|m| m.total_pages) {
            Some(total) => query.page < total && got > 0,
            None => got >= query.page_size as usize && got > 0,
        };
        self.buffered.extend(page.runs);
        // The last page number there is ends the walk, whatever the server says.
        if let Some(page) = query.page.checked_add(1).filter(|_| more) {
            self.next = Some(RunsQuery { page, ..query });
        }
    }
}
