//! Finding the run of a submission whose answer was lost, written once and compiled into
//! both clients: the runs FlowScale lists, newest first, back to the send time (less a
//! slack for clocks). What they say is decided in `decide::plan::match_lost`, without I/O.

use super::{Client, maybe_async};
use crate::decide::plan::{self, LostMatch};
use crate::wire::error::Result;
use crate::wire::query::{MAX_PAGE_SIZE, RunsQuery, SortBy, SortOrder};
use crate::wire::types::Run;

/// Now, in seconds since the epoch (0 for a clock before 1970): when a submission is sent.
/// Read here, by the client, and handed to the decisions as a value.
pub(super) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The runs listed since a send time: oldest first, and whether the list reaches back past
/// it (else a run not found may be further back than was read).
pub(crate) struct Listed {
    pub runs: Vec<Run>,
    pub reached_back: bool,
}

#[maybe_async]
impl Client {
    /// The runs created since `sent_at` (seconds since the epoch) less the clock slack, in
    /// `group_id` when given: at most [`plan::LOST_SUBMISSION_PAGES`] pages.
    pub(super) async fn runs_since(&self, group_id: Option<&str>, sent_at: u64) -> Result<Listed> {
        let floor = sent_at.saturating_sub(plan::LOST_SUBMISSION_SLACK_SECS);
        let mut query = RunsQuery::new()
            .sort_by(SortBy::CreatedAt)
            .sort_order(SortOrder::Desc)
            .page_size(MAX_PAGE_SIZE);
        if let Some(group) = group_id {
            query = query.group_id(group.to_owned());
        }
        let mut runs = Vec::new();
        let mut reached_back = false;
        for page in 1..=plan::LOST_SUBMISSION_PAGES {
            let listed = self.runs_page(&query.clone().page(page)).await?.runs;
            let full = listed.len() >= MAX_PAGE_SIZE as usize;
            reached_back = !full
                || listed
                    .iter()
                    .any(|r| plan::created_secs(r).is_some_and(|t| t < floor));
            runs.extend(listed);
            if reached_back {
                break;
            }
        }
        runs.reverse();
        Ok(Listed { runs, reached_back })
    }

    /// The run of one lost submission, as `match_lost` judges it against the runs listed;
    /// a list that cannot be read is a doubt.
    pub(super) async fn find_lost_run(
        &self,
        workflow_id: &str,
        group_id: Option<&str>,
        fields: &[(String, String)],
        sent_at: u64,
    ) -> LostMatch {
        match self.runs_since(group_id, sent_at).await {
            Ok(listed) => plan::match_lost(
                &listed.runs,
                workflow_id,
                fields,
                sent_at,
                &Default::default(),
                listed.reached_back,
            ),
            Err(e) => LostMatch::Doubt(format!("the runs could not be listed to find it ({e})")),
        }
    }
}
