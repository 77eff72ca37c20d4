//! Downloading outputs, written once and compiled into both clients.

use std::path::Path;

use super::{Client, maybe_async, transport};
use crate::download;
use crate::error::Result;

#[maybe_async]
impl Client {
    /// Downloads `url` (an output's `download_url`) to the file `dest`, streaming, and
    /// returns the number of bytes written. The API key is not sent: download links are
    /// presigned.
    ///
    /// The bytes go to `<dest>.part` first, which is renamed to `dest` only once the whole
    /// body has arrived (and matched its `Content-Length`); on failure it is removed, so a
    /// partial download is never left looking complete.
    ///
    #[doc = example!(client {
        "# let result: flowscale::WorkflowResult = todo!();"
        "for out in &result.outputs {"
        "    let bytes = client.download(&out.download_url, format!(\"{}.png\", out.name))?;"
        "    println!(\"{}: {bytes} bytes\", out.name);"
        "}"
    } {
        "# let result: flowscale::WorkflowResult = todo!();"
        "for out in &result.outputs {"
        "    let bytes = client.download(&out.download_url, format!(\"{}.png\", out.name)).await?;"
        "    println!(\"{}: {bytes} bytes\", out.name);"
        "}"
    })]
    pub async fn download(&self, url: &str, dest: impl AsRef<Path>) -> Result<u64> {
        download::check_url(url)?;
        let dest = dest.as_ref().to_path_buf();
        download::check_dest(&dest)?;
        let (head, body) = transport::fetch(&self.http, url).await?;
        let partial = download::partial_path(&dest);
        let file = {
            let partial = partial.clone();
            transport::run_blocking(move || download::create_partial(&partial)).await?
        };
        let written = transport::save(url, body, file, &partial)
            .await
            .and_then(|written| download::check_length(url, written, head.content_length));
        transport::run_blocking(move || match written {
            Ok(n) => download::finish(&partial, &dest).map(|()| n),
            Err(e) => {
                download::discard(&partial);
                Err(e)
            }
        })
        .await
    }
}
