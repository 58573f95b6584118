//! Content negotiation: reads `Accept` and `Content-Type` the way kube-apiserver does and says
//! which representation to produce (plain JSON or YAML, a `meta.k8s.io` Table, partial object
//! metadata, aggregated discovery) or that none is acceptable (406).

use crate::error::{ApiError, ApiResult};

/// What the client can accept, in the server's order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Representation {
    Json,
    Yaml,
    /// `as=Table;g=meta.k8s.io;v=v1` (or v1beta1).
    Table,
    /// `as=PartialObjectMetadata` / `PartialObjectMetadataList`; `v1beta1` when asked for.
    PartialObjectMetadata {
        list: bool,
    },
    /// `as=APIGroupDiscoveryList;g=apidiscovery.k8s.io;v=v2` (or v2beta1).
    AggregatedDiscovery {
        v2beta1: bool,
    },
}

impl Representation {
    /// The Content-Type of a response in this representation.
    pub fn content_type(self) -> &'static str {
        match self {
            Representation::Json => "application/json",
            Representation::Yaml => "application/yaml",
            Representation::Table => "application/json;as=Table;v=v1;g=meta.k8s.io",
            Representation::PartialObjectMetadata { list: false } => {
                "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io"
            }
            Representation::PartialObjectMetadata { list: true } => {
                "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"
            }
            Representation::AggregatedDiscovery { v2beta1: false } => {
                "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
            }
            Representation::AggregatedDiscovery { v2beta1: true } => {
                "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
            }
        }
    }
}

/// One media range of an Accept header: `type/subtype;k=v;...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRange {
    pub essence: String,
    pub params: Vec<(String, String)>,
}

impl MediaRange {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// Parses an Accept (or Content-Type) header into media ranges, dropping `q=0` entries and
/// sorting by descending quality while keeping the client's order among equals.
pub fn parse_media_ranges(header: &str) -> Vec<MediaRange> {
    let mut ranges: Vec<(f32, MediaRange)> = header
        .split(',')
        .filter_map(|part| {
            let mut pieces = part.split(';').map(str::trim);
            let essence = pieces.next()?.to_ascii_lowercase();
            if essence.is_empty() {
                return None;
            }
            let mut quality = 1.0;
            let mut params = Vec::new();
            for piece in pieces {
                let Some((key, value)) = piece.split_once('=') else { continue };
                let (key, value) = (key.trim().to_ascii_lowercase(), value.trim().trim_matches('"').to_string());
                if key == "q" {
                    quality = value.parse().unwrap_or(1.0);
                } else {
                    params.push((key, value));
                }
            }
            (quality > 0.0).then_some((quality, MediaRange { essence, params }))
        })
        .collect();
    ranges.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
    ranges.into_iter().map(|(_, range)| range).collect()
}

fn is_json_like(essence: &str) -> bool {
    matches!(essence, "application/json" | "application/*" | "*/*")
}

/// Chooses the response representation for a resource request. `list` says whether the
/// response is a collection, which decides between PartialObjectMetadata and its List.
pub fn choose(accept: Option<&str>, list: bool) -> ApiResult<Representation> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else { return Ok(Representation::Json) };
    for range in parse_media_ranges(accept) {
        let as_kind = range.param("as");
        let group = range.param("g").unwrap_or_default();
        match (range.essence.as_str(), as_kind) {
            (essence, None) if is_json_like(essence) => return Ok(Representation::Json),
            ("application/yaml", None) => return Ok(Representation::Yaml),
            ("application/json", Some("Table")) if group == "meta.k8s.io" => return Ok(Representation::Table),
            ("application/json", Some("PartialObjectMetadata")) if group == "meta.k8s.io" && !list => {
                return Ok(Representation::PartialObjectMetadata { list: false });
            }
            ("application/json", Some("PartialObjectMetadataList")) if group == "meta.k8s.io" && list => {
                return Ok(Representation::PartialObjectMetadata { list: true });
            }
            _ => continue,
        }
    }
    Err(ApiError::not_acceptable(&["application/json", "application/yaml"]))
}

/// Chooses between aggregated and plain discovery documents.
pub fn choose_discovery(accept: Option<&str>) -> ApiResult<Representation> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else { return Ok(Representation::Json) };
    for range in parse_media_ranges(accept) {
        match (range.essence.as_str(), range.param("as"), range.param("g"), range.param("v")) {
            ("application/json", Some("APIGroupDiscoveryList"), Some("apidiscovery.k8s.io"), Some("v2")) => {
                return Ok(Representation::AggregatedDiscovery { v2beta1: false });
            }
            ("application/json", Some("APIGroupDiscoveryList"), Some("apidiscovery.k8s.io"), Some("v2beta1")) => {
                return Ok(Representation::AggregatedDiscovery { v2beta1: true });
            }
            (essence, None, _, _) if is_json_like(essence) => return Ok(Representation::Json),
            _ => continue,
        }
    }
    Err(ApiError::not_acceptable(&["application/json"]))
}

/// The body formats a write may arrive in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    Json,
    Yaml,
    Protobuf,
}

/// Reads the Content-Type of a create or update body.
pub fn body_format(content_type: Option<&str>) -> ApiResult<BodyFormat> {
    let essence =
        content_type.and_then(|c| c.split(';').next()).map(|c| c.trim().to_ascii_lowercase()).unwrap_or_default();
    match essence.as_str() {
        "" | "application/json" | "*/*" => Ok(BodyFormat::Json),
        "application/yaml" | "application/x-yaml" | "text/yaml" => Ok(BodyFormat::Yaml),
        crate::protobuf::MEDIA_TYPE => Ok(BodyFormat::Protobuf),
        other => Err(ApiError::unsupported_media_type(
            other,
            &["application/json", "application/yaml", crate::protobuf::MEDIA_TYPE],
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_get_asks_for_tables_and_gets_them() {
        let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(choose(Some(accept), true).unwrap(), Representation::Table);
    }

    #[test]
    fn protobuf_with_json_fallback_gets_json_but_protobuf_only_is_refused() {
        assert_eq!(
            choose(Some("application/vnd.kubernetes.protobuf, application/json"), false).unwrap(),
            Representation::Json
        );
        let refused = choose(Some("application/vnd.kubernetes.protobuf"), false).unwrap_err();
        assert_eq!(refused.code(), 406);
    }

    #[test]
    fn no_accept_header_means_json() {
        assert_eq!(choose(None, false).unwrap(), Representation::Json);
        assert_eq!(choose(Some("*/*"), false).unwrap(), Representation::Json);
    }

    #[test]
    fn partial_object_metadata_follows_the_list_or_item_shape() {
        let accept = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";
        assert_eq!(choose(Some(accept), true).unwrap(), Representation::PartialObjectMetadata { list: true });
        assert_eq!(choose(Some(accept), false).unwrap(), Representation::PartialObjectMetadata { list: false });
    }

    #[test]
    fn kubectl_discovery_accept_prefers_aggregated_v2() {
        let accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(choose_discovery(Some(accept)).unwrap(), Representation::AggregatedDiscovery { v2beta1: false });
        assert_eq!(choose_discovery(Some("application/json")).unwrap(), Representation::Json);
    }

    #[test]
    fn body_formats() {
        assert_eq!(body_format(Some("application/json; charset=utf-8")).unwrap(), BodyFormat::Json);
        assert_eq!(body_format(Some("application/yaml")).unwrap(), BodyFormat::Yaml);
        assert_eq!(body_format(Some("application/vnd.kubernetes.protobuf")).unwrap(), BodyFormat::Protobuf);
        assert_eq!(body_format(Some("application/cbor")).unwrap_err().code(), 415);
    }
}
