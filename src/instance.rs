//! An [`Instance`]: everything one API server owns (store, catalog, clock, identity source,
//! metrics, Service allocators). No global mutable state: many instances run in one process.

use crate::clock::{Clock, IdSource, RandomIds, SystemClock};
use crate::metrics::Metrics;
use crate::openapi::{Catalog, ResourceInfo};
use crate::registry::allocators::{Cidr, IpAllocator, PortAllocator};
use crate::store::{MemoryStore, StoreConfig};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

/// What an instance is built from.
#[derive(Debug, Clone)]
pub struct InstanceConfig {
    pub service_cluster_ip_range: Cidr,
    pub service_node_port_range: (u16, u16),
    pub store: StoreConfig,
    pub auth: crate::auth::AuthConfig,
    /// `--enable-admission-plugins` and `--disable-admission-plugins`.
    pub admission: crate::registry::admission_plugins::AdmissionPlugins,
}

impl Default for InstanceConfig {
    fn default() -> Self {
        InstanceConfig {
            service_cluster_ip_range: Cidr::parse("10.96.0.0/12").expect("valid default range"),
            service_node_port_range: (30000, 32767),
            store: StoreConfig::default(),
            auth: crate::auth::AuthConfig::default(),
            admission: Default::default(),
        }
    }
}

/// The Service address and port allocators.
#[derive(Debug)]
pub struct ServiceAllocators {
    pub cluster_ips: IpAllocator,
    pub node_ports: PortAllocator,
}

/// One API server's state.
#[derive(Debug)]
pub struct Instance {
    pub store: MemoryStore,
    catalog: RwLock<Arc<Catalog>>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdSource>,
    pub metrics: Metrics,
    pub services: Mutex<ServiceAllocators>,
    pub config: InstanceConfig,
    /// `host:port` clients reach the server at, once it listens.
    pub address: OnceLock<String>,
    pub auth: crate::auth::AuthState,
    /// Test faults injected into the request pipeline.
    pub faults: crate::faults::Faults,
    /// The request log, when a test has turned it on.
    pub requests: crate::recording::RequestLog,
    /// The bootstrap objects as the controllers read them, by key, with the revision they were
    /// written at: the controllers' first listing takes them instead of parsing each again.
    pub(crate) bootstrap_objects: Mutex<Vec<(bytes::Bytes, i64, crate::controllers::Object)>>,
    /// The last server-side apply of each object that left it as it was.
    pub(crate) unchanged_applies: crate::registry::unchanged_applies::UnchangedApplies,
    /// The objects the last few updates wrote, decoded, for the next update of each.
    pub(crate) decoded_objects: crate::registry::decoded_objects::DecodedObjects,
}

impl Instance {
    pub fn new(config: InstanceConfig, clock: Arc<dyn Clock>, ids: Arc<dyn IdSource>) -> Self {
        let (low, high) = config.service_node_port_range;
        Instance {
            store: MemoryStore::new(config.store.clone()),
            catalog: RwLock::new(Catalog::shared_builtin()),
            clock,
            ids,
            metrics: Metrics::default(),
            services: Mutex::new(ServiceAllocators {
                cluster_ips: IpAllocator::new(config.service_cluster_ip_range),
                node_ports: PortAllocator::new(low, high),
            }),
            config,
            address: OnceLock::new(),
            auth: crate::auth::AuthState::default(),
            faults: crate::faults::Faults::default(),
            requests: crate::recording::RequestLog::default(),
            bootstrap_objects: Mutex::default(),
            unchanged_applies: Default::default(),
            decoded_objects: Default::default(),
        }
    }

    /// An instance with the wall clock and random identifiers.
    pub fn with_defaults(config: InstanceConfig) -> Self {
        Self::new(config, Arc::new(SystemClock), Arc::new(RandomIds))
    }

    /// The catalog as it is now (custom resources come and go).
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the catalog (used when custom resources are established or removed).
    pub fn update_catalog(&self, change: impl FnOnce(&mut Catalog)) {
        let mut guard = self.catalog.write().unwrap_or_else(|e| e.into_inner());
        let mut next = Catalog::clone(&guard);
        change(&mut next);
        *guard = Arc::new(next);
    }

    pub fn resource(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceInfo>> {
        self.catalog().get(group, version, plural).cloned()
    }

    /// Now, as metav1.Time serializes it.
    pub fn now_rfc3339(&self) -> String {
        crate::timestamp::format_rfc3339(self.clock.unix_seconds())
    }

    pub fn services(&self) -> std::sync::MutexGuard<'_, ServiceAllocators> {
        self.services.lock().unwrap_or_else(|e| e.into_inner())
    }
}
