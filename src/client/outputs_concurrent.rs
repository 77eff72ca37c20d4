//! Asking for several outputs at once (async client).

use std::time::Instant;

use futures_util::future::join_all;

use super::Client;
use crate::error::Result;
use crate::types::Output;

impl Client {
    /// `get_output` for each name, concurrently, each answered by `deadline`; answers in
    /// the order of `names`.
    pub(crate) async fn fetch_outputs(
        &self,
        names: Vec<String>,
        deadline: Option<Instant>,
    ) -> Vec<(String, Result<Option<Output>>)> {
        join_all(names.into_iter().map(|name| async move {
            let answer = self.fetch_output(&name, deadline).await;
            (name, answer)
        }))
        .await
    }
}
