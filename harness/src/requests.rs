//! The request log from a test's side: `twin.requests()` is every request the server has
//! served, in order, and `since(mark)` narrows it to what happened after a point, so a test can
//! assert that a controller "patched status exactly once and never updated spec".

pub use kubetwin::recording::RecordedRequest;

/// A snapshot of the request log: what [`TestServer::requests`] returns, narrowed with
/// [`Requests::since`] and [`Requests::matching`]. Each entry is a [`RecordedRequest`]: verb,
/// path, namespace, resource, subresource, name, user, field manager, status code, and for
/// writes the object before and after. Requests refused by authentication or authorization
/// and those a fault answered are recorded too, with their status code (a refused request
/// from an unknown client has an empty user).
///
/// ```rust
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), kubetwin_harness::Error> {
/// use k8s_openapi::api::core::v1::ConfigMap;
/// use kube::api::{Api, Patch, PatchParams};
/// let twin = kubetwin_harness::TestServer::start().await?;
/// let configmaps: Api<ConfigMap> = Api::default_namespaced(twin.client());
/// let params = PatchParams::apply("my-controller");
/// let patch = Patch::Apply(serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"mode": "fast"}}));
/// configmaps.patch("settings", &params, &patch).await?;
/// let writes = twin.requests().matching("patch", "configmaps");
/// let write = writes.iter().next().expect("one patch");
/// assert_eq!((write.field_manager.as_deref(), write.code), (Some("my-controller"), 201));
/// assert_eq!(write.after.as_ref().expect("the object after")["data"]["mode"], "fast");
/// # Ok(())
/// # }
/// ```
///
/// [`TestServer::requests`]: crate::TestServer::requests
#[derive(Debug, Clone)]
pub struct Requests {
    entries: Vec<RecordedRequest>,
}

/// A position in the request log, from [`crate::TestServer::mark`]; see [`Requests::since`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mark(pub(crate) usize);

impl Requests {
    pub(crate) fn new(entries: Vec<RecordedRequest>) -> Requests {
        Requests { entries }
    }

    /// Only the requests recorded after `mark`.
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::ConfigMap;
    /// use kube::api::Api;
    /// let twin = kubetwin_harness::TestServer::start().await?;
    /// let configmaps: Api<ConfigMap> = Api::default_namespaced(twin.client());
    /// configmaps.list(&Default::default()).await?;
    /// let mark = twin.mark();
    /// configmaps.get("kube-root-ca.crt").await?;
    /// let verbs: Vec<String> = twin.requests().since(mark).into_iter().map(|r| r.verb).collect();
    /// assert_eq!(verbs, ["get"]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn since(self, mark: Mark) -> Requests {
        Requests { entries: self.entries.into_iter().filter(|r| r.sequence >= mark.0).collect() }
    }

    /// Only the requests with this verb (`get`, `list`, `watch`, `create`, `update`, `patch`,
    /// `delete` or `deletecollection`) on this resource (plural, optionally `plural/subresource`).
    /// A plain plural matches requests for the object itself only, not for its subresources.
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::Pod;
    /// use kube::api::{Api, Patch, PatchParams, PostParams};
    /// let twin = kubetwin_harness::TestServer::start().await?;
    /// let pods: Api<Pod> = Api::default_namespaced(twin.client());
    /// let containers = serde_json::json!([{"name": "app", "image": "nginx"}]);
    /// let pod = serde_json::json!({"metadata": {"name": "web"}, "spec": {"containers": containers}});
    /// pods.create(&PostParams::default(), &serde_json::from_value(pod)?).await?;
    /// let ready = serde_json::json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}});
    /// pods.patch_status("web", &PatchParams::default(), &Patch::Merge(&ready)).await?;
    /// assert_eq!(twin.requests().matching("patch", "pods/status").len(), 1);
    /// assert!(twin.requests().matching("patch", "pods").is_empty(), "the spec was never patched");
    /// # Ok(())
    /// # }
    /// ```
    pub fn matching(self, verb: &str, resource: &str) -> Requests {
        let wanted = |r: &RecordedRequest| {
            let full =
                if r.subresource.is_empty() { r.resource.clone() } else { format!("{}/{}", r.resource, r.subresource) };
            r.verb == verb && (full == resource || (r.subresource.is_empty() && r.resource == resource))
        };
        Requests { entries: self.entries.into_iter().filter(wanted).collect() }
    }

    /// How many requests there are.
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::ConfigMap;
    /// use kube::api::Api;
    /// let twin = kubetwin_harness::TestServer::start().await?;
    /// let configmaps: Api<ConfigMap> = Api::default_namespaced(twin.client());
    /// for _ in 0..3 {
    ///     configmaps.get("kube-root-ca.crt").await?;
    /// }
    /// assert_eq!(twin.requests().matching("get", "configmaps").len(), 3);
    /// # Ok(())
    /// # }
    /// ```
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no requests at all: the way to assert that something never happened.
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::ConfigMap;
    /// use kube::api::Api;
    /// let twin = kubetwin_harness::TestServer::start().await?;
    /// let mark = twin.mark();
    /// Api::<ConfigMap>::default_namespaced(twin.client()).list(&Default::default()).await?;
    /// assert!(twin.requests().since(mark).matching("delete", "configmaps").is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The requests in order, by reference.
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::ConfigMap;
    /// use kube::api::Api;
    /// let twin = kubetwin_harness::TestServer::start().await?;
    /// Api::<ConfigMap>::default_namespaced(twin.client()).list(&Default::default()).await?;
    /// let root = twin.client_as_user("root", &["system:masters"]).await?;
    /// Api::<ConfigMap>::default_namespaced(root).list(&Default::default()).await?;
    /// let requests = twin.requests();
    /// let users: Vec<&str> = requests.iter().map(|r| r.user.as_str()).collect();
    /// assert_eq!(users, ["kubetwin-admin", "root"]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = &RecordedRequest> {
        self.entries.iter()
    }

    /// The requests in order, as a `Vec` to index or pattern-match.
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::ConfigMap;
    /// use kube::api::{Api, DeleteParams, PostParams};
    /// let twin = kubetwin_harness::TestServer::start().await?;
    /// let configmaps: Api<ConfigMap> = Api::default_namespaced(twin.client());
    /// let settings = serde_json::from_value(serde_json::json!({"metadata": {"name": "settings"}}))?;
    /// configmaps.create(&PostParams::default(), &settings).await?;
    /// configmaps.delete("settings", &DeleteParams::default()).await?;
    /// let [create, delete] = &twin.requests().into_vec()[..] else { panic!("two requests") };
    /// assert_eq!((create.before.is_none(), delete.after.is_none()), (true, true));
    /// # Ok(())
    /// # }
    /// ```
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
