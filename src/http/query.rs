//! Query strings: `application/x-www-form-urlencoded` parsing into a small multimap, and the
//! typed readers for the parameters kube-apiserver accepts.

use crate::error::{ApiError, ApiResult};

/// A parsed query string, keeping every value of a repeated key in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Query {
    pub fn parse(raw: &str) -> Query {
        let pairs = raw
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| match pair.split_once('=') {
                Some((key, value)) => (percent_decode(key), percent_decode(value)),
                None => (percent_decode(pair), String::new()),
            })
            .collect();
        Query { pairs }
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Every value of `key`.
    pub fn all(&self, key: &str) -> impl Iterator<Item = &str> {
        self.pairs.iter().filter(move |(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// A boolean parameter: `true`/`1` (and a bare `?key`) mean yes.
    pub fn flag(&self, key: &str) -> ApiResult<bool> {
        match self.get(key) {
            None => Ok(false),
            Some("" | "true" | "1" | "True") => Ok(true),
            Some("false" | "0" | "False") => Ok(false),
            Some(other) => Err(ApiError::bad_request(format!(
                "invalid value for {key}: {other:?}: strconv.ParseBool: parsing {other:?}: invalid syntax"
            ))),
        }
    }

    /// An integer parameter.
    pub fn integer(&self, key: &str) -> ApiResult<Option<i64>> {
        match self.get(key).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(text) => text.parse().map(Some).map_err(|_| {
                ApiError::bad_request(format!(
                    "invalid value for {key}: {text:?}: strconv.ParseInt: parsing {text:?}: invalid syntax"
                ))
            }),
        }
    }

    /// `dryRun`: only `All` is valid, as in kube-apiserver.
    pub fn dry_run(&self) -> ApiResult<bool> {
        let mut dry_run = false;
        for value in self.all("dryRun") {
            match value {
                "All" => dry_run = true,
                "" => {}
                other => {
                    return Err(ApiError::bad_request(format!(
                        "Invalid dry run value: {other:?}. Valid values are: All"
                    )));
                }
            }
        }
        Ok(dry_run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_selectors_and_flags() {
        let query = Query::parse("labelSelector=app%3Dweb%2Ctier+in+%28a%2Cb%29&watch=1&dryRun=All&limit=5");
        assert_eq!(query.get("labelSelector"), Some("app=web,tier in (a,b)"));
        assert!(query.flag("watch").unwrap());
        assert!(query.dry_run().unwrap());
        assert_eq!(query.integer("limit").unwrap(), Some(5));
        assert!(Query::parse("dryRun=Some").dry_run().is_err());
        assert_eq!(Query::parse("a=%zz").get("a"), Some("%zz"));
        assert_eq!(Query::parse("a=%4").get("a"), Some("%4"));
    }
}
