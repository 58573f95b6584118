//! End-to-end with helm 4, which writes every chart object with server-side apply (field
//! manager `helm`, the base name of its binary; `force` off unless `--force-conflicts`) and by
//! default waits only for hook Jobs and Pods (`--wait=hookOnly`), so a Deployment that no kubelet
//! will ever run does not hold an install up. Each test writes a small chart (a ConfigMap, a
//! Deployment with a templated replica count and image tag, a Service and a post-install
//! ConfigMap hook) and checks what helm left on the server: the objects and their managedFields,
//! the release Secrets, a no-op re-apply that keeps resourceVersions, the conflict with
//! `kubectl scale`'s ownership of `.spec.replicas`, and the clean-up by `helm uninstall`.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use kube::api::{Api, ListParams};
use kubetwin_harness::TestServer;
use kubetwin_harness::clients::{self, CommandOutput};
use std::time::Duration;

const CHART_YAML: &str = "apiVersion: v2
name: demo
description: A small chart for kubetwin's helm tests
version: 0.1.0
appVersion: \"1.0\"
";

const VALUES_YAML: &str = "replicas: 1
image:
  repository: nginx
  tag: v1
greeting: hello
";

const CONFIGMAP: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-settings
data:
  greeting: {{ .Values.greeting | quote }}
";

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels:
      app: {{ .Release.Name }}
  template:
    metadata:
      labels:
        app: {{ .Release.Name }}
    spec:
      containers:
      - name: web
        image: \"{{ .Values.image.repository }}:{{ .Values.image.tag }}\"
        ports:
        - containerPort: 8080
";

const SERVICE: &str = "apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}
spec:
  selector:
    app: {{ .Release.Name }}
  ports:
  - port: 80
    targetPort: 8080
";

const HOOK: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-installed
  annotations:
    helm.sh/hook: post-install,post-upgrade
    helm.sh/hook-delete-policy: before-hook-creation
data:
  revision: {{ .Release.Revision | quote }}
";

/// The release every test installs, and so the name of its Deployment and Service.
const RELEASE: &str = "demo";

/// The chart written into a temporary directory, and the server helm talks to.
struct HelmFixture {
    twin: TestServer,
    chart: tempfile::TempDir,
}

impl HelmFixture {
    async fn start() -> HelmFixture {
        let chart = tempfile::tempdir().expect("a chart directory");
        let templates = chart.path().join("templates");
        std::fs::create_dir(&templates).expect("creating templates/");
        let files = [
            (chart.path().join("Chart.yaml"), CHART_YAML),
            (chart.path().join("values.yaml"), VALUES_YAML),
            (templates.join("configmap.yaml"), CONFIGMAP),
            (templates.join("deployment.yaml"), DEPLOYMENT),
            (templates.join("service.yaml"), SERVICE),
            (templates.join("hook.yaml"), HOOK),
        ];
        for (path, text) in files {
            std::fs::write(&path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        }
        HelmFixture { twin: TestServer::start().await.expect("a test server"), chart }
    }

    async fn helm(&self, args: &[&str]) -> CommandOutput {
        clients::helm(self.twin.kubeconfig_path(), args).await
    }

    /// `helm <verb> demo <chart> <extra...>`, for `install` and `upgrade`.
    async fn helm_chart(&self, verb: &str, extra: &[&str]) -> CommandOutput {
        let chart = self.chart.path().to_string_lossy().into_owned();
        let mut args = vec![verb, RELEASE, chart.as_str()];
        args.extend_from_slice(extra);
        self.helm(&args).await
    }

    async fn install(&self) {
        self.helm_chart("install", &[]).await.ok();
    }

    /// The revision numbers and statuses `helm history` shows.
    async fn history(&self) -> Vec<(i64, String)> {
        let history = self.helm(&["history", RELEASE, "-o", "json"]).await;
        let revisions: serde_json::Value = serde_json::from_str(history.ok()).expect("helm history -o json");
        let revisions = revisions.as_array().expect("a list of revisions");
        revisions.iter().map(|r| (r["revision"].as_i64().unwrap(), r["status"].as_str().unwrap().to_string())).collect()
    }

    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::default_namespaced(self.twin.client())
    }

    async fn deployment(&self) -> Deployment {
        self.api::<Deployment>().get(RELEASE).await.expect("the chart's Deployment")
    }

    /// The resourceVersions of the chart's three plain objects.
    async fn resource_versions(&self) -> [String; 3] {
        let version = |meta: &kube::api::ObjectMeta| meta.resource_version.clone().expect("a resourceVersion");
        let settings = self.api::<ConfigMap>().get(&format!("{RELEASE}-settings")).await.expect("the ConfigMap");
        let service = self.api::<Service>().get(RELEASE).await.expect("the Service");
        [version(&settings.metadata), version(&self.deployment().await.metadata), version(&service.metadata)]
    }

    /// The names of the release Secrets helm keeps in the namespace.
    async fn release_secrets(&self) -> Vec<String> {
        let params = ListParams::default().labels(&format!("owner=helm,name={RELEASE}"));
        let secrets = self.api::<Secret>().list(&params).await.expect("listing release Secrets");
        let mut names: Vec<String> = secrets.into_iter().filter_map(|s| s.metadata.name).collect();
        names.sort();
        names
    }
}

/// The managedFields entry of `manager` (and `subresource`, "" for the object itself) as JSON.
fn managed_entry(meta: &kube::api::ObjectMeta, manager: &str, subresource: &str) -> Option<serde_json::Value> {
    meta.managed_fields
        .iter()
        .flatten()
        .find(|e| e.manager.as_deref() == Some(manager) && e.subresource.as_deref().unwrap_or("") == subresource)
        .map(|e| serde_json::to_value(e).expect("a managedFields entry serializes"))
}

/// Whether the entry's fieldsV1 has `spec.replicas`.
fn owns_replicas(entry: &serde_json::Value) -> bool {
    entry["fieldsV1"]["f:spec"].get("f:replicas").is_some()
}

fn image(deployment: &Deployment) -> String {
    let spec = deployment.spec.as_ref().expect("a spec");
    let containers = &spec.template.spec.as_ref().expect("a pod spec").containers;
    containers[0].image.clone().expect("an image")
}

fn replicas(deployment: &Deployment) -> i32 {
    deployment.spec.as_ref().and_then(|s| s.replicas).expect("spec.replicas")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_applies_each_object_server_side_as_helm_and_records_the_release() {
    let fixture = HelmFixture::start().await;
    let installed = fixture.helm_chart("install", &[]).await;
    assert!(installed.ok().contains("STATUS: deployed"), "{}", installed.stdout);

    let settings = fixture.api::<ConfigMap>().get("demo-settings").await.unwrap();
    assert_eq!(settings.data.as_ref().unwrap()["greeting"], "hello");
    let deployment = fixture.deployment().await;
    assert_eq!((replicas(&deployment), image(&deployment)), (1, "nginx:v1".to_string()));
    let service = fixture.api::<Service>().get(RELEASE).await.unwrap();
    let hook = fixture.api::<ConfigMap>().get("demo-installed").await.expect("the post-install hook ran");
    assert_eq!(hook.data.as_ref().unwrap()["revision"], "1");

    for meta in [&settings.metadata, &deployment.metadata, &service.metadata, &hook.metadata] {
        let entry = managed_entry(meta, "helm", "").unwrap_or_else(|| panic!("no helm entry: {meta:?}"));
        assert_eq!(entry["operation"], "Apply", "{entry}");
        let object_entries = meta.managed_fields.iter().flatten().filter(|e| e.subresource.is_none());
        let managers: Vec<_> = object_entries.map(|e| e.manager.clone()).collect();
        assert_eq!(managers, [Some("helm".to_string())], "helm is the only manager of {:?}", meta.name);
    }
    let helm_entry = managed_entry(&deployment.metadata, "helm", "").unwrap();
    assert!(owns_replicas(&helm_entry), "helm owns spec.replicas: {helm_entry}");

    let applies = fixture.twin.requests().matching("patch", "deployments");
    let apply = applies.iter().next().expect("helm patched the Deployment");
    assert_eq!((apply.field_manager.as_deref(), apply.code), (Some("helm"), 201), "{apply:?}");

    assert_eq!(fixture.release_secrets().await, ["sh.helm.release.v1.demo.v1"]);
    let release = fixture.api::<Secret>().get("sh.helm.release.v1.demo.v1").await.unwrap();
    assert_eq!(release.type_.as_deref(), Some("helm.sh/release.v1"));
    // helm stores releases with a typed client, not apply: the manager comes from its
    // User-Agent (`Helm/4.1.4`), as kube-apiserver derives it.
    let storage = managed_entry(&release.metadata, "Helm", "").expect("the release Secret's manager");
    assert_eq!(storage["operation"], "Update", "{storage}");
    let labels = release.metadata.labels.unwrap();
    for (key, value) in [("owner", "helm"), ("name", "demo"), ("version", "1"), ("status", "deployed")] {
        assert_eq!(labels.get(key).map(String::as_str), Some(value), "label {key}: {labels:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_changes_templated_fields_and_an_unchanged_upgrade_is_a_no_op() {
    let fixture = HelmFixture::start().await;
    fixture.install().await;
    let [settings_v1, deployment_v1, service_v1] = fixture.resource_versions().await;

    fixture.helm_chart("upgrade", &["--set", "replicas=3", "--set", "image.tag=v2"]).await.ok();
    let deployment = fixture.deployment().await;
    assert_eq!((replicas(&deployment), image(&deployment)), (3, "nginx:v2".to_string()));
    let [settings_v2, deployment_v2, service_v2] = fixture.resource_versions().await;
    assert_ne!(deployment_v2, deployment_v1, "the changed Deployment was written");
    assert_eq!((&settings_v2, &service_v2), (&settings_v1, &service_v1), "unchanged objects keep their version");
    assert_eq!(fixture.release_secrets().await, ["sh.helm.release.v1.demo.v1", "sh.helm.release.v1.demo.v2"]);
    assert_eq!(fixture.history().await, [(1, "superseded".to_string()), (2, "deployed".to_string())]);
    let hook = fixture.api::<ConfigMap>().get("demo-installed").await.unwrap();
    assert_eq!(hook.data.unwrap()["revision"], "2", "the post-upgrade hook was recreated");

    // helm re-applies every object on each upgrade; applying the same intent changes nothing,
    // so kubetwin, like kube-apiserver, answers 200 without writing a new resourceVersion.
    let mark = fixture.twin.mark();
    fixture.helm_chart("upgrade", &["--set", "replicas=3", "--set", "image.tag=v2"]).await.ok();
    let reapplied = fixture.twin.requests().since(mark).matching("patch", "deployments");
    assert_eq!(reapplied.iter().map(|r| r.code).collect::<Vec<_>>(), [200], "helm re-applied the Deployment");
    assert_eq!(fixture.resource_versions().await, [settings_v2, deployment_v2, service_v2]);
    assert_eq!(fixture.history().await.len(), 3, "an unchanged upgrade is still a new revision");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_conflicts_with_kubectl_scale_until_forced() {
    let fixture = HelmFixture::start().await;
    fixture.install().await;
    fixture.twin.kubectl(&["scale", "deployment", RELEASE, "--replicas=5"]).await.ok();
    let scaled = fixture.deployment().await;
    let scale_entry = managed_entry(&scaled.metadata, "kubectl", "scale").expect("kubectl's entry for /scale");
    assert!(owns_replicas(&scale_entry) && scale_entry["operation"] == "Update", "{scale_entry}");
    assert!(
        !owns_replicas(&managed_entry(&scaled.metadata, "helm", "").unwrap()),
        "the scale took the field from helm"
    );

    // helm 4 applies without force: the API server refuses with 409, and the upgrade fails
    // with the same message as against kube-apiserver.
    let refused = fixture.helm_chart("upgrade", &["--set", "replicas=3"]).await;
    let message = refused.err();
    assert!(
        message.contains("conflict occurred while applying object default/demo apps/v1, Kind=Deployment")
            && message.contains(r#"conflict with "kubectl" with subresource "scale" using apps/v1: .spec.replicas"#),
        "{message}"
    );
    assert_eq!(replicas(&fixture.deployment().await), 5, "the refused apply changed nothing");
    assert_eq!(fixture.history().await.last(), Some(&(2, "failed".to_string())));

    fixture.helm_chart("upgrade", &["--set", "replicas=3", "--force-conflicts"]).await.ok();
    let forced = fixture.deployment().await;
    assert_eq!(replicas(&forced), 3);
    assert!(owns_replicas(&managed_entry(&forced.metadata, "helm", "").unwrap()), "helm owns spec.replicas again");
    assert!(managed_entry(&forced.metadata, "kubectl", "scale").is_none(), "kubectl lost its only field");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uninstall_deletes_the_objects_and_the_release_history() {
    let fixture = HelmFixture::start().await;
    fixture.install().await;
    fixture.helm_chart("upgrade", &["--set", "replicas=2"]).await.ok();
    assert_eq!(fixture.release_secrets().await.len(), 2);

    let uninstalled = fixture.helm(&["uninstall", RELEASE]).await;
    assert!(uninstalled.ok().contains(r#"release "demo" uninstalled"#), "{}", uninstalled.stdout);
    let timeout = Duration::from_secs(5);
    let twin = &fixture.twin;
    twin.wait_deleted::<Deployment>(Some("default"), RELEASE, timeout).await.unwrap();
    twin.wait_deleted::<Service>(Some("default"), RELEASE, timeout).await.unwrap();
    twin.wait_deleted::<ConfigMap>(Some("default"), "demo-settings", timeout).await.unwrap();
    assert!(fixture.release_secrets().await.is_empty(), "helm uninstall removes the history");
    assert_eq!(fixture.helm(&["list", "-q"]).await.ok().trim(), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_piped_into_kubectl_server_side_apply() {
    let fixture = HelmFixture::start().await;
    let chart = fixture.chart.path().to_string_lossy().into_owned();
    let rendered = fixture.helm(&["template", RELEASE, &chart, "--set", "replicas=2"]).await;
    let manifest = rendered.ok();
    let applied = fixture.twin.kubectl_with_input(&["apply", "--server-side", "-f", "-"], manifest).await;
    let lines: Vec<&str> = applied.ok().lines().collect();
    assert!(lines.contains(&"deployment.apps/demo serverside-applied"), "{lines:?}");
    assert_eq!(lines.len(), 4, "the ConfigMaps, the Deployment and the Service: {lines:?}");

    let deployment = fixture.deployment().await;
    assert_eq!(replicas(&deployment), 2);
    assert_eq!(managed_entry(&deployment.metadata, "kubectl", "").unwrap()["operation"], "Apply");
    assert!(fixture.release_secrets().await.is_empty(), "helm template talks to no server");
}
