//! The request log from a test's side: `twin.requests()` is every request the server has
//! served, in order, and `since(mark)` narrows it to what happened after a point, so a test can
//! assert that a controller "patched status exactly once and never updated spec".

pub use kubetwin::recording::RecordedRequest;

/// A snapshot of the request log.
#[derive(Debug, Clone)]
pub struct Requests {
    entries: Vec<RecordedRequest>,
}

/// A position in the request log, from [`crate::TestServer::mark`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mark(pub(crate) usize);

impl Requests {
    pub(crate) fn new(entries: Vec<RecordedRequest>) -> Requests {
        Requests { entries }
    }

    /// Only the requests recorded after `mark`.
    pub fn since(self, mark: Mark) -> Requests {
        Requests { entries: self.entries.into_iter().filter(|r| r.sequence >= mark.0).collect() }
    }

    /// Only the requests with this verb on this resource (plural, optionally `plural/subresource`).
    pub fn matching(self, verb: &str, resource: &str) -> Requests {
        let wanted = |r: &RecordedRequest| {
            let full =
                if r.subresource.is_empty() { r.resource.clone() } else { format!("{}/{}", r.resource, r.subresource) };
            r.verb == verb && (full == resource || (r.subresource.is_empty() && r.resource == resource))
        };
        Requests { entries: self.entries.into_iter().filter(wanted).collect() }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &RecordedRequest> {
        self.entries.iter()
    }

    pub fn into_vec(self) -> Vec<RecordedRequest> {
        self.entries
    }
}

impl IntoIterator for Requests {
    type Item = RecordedRequest;
    type IntoIter = std::vec::IntoIter<RecordedRequest>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}
