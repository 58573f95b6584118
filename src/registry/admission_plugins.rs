//! Which admission plugins run, set as kube-apiserver's `--enable-admission-plugins` and
//! `--disable-admission-plugins` set them. kube-apiserver knows about forty plugins by name;
//! kubetwin implements the ones that change what a test sees on a single-node-less cluster
//! ([`IMPLEMENTED`]), all on by default as in kube-apiserver. Naming a plugin kube-apiserver
//! does not know is an error worded as its flag validation words it; naming one it knows but
//! kubetwin does not implement is reported back so the caller can say it is ignored.

use std::collections::BTreeSet;

/// The plugins kubetwin implements. `NamespaceLifecycle` cannot be turned off: the namespace
/// controller depends on it.
pub const IMPLEMENTED: [&str; 4] = ["NamespaceLifecycle", "ServiceAccount", "Priority", "DefaultTolerationSeconds"];

/// Every plugin name kube-apiserver 1.36 registers (`AllOrderedPlugins`).
const KNOWN: [&str; 36] = [
    "AlwaysAdmit",
    "NamespaceAutoProvision",
    "NamespaceLifecycle",
    "NamespaceExists",
    "LimitPodHardAntiAffinityTopology",
    "LimitRanger",
    "ServiceAccount",
    "NodeRestriction",
    "TaintNodesByCondition",
    "AlwaysPullImages",
    "ImagePolicyWebhook",
    "PodSecurity",
    "PodNodeSelector",
    "Priority",
    "DefaultTolerationSeconds",
    "PodTolerationRestriction",
    "EventRateLimit",
    "ExtendedResourceToleration",
    "DefaultStorageClass",
    "StorageObjectInUseProtection",
    "OwnerReferencesPermissionEnforcement",
    "PersistentVolumeClaimResize",
    "RuntimeClass",
    "CertificateApproval",
    "CertificateSigning",
    "ClusterTrustBundleAttest",
    "CertificateSubjectRestriction",
    "DefaultIngressClass",
    "DenyServiceExternalIPs",
    "PodTopologyLabels",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionWebhook",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionWebhook",
    "ResourceQuota",
    "AlwaysDeny",
];

/// The admission plugins of one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdmissionPlugins {
    enabled: BTreeSet<&'static str>,
}

impl Default for AdmissionPlugins {
    fn default() -> Self {
        AdmissionPlugins { enabled: IMPLEMENTED.into_iter().collect() }
    }
}

/// What became of one plugin name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginChange {
    Applied,
    /// kube-apiserver knows the plugin; kubetwin does not implement it, or cannot turn it off.
    NotSupported(String),
}

impl AdmissionPlugins {
    /// Applies `--enable-admission-plugins` and `--disable-admission-plugins`, checked as
    /// kube-apiserver checks them (unknown names and names in both lists are errors).
    pub fn configure(&mut self, enable: &[String], disable: &[String]) -> Result<Vec<(String, PluginChange)>, String> {
        let mut errors = Vec::new();
        for (flag, names) in [("enable-admission-plugins", enable), ("disable-admission-plugins", disable)] {
            for name in names.iter().filter(|name| !KNOWN.contains(&name.as_str())) {
                errors.push(format!("{flag} plugin {name:?} is unknown"));
            }
        }
        let mut overlap: Vec<&String> = enable.iter().filter(|name| disable.contains(name)).collect();
        overlap.sort();
        overlap.dedup();
        if !overlap.is_empty() {
            let names: Vec<&str> = overlap.iter().map(|name| name.as_str()).collect();
            errors.push(format!(
                "[{}] in enable-admission-plugins and disable-admission-plugins overlapped",
                names.join(" ")
            ));
        }
        if !errors.is_empty() {
            return Err(errors.join(", "));
        }
        let mut changes = Vec::new();
        for (name, on) in enable.iter().map(|n| (n, true)).chain(disable.iter().map(|n| (n, false))) {
            changes.push((name.clone(), self.set(name, on)));
        }
        Ok(changes)
    }

    fn set(&mut self, name: &str, on: bool) -> PluginChange {
        let Some(&plugin) = IMPLEMENTED.iter().find(|implemented| **implemented == name) else {
            return PluginChange::NotSupported(format!("kubetwin does not implement the {name} admission plugin"));
        };
        match (plugin, on) {
            ("NamespaceLifecycle", false) => PluginChange::NotSupported(
                "kubetwin always runs NamespaceLifecycle (its namespace controller needs it)".into(),
            ),
            (_, true) => {
                self.enabled.insert(plugin);
                PluginChange::Applied
            }
            (_, false) => {
                self.enabled.remove(plugin);
                PluginChange::Applied
            }
        }
    }

    pub fn is_enabled(&self, name: &str) -> bool {
        self.enabled.contains(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| name.to_string()).collect()
    }

    #[test]
    fn plugins_are_on_by_default_and_can_be_turned_off() {
        let mut plugins = AdmissionPlugins::default();
        assert!(IMPLEMENTED.iter().all(|name| plugins.is_enabled(name)));
        let changes = plugins.configure(&[], &names(&["Priority", "LimitRanger"])).unwrap();
        assert!(!plugins.is_enabled("Priority"));
        assert_eq!(changes[0], ("Priority".into(), PluginChange::Applied));
        assert!(matches!(&changes[1].1, PluginChange::NotSupported(why) if why.contains("LimitRanger")));
    }

    #[test]
    fn unknown_and_overlapping_names_are_refused_as_kube_apiserver_words_it() {
        let mut plugins = AdmissionPlugins::default();
        let error = plugins.configure(&names(&["Foo", "Priority"]), &names(&["Priority"])).unwrap_err();
        assert_eq!(
            error,
            "enable-admission-plugins plugin \"Foo\" is unknown, [Priority] in enable-admission-plugins and disable-admission-plugins overlapped"
        );
        assert!(plugins.is_enabled("Priority"), "a refused configuration changes nothing");
    }

    #[test]
    fn namespace_lifecycle_stays_on() {
        let mut plugins = AdmissionPlugins::default();
        let changes = plugins.configure(&[], &names(&["NamespaceLifecycle"])).unwrap();
        assert!(matches!(changes[0].1, PluginChange::NotSupported(_)));
        assert!(plugins.is_enabled("NamespaceLifecycle"));
    }
}
