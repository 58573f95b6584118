//! The pod admission plugins kube-apiserver enables by default, seen through kube-rs: Priority
//! (priority from the PriorityClass, the global default or 0; one global default) and
//! DefaultTolerationSeconds (300 s for not-ready and unreachable nodes), and turning them off.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::api::{Api, PostParams};
use kubetwin_harness::{Error, TestServer};
use serde_json::{Value, json};

fn pod(name: &str, spec_extra: Value) -> Result<Pod, Error> {
    let mut spec = json!({"containers": [{"name": "app", "image": "nginx"}]});
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), spec_extra.as_object()) {
        spec.extend(extra.clone());
    }
    Ok(serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec}))?)
}

fn priority_class(name: &str, value: i32, global_default: bool) -> Result<PriorityClass, Error> {
    Ok(serde_json::from_value(json!({"metadata": {"name": name}, "value": value, "globalDefault": global_default}))?)
}

async fn forbidden(result: Result<impl std::fmt::Debug, kube::Error>) -> String {
    match result {
        Err(kube::Error::Api(status)) if status.code == 403 && status.reason == "Forbidden" => status.message,
        other => panic!("expected 403 Forbidden, got {other:?}"),
    }
}

#[tokio::test]
async fn pods_get_priority_and_default_tolerations() -> Result<(), Error> {
    let twin = TestServer::start().await?;
    let pods: Api<Pod> = Api::default_namespaced(twin.client());
    let spec = pods.create(&PostParams::default(), &pod("plain", json!({}))?).await?.spec.expect("a spec");
    assert_eq!((spec.priority, spec.preemption_policy.as_deref()), (Some(0), Some("PreemptLowerPriority")));
    assert_eq!(spec.priority_class_name, None, "no class is named when none is the default");
    let tolerations = serde_json::to_value(spec.tolerations)?;
    assert_eq!(
        tolerations,
        json!([
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
        ])
    );

    let own =
        json!({"tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}]});
    let spec = pods.create(&PostParams::default(), &pod("tolerant", own)?).await?.spec.expect("a spec");
    let keys: Vec<_> =
        spec.tolerations.unwrap_or_default().into_iter().map(|t| (t.key, t.toleration_seconds)).collect();
    assert_eq!(
        keys,
        [
            (Some("node.kubernetes.io/not-ready".into()), None),
            (Some("node.kubernetes.io/unreachable".into()), Some(300))
        ],
        "a pod's own toleration is kept and not duplicated"
    );

    let critical = json!({"priorityClassName": "system-node-critical"});
    let spec = pods.create(&PostParams::default(), &pod("critical", critical)?).await?.spec.expect("a spec");
    assert_eq!(spec.priority, Some(2_000_001_000), "the bootstrap classes exist");
    Ok(())
}

#[tokio::test]
async fn priority_classes_decide_priority_and_unknown_ones_are_refused() -> Result<(), Error> {
    let twin = TestServer::start().await?;
    let classes: Api<PriorityClass> = Api::all(twin.client());
    let pods: Api<Pod> = Api::default_namespaced(twin.client());
    classes.create(&PostParams::default(), &priority_class("high", 1000, false)?).await?;
    let spec = pods.create(&PostParams::default(), &pod("high", json!({"priorityClassName": "high"}))?).await?.spec;
    assert_eq!(spec.expect("a spec").priority, Some(1000));

    let missing = pods.create(&PostParams::default(), &pod("lost", json!({"priorityClassName": "nope"}))?).await;
    assert_eq!(forbidden(missing).await, "pods \"lost\" is forbidden: no PriorityClass with name nope was found");
    let given = pods.create(&PostParams::default(), &pod("pushy", json!({"priority": 5}))?).await;
    assert_eq!(
        forbidden(given).await,
        "pods \"pushy\" is forbidden: the integer value of priority (5) must not be provided in pod spec; priority admission controller computed 0 from the given PriorityClass name"
    );

    classes.create(&PostParams::default(), &priority_class("everyone", 7, true)?).await?;
    let spec = pods.create(&PostParams::default(), &pod("defaulted", json!({}))?).await?.spec.expect("a spec");
    assert_eq!((spec.priority, spec.priority_class_name.as_deref()), (Some(7), Some("everyone")));
    let second = classes.create(&PostParams::default(), &priority_class("also", 8, true)?).await;
    assert_eq!(
        forbidden(second).await,
        "priorityclasses.scheduling.k8s.io \"also\" is forbidden: PriorityClass everyone is already marked as default. Only one default can exist"
    );
    Ok(())
}

#[tokio::test]
async fn turned_off_plugins_leave_pods_alone() -> Result<(), Error> {
    let twin = TestServer::builder().admission_plugins(&[], &["Priority", "DefaultTolerationSeconds"])?.start().await?;
    let pods: Api<Pod> = Api::default_namespaced(twin.client());
    let spec = pods.create(&PostParams::default(), &pod("bare", json!({"priorityClassName": "nope"}))?).await?.spec;
    let spec = spec.expect("a spec");
    assert_eq!((spec.priority, spec.tolerations), (None, None));
    assert!(spec.volumes.is_some(), "the ServiceAccount plugin still ran");

    let refused = TestServer::builder().admission_plugins(&[], &["LimitRanger"]).unwrap_err();
    assert_eq!(refused.to_string(), "kubetwin does not implement the LimitRanger admission plugin");
    let overlap = TestServer::builder().admission_plugins(&["Priority"], &["Priority"]).unwrap_err();
    assert_eq!(overlap.to_string(), "[Priority] in enable-admission-plugins and disable-admission-plugins overlapped");
    Ok(())
}
