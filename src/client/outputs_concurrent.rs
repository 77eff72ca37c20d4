//! Asking for several outputs at once (async client).

use futures_util::future::join_all;

use super::Client;
use crate::error::Result;
use crate::types::Output;

impl Client {
    /// `get_output` for each name, concurrently; answers in the order of `names`.
    pub(crate) async fn get_outputs(
        &self,
        names: Vec<String>,
    ) -> Vec<(String, Result<Option<Output>>)> {
        join_all(names.into_iter().map(|name| async move {
            let answer = self.get_output(&name).await;
            (name, answer)
        }))
        .await
    }
}
