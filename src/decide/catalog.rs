//! When a client that checks inputs (`ClientBuilder::check_inputs`) fetches the workflow
//! catalog, and what it checks a submission against: a plain state machine, given the time
//! by its caller. One cache is shared by a client and its clones.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::wire::catalog::Workflow;

/// How long a fetched catalog (or the news that the pod has none) is trusted: workflows
/// are deployed while a long-lived client runs.
pub(crate) const REFRESH_AFTER: Duration = Duration::from_secs(5 * 60);

/// A workflow id the catalog does not list makes the catalog be fetched again (it may have
/// just been deployed), but not more often than this: a program submitting to a workflow
/// the catalog never lists must not fetch it before every run.
pub(crate) const UNKNOWN_REFETCH_AFTER: Duration = Duration::from_secs(10);

/// What to do about one submission.
#[derive(Debug, PartialEq)]
pub(crate) enum Lookup {
    /// Check the inputs against this entry.
    Check(Workflow),
    /// Fetch the catalog (then `store` it and look up again).
    Fetch,
    /// Send without a check.
    Skip(Skip),
}

/// Why a submission goes unchecked.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Skip {
    /// The pod has no catalog; `first` is true once per fetch that found none (say so then,
    /// not on every run).
    NoCatalog { first: bool },
    /// The catalog, freshly fetched, does not list the workflow: FlowScale decides.
    Unlisted,
}

#[derive(Debug, Default)]
pub(crate) struct CatalogCache {
    /// When the catalog was last fetched, and what it was (`None`: the pod has none).
    fetched: Option<(Instant, Option<Arc<Vec<Workflow>>>)>,
    /// Whether the absence of the last fetch was reported already.
    told: bool,
}

impl CatalogCache {
    /// What to do for a submission to `workflow_id` at `now`. `just_fetched` is true right
    /// after a `store` for this same submission, so that it never asks to fetch twice.
    pub fn lookup(&mut self, workflow_id: &str, now: Instant, just_fetched: bool) -> Lookup {
        let Some((at, catalog)) = &self.fetched else {
            return Lookup::Fetch;
        };
        let age = now.saturating_duration_since(*at);
        if age >= REFRESH_AFTER && !just_fetched {
            return Lookup::Fetch;
        }
        let Some(catalog) = catalog else {
            let first = !self.told;
            self.told = true;
            return Lookup::Skip(Skip::NoCatalog { first });
        };
        match catalog.iter().find(|w| w.id == workflow_id) {
            Some(workflow) => Lookup::Check(workflow.clone()),
            None if !just_fetched && age >= UNKNOWN_REFETCH_AFTER => Lookup::Fetch,
            None => Lookup::Skip(Skip::Unlisted),
        }
    }

    /// Keeps what a fetch found (`None`: the pod has no catalog).
    pub fn store(&mut self, catalog: Option<Vec<Workflow>>, now: Instant) {
        self.told = false;
        self.fetched = Some((now, catalog.map(Arc::new)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Option<Vec<Workflow>> {
        Some(vec![
            serde_json::from_value(serde_json::json!({"id": "wf", "inputs": {"a": "string"}}))
                .unwrap(),
        ])
    }

    #[test]
    fn fetched_once_then_checked_until_stale() {
        let t0 = Instant::now();
        let mut cache = CatalogCache::default();
        assert_eq!(cache.lookup("wf", t0, false), Lookup::Fetch);
        cache.store(catalog(), t0);
        assert!(matches!(cache.lookup("wf", t0, true), Lookup::Check(w) if w.id == "wf"));
        let later = t0 + REFRESH_AFTER - Duration::from_secs(1);
        assert!(matches!(cache.lookup("wf", later, false), Lookup::Check(_)));
        assert_eq!(cache.lookup("wf", t0 + REFRESH_AFTER, false), Lookup::Fetch);
        assert!(matches!(
            cache.lookup("wf", t0 + REFRESH_AFTER, true),
            Lookup::Check(_)
        ));
    }

    #[test]
    fn an_unlisted_workflow_refetches_at_most_every_few_seconds() {
        let t0 = Instant::now();
        let mut cache = CatalogCache::default();
        cache.store(catalog(), t0);
        assert_eq!(cache.lookup("new", t0, true), Lookup::Skip(Skip::Unlisted));
        assert_eq!(
            cache.lookup("new", t0 + Duration::from_secs(1), false),
            Lookup::Skip(Skip::Unlisted)
        );
        let t1 = t0 + UNKNOWN_REFETCH_AFTER;
        assert_eq!(cache.lookup("new", t1, false), Lookup::Fetch);
        cache.store(catalog(), t1);
        assert_eq!(cache.lookup("new", t1, true), Lookup::Skip(Skip::Unlisted));
    }

    #[test]
    fn no_catalog_is_told_once_per_fetch() {
        let t0 = Instant::now();
        let mut cache = CatalogCache::default();
        cache.store(None, t0);
        assert_eq!(
            cache.lookup("wf", t0, true),
            Lookup::Skip(Skip::NoCatalog { first: true })
        );
        assert_eq!(
            cache.lookup("wf", t0, false),
            Lookup::Skip(Skip::NoCatalog { first: false })
        );
        assert_eq!(cache.lookup("wf", t0 + REFRESH_AFTER, false), Lookup::Fetch);
    }
}
