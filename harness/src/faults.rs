//! Fault injection from a test: `twin.faults().on(Verb::Update).resource("deployments")
//! .times(2).respond(StatusCode::CONFLICT)` makes the server itself fail matching requests, so
//! every client (kube-rs, kubectl, a controller under test) sees the same failure. Each fault
//! lasts as long as the [`FaultGuard`] it returns.

use kubetwin::faults::{Fault, FaultAction, FaultMatch};
use kubetwin::instance::Instance;
use std::sync::Arc;
use std::time::Duration;

/// The verbs a fault can be limited to, as [`FaultBuilder::on`] takes them: the Kubernetes
/// request verbs (a GET of a collection is `List`, of one object `Get`).
///
/// ```rust
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), kubetwin_harness::Error> {
/// use k8s_openapi::api::core::v1::ConfigMap;
/// use kube::api::{Api, DeleteParams};
/// use kubetwin_harness::Verb;
/// let twin = kubetwin_harness::TestServer::start().await?;
/// let _no_deletes = twin.faults().on(Verb::Delete).respond(http::StatusCode::FORBIDDEN);
/// let configmaps: Api<ConfigMap> = Api::default_namespaced(twin.client());
/// assert!(configmaps.delete("kube-root-ca.crt", &DeleteParams::default()).await.is_err());
/// assert!(configmaps.get("kube-root-ca.crt").await.is_ok());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// `get`: reading one object.
    Get,
    /// `list`: reading a collection.
    List,
    /// `watch`: a watch on a collection or one object.
    Watch,
    /// `create`: a POST.
    Create,
    /// `update`: a PUT, of an object or a subresource such as `status`.
    Update,
    /// `patch`: any PATCH, server-side apply included.
    Patch,
    /// `delete`: deleting one object.
    Delete,
    /// `deletecollection`: deleting a collection.
    DeleteCollection,
}

impl Verb {
    fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
            Verb::DeleteCollection => "deletecollection",
        }
    }
}

/// Describes a fault; finish with one of the actions to install it ([`FaultBuilder::respond`],
/// [`FaultBuilder::delay`], [`FaultBuilder::drop_watch`] or
/// [`FaultBuilder::expire_next_watch`]). Get one from [`TestServer::faults`].
///
/// The filters narrow which requests the fault applies to; a filter not given matches
/// anything. Faults act after authentication and authorization, so a request RBAC forbids gets
/// its 403 first. When several installed faults match a request, the one installed first fires.
///
/// ```rust
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), kubetwin_harness::Error> {
/// use k8s_openapi::api::core::v1::ConfigMap;
/// use kube::api::{Api, Patch, PatchParams};
/// use kubetwin_harness::Verb;
/// let twin = kubetwin_harness::TestServer::start().await?;
/// let configmaps: Api<ConfigMap> = Api::default_namespaced(twin.client());
/// let _conflict = twin.faults().on(Verb::Patch).resource("configmaps").namespace("default").name("kube-root-ca.crt")
///     .times(1).respond(http::StatusCode::CONFLICT);
/// let patch = Patch::Merge(serde_json::json!({"metadata": {"labels": {"team": "a"}}}));
/// assert!(configmaps.patch("kube-root-ca.crt", &PatchParams::default(), &patch).await.is_err());
/// assert!(configmaps.patch("kube-root-ca.crt", &PatchParams::default(), &patch).await.is_ok(), "only once");
/// # Ok(())
/// # }
/// ```
///
/// [`TestServer::faults`]: crate::TestServer::faults
#[must_use = "a fault is installed only by respond(), delay(), drop_watch() or expire_next_watch()"]
#[derive(Debug)]
pub struct FaultBuilder {
    instance: Arc<Instance>,
    matching: FaultMatch,
    times: Option<u64>,
    every: u64,
}

/// Keeps a fault installed; dropping it removes the fault. Bind it to a named variable
/// (`let _conflicts = ...`): `let _ = ...` drops it, and removes the fault, at once.
///
/// ```rust
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), kubetwin_harness::Error> {
/// use k8s_openapi::api::core::v1::ConfigMap;
/// use kube::api::Api;
/// use kubetwin_harness::Verb;
/// let twin = kubetwin_harness::TestServer::start().await?;
/// let configmaps: Api<ConfigMap> = Api::default_namespaced(twin.client());
/// let outage = twin.faults().on(Verb::List).respond(http::StatusCode::INTERNAL_SERVER_ERROR);
/// assert!(configmaps.list(&Default::default()).await.is_err());
/// drop(outage);
/// assert!(configmaps.list(&Default::default()).await.is_ok());
/// # Ok(())
/// # }
/// ```
#[must_use = "the fault is removed when the guard is dropped"]
#[derive(Debug)]
pub struct FaultGuard {
    instance: Arc<Instance>,
    id: u64,
}

impl Drop for FaultGuard {
    fn drop(&mut self) {
        self.instance.faults.remove(self.id);
    }
}

impl FaultBuilder {
    pub(crate) fn new(instance: Arc<Instance>) -> FaultBuilder {
        FaultBuilder { instance, matching: FaultMatch::default(), times: None, every: 1 }
    }

    /// Only requests with this verb (a later call replaces an earlier one).
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::ConfigMap;
    /// use kube::api::{Api, PostParams};
    /// use kubetwin_harness::Verb;
    /// let twin = kubetwin_harness::TestServer::start().await?;
    /// let _read_only = twin.faults().on(Verb::Create).respond(http::StatusCode::FORBIDDEN);
    /// let configmaps: Api<ConfigMap> = Api::default_namespaced(twin.client());
    /// let settings = serde_json::from_value(serde_json::json!({"metadata": {"name": "settings"}}))?;
    /// assert!(configmaps.create(&PostParams::default(), &settings).await.is_err());
    /// assert!(configmaps.list(&Default::default()).await.is_ok());
    /// # Ok(())
    /// # }
    /// ```
    pub fn on(mut self, verb: Verb) -> Self {
        self.matching.verb = Some(verb.as_str().into());
        self
    }

    /// Only this resource (plural, e.g. `deployments`, or `deployments/status`). A plain plural
    /// also matches requests for its subresources; `deployments/status` matches only those.
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::{ConfigMap, Secret};
    /// use kube::api::Api;
    /// let twin = kubetwin_harness::TestServer::start().await?;
    /// let _secrets_down = twin.faults().resource("secrets").respond(http::StatusCode::INTERNAL_SERVER_ERROR);
    /// assert!(Api::<Secret>::default_namespaced(twin.client()).list(&Default::default()).await.is_err());
    /// assert!(Api::<ConfigMap>::default_namespaced(twin.client()).list(&Default::default()).await.is_ok());
    /// # Ok(())
    /// # }
    /// ```
    pub fn resource(mut self, plural: &str) -> Self {
        self.matching.resource = Some(plural.into());
        self
    }

    /// Only requests in this namespace (a cluster-wide list or watch has none, and does not match).
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::ConfigMap;
    /// use kube::api::Api;
    /// let twin = kubetwin_harness::TestServer::start().await?;
    /// let _team_down = twin.faults().namespace("team").respond(http::StatusCode::INTERNAL_SERVER_ERROR);
    /// assert!(Api::<ConfigMap>::namespaced(twin.client(), "team").list(&Default::default()).await.is_err());
    /// assert!(Api::<ConfigMap>::namespaced(twin.client(), "default").list(&Default::default()).await.is_ok());
    /// # Ok(())
    /// # }
    /// ```
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.matching.namespace = Some(namespace.into());
        self
    }

    /// Only requests for the object with this name, as the request path names it (a create or a
    /// list names none, so they do not match).
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::ConfigMap;
    /// use kube::api::Api;
    /// let twin = kubetwin_harness::TestServer::start().await?;
    /// let _gone = twin.faults().name("settings").respond(http::StatusCode::NOT_FOUND);
    /// let configmaps: Api<ConfigMap> = Api::default_namespaced(twin.client());
    /// assert!(configmaps.get("settings").await.is_err());
    /// assert!(configmaps.get("kube-root-ca.crt").await.is_ok());
    /// # Ok(())
    /// # }
    /// ```
    pub fn name(mut self, name: &str) -> Self {
        self.matching.name = Some(name.into());
        self
    }

    /// Fire at most `n` times; after that, matching requests are served normally.
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::ConfigMap;
    /// use kube::api::Api;
    /// use kubetwin_harness::Verb;
    /// let twin = kubetwin_harness::TestServer::start().await?;
    /// let _blip = twin.faults().on(Verb::Get).times(2).respond(http::StatusCode::INTERNAL_SERVER_ERROR);
    /// let configmaps: Api<ConfigMap> = Api::default_namespaced(twin.client());
    /// let mut outcomes = Vec::new();
    /// for _ in 0..3 {
    ///     outcomes.push(configmaps.get("kube-root-ca.crt").await.is_ok());
    /// }
    /// assert_eq!(outcomes, [false, false, true]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn times(mut self, n: u64) -> Self {
        self.times = Some(n);
        self
    }

    /// Fire on every `n`th matching request only (the `n`th, `2n`th, ...); 0 counts as 1. With
    /// [`FaultBuilder::times`], the limit counts the requests it fired on.
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::ConfigMap;
    /// use kube::api::Api;
    /// use kubetwin_harness::Verb;
    /// let twin = kubetwin_harness::TestServer::start().await?;
    /// let _flaky = twin.faults().on(Verb::Get).every(2).respond(http::StatusCode::INTERNAL_SERVER_ERROR);
    /// let configmaps: Api<ConfigMap> = Api::default_namespaced(twin.client());
    /// let mut outcomes = Vec::new();
    /// for _ in 0..4 {
    ///     outcomes.push(configmaps.get("kube-root-ca.crt").await.is_ok());
    /// }
    /// assert_eq!(outcomes, [true, false, true, false]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn every(mut self, n: u64) -> Self {
        self.every = n.max(1);
        self
    }

    fn install(self, action: FaultAction) -> FaultGuard {
        let fault = Fault { matching: self.matching, action, times: self.times, every: self.every };
        let id = self.instance.faults.install(fault);
        FaultGuard { instance: self.instance, id }
    }

    /// Answer with an error Status of this code (and the reason kube-apiserver gives it), without
    /// serving the request.
    ///
    /// [`TestServer::client`] retries 429, 503 and 504 (up to 15 times, with a backoff that grows
    /// to minutes), so a fault with one of those codes and no [`FaultBuilder::times`] limit makes
    /// a call through it take very long; [`TestServer::direct_client`] does not retry.
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::ConfigMap;
    /// use kube::api::{Api, Patch, PatchParams};
    /// let twin = kubetwin_harness::TestServer::start().await?;
    /// let _conflict = twin.faults().resource("configmaps").respond(http::StatusCode::CONFLICT);
    /// let configmaps: Api<ConfigMap> = Api::default_namespaced(twin.client());
    /// let patch = Patch::Merge(serde_json::json!({"data": {"k": "v"}}));
    /// let Err(kube::Error::Api(status)) = configmaps.patch("kube-root-ca.crt", &PatchParams::default(), &patch).await
    /// else { panic!("the fault answers") };
    /// assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// [`TestServer::client`]: crate::TestServer::client
    /// [`TestServer::direct_client`]: crate::TestServer::direct_client
    pub fn respond(self, code: http::StatusCode) -> FaultGuard {
        self.install(FaultAction::Respond(code.as_u16()))
    }

    /// Serve normally, but only after `latency`.
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::ConfigMap;
    /// use kube::api::Api;
    /// use std::time::{Duration, Instant};
    /// let twin = kubetwin_harness::TestServer::start().await?;
    /// let _slow = twin.faults().resource("configmaps").delay(Duration::from_millis(100));
    /// let started = Instant::now();
    /// assert!(Api::<ConfigMap>::default_namespaced(twin.client()).get("kube-root-ca.crt").await.is_ok());
    /// assert!(started.elapsed() >= Duration::from_millis(100));
    /// # Ok(())
    /// # }
    /// ```
    pub fn delay(self, latency: Duration) -> FaultGuard {
        self.install(FaultAction::Delay(latency))
    }

    /// End matching watch streams at once, with no events (this implies `.on(Verb::Watch)`).
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use futures::TryStreamExt;
    /// use k8s_openapi::api::core::v1::ConfigMap;
    /// use kube::api::{Api, WatchParams};
    /// let twin = kubetwin_harness::TestServer::start().await?;
    /// let _dropped = twin.faults().resource("configmaps").drop_watch();
    /// let configmaps: Api<ConfigMap> = Api::default_namespaced(twin.client());
    /// let events: Vec<_> = configmaps.watch(&WatchParams::default(), "0").await?.try_collect().await?;
    /// assert!(events.is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub fn drop_watch(self) -> FaultGuard {
        self.on(Verb::Watch).install(FaultAction::DropWatch)
    }

    /// Answer the next matching watch with a 410 Expired ERROR event, as after compaction (this
    /// implies `.on(Verb::Watch).times(1)`).
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use futures::StreamExt;
    /// use k8s_openapi::api::core::v1::ConfigMap;
    /// use kube::api::{Api, WatchEvent, WatchParams};
    /// let twin = kubetwin_harness::TestServer::start().await?;
    /// let _expired = twin.faults().resource("configmaps").expire_next_watch();
    /// let configmaps: Api<ConfigMap> = Api::default_namespaced(twin.client());
    /// let mut first = configmaps.watch(&WatchParams::default(), "0").await?.boxed();
    /// assert!(matches!(first.next().await, Some(Ok(WatchEvent::Error(status))) if status.code == 410));
    /// let mut second = configmaps.watch(&WatchParams::default(), "0").await?.boxed();
    /// assert!(matches!(second.next().await, Some(Ok(WatchEvent::Added(_)))));
    /// # Ok(())
    /// # }
    /// ```
    pub fn expire_next_watch(self) -> FaultGuard {
        self.on(Verb::Watch).times(1).install(FaultAction::ExpireWatch)
    }
}
