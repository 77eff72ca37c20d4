//! Listing runs: [`RunsQuery`], the query parameters of `GET /api/v1/runs`, and its sort
//! fields and orders.

use std::fmt;
use std::str::FromStr;

use crate::wire::error::{Error, Result};

/// The field runs are sorted by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SortBy {
    /// When the run was created (the server's default).
    #[default]
    CreatedAt,
    /// When the run started.
    StartedAt,
    /// When the run ended.
    CompletedAt,
}

impl SortBy {
    /// The value as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            SortBy::CreatedAt => "created_at",
            SortBy::StartedAt => "started_at",
            SortBy::CompletedAt => "completed_at",
        }
    }
}

impl fmt::Display for SortBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses the wire spelling (`created_at`, `started_at`, `completed_at`).
///
/// ```
/// use flowscale::SortBy;
/// assert_eq!("started_at".parse::<SortBy>()?, SortBy::StartedAt);
/// assert!("size".parse::<SortBy>().is_err());
/// # Ok::<(), flowscale::Error>(())
/// ```
impl FromStr for SortBy {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        [SortBy::CreatedAt, SortBy::StartedAt, SortBy::CompletedAt]
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| {
                Error::input(
                    "sort_by",
                    format!("`{s}` is not one of created_at, started_at, completed_at"),
                )
            })
    }
}

/// Ascending or descending.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SortOrder {
    /// Newest first (the server's default).
    #[default]
    Desc,
    /// Oldest first.
    Asc,
}

impl SortOrder {
    /// The value as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            SortOrder::Desc => "desc",
            SortOrder::Asc => "asc",
        }
    }
}

impl fmt::Display for SortOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses the wire spelling (`asc`, `desc`).
impl FromStr for SortOrder {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "asc" => Ok(SortOrder::Asc),
            "desc" => Ok(SortOrder::Desc),
            _ => Err(Error::input(
                "sort_order",
                format!("`{s}` is not one of asc, desc"),
            )),
        }
    }
}

/// The largest page size the server accepts.
pub const MAX_PAGE_SIZE: u32 = 100;

/// What [`runs_page`](crate::Client::runs_page) asks for: sorting, paging and an optional group.
///
/// ```
/// use flowscale::{RunsQuery, SortBy, SortOrder};
/// let query = RunsQuery::new()
///     .group_id("production_batch")
///     .sort_by(SortBy::StartedAt)
///     .sort_order(SortOrder::Asc)
///     .page(2)
///     .page_size(25);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "a RunsQuery does nothing until passed to runs_page or runs"]
pub struct RunsQuery {
    pub(crate) sort_by: SortBy,
    pub(crate) sort_order: SortOrder,
    pub(crate) page: u32,
    pub(crate) page_size: u32,
    pub(crate) group_id: Option<String>,
}

impl Default for RunsQuery {
    fn default() -> Self {
        RunsQuery {
            sort_by: SortBy::default(),
            sort_order: SortOrder::default(),
            page: 1,
            page_size: 10,
            group_id: None,
        }
    }
}

impl RunsQuery {
    /// The defaults: newest first by creation time, page 1, 10 runs a page, every group.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sort by this field.
    pub fn sort_by(mut self, sort_by: SortBy) -> Self {
        self.sort_by = sort_by;
        self
    }

    /// Sort in this order.
    pub fn sort_order(mut self, order: SortOrder) -> Self {
        self.sort_order = order;
        self
    }

    /// The page to fetch, from 1.
    pub fn page(mut self, page: u32) -> Self {
        self.page = page;
        self
    }

    /// Runs per page, 1 to 100.
    pub fn page_size(mut self, page_size: u32) -> Self {
        self.page_size = page_size;
        self
    }

    /// Only runs filed under this group.
    pub fn group_id(mut self, group_id: impl Into<String>) -> Self {
        self.group_id = Some(group_id.into());
        self
    }

    /// Checks the values before anything is sent.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.page == 0 {
            return Err(Error::input("page", "pages are numbered from 1; got 0"));
        }
        if self.page_size == 0 || self.page_size > MAX_PAGE_SIZE {
            return Err(Error::input(
                "page_size",
                format!("must be from 1 to {MAX_PAGE_SIZE}; got {}", self.page_size),
            ));
        }
        if self.group_id.as_deref() == Some("") {
            return Err(Error::input(
                "group_id",
                "is empty; leave it unset to list every group",
            ));
        }
        Ok(())
    }

    /// The query pairs, in the order the Python SDK sends them.
    pub(crate) fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = vec![
            ("sort_by", self.sort_by.as_str().to_owned()),
            ("sort_order", self.sort_order.as_str().to_owned()),
            ("page", self.page.to_string()),
            ("page_size", self.page_size.to_string()),
        ];
        if let Some(g) = &self.group_id {
            pairs.push(("group_id", g.clone()));
        }
        pairs
    }
}
