//! Asking for several outputs, one after the other (blocking client).

use std::time::Instant;

use super::Client;
use crate::error::Result;
use crate::types::Output;

impl Client {
    /// `get_output` for each name, in order, each answered by `deadline`.
    pub(crate) fn fetch_outputs(
        &self,
        names: Vec<String>,
        deadline: Option<Instant>,
    ) -> Vec<(String, Result<Option<Output>>)> {
        names
            .into_iter()
            .map(|name| {
                let answer = self.fetch_output(&name, deadline);
                (name, answer)
            })
            .collect()
    }
}
