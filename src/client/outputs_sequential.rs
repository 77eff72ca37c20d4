//! Asking for several outputs, one after the other (blocking client).

use super::Client;
use crate::error::Result;
use crate::types::Output;

impl Client {
    /// `get_output` for each name, in order.
    pub(crate) fn get_outputs(&self, names: Vec<String>) -> Vec<(String, Result<Option<Output>>)> {
        names
            .into_iter()
            .map(|name| {
                let answer = self.get_output(&name);
                (name, answer)
            })
            .collect()
    }
}
