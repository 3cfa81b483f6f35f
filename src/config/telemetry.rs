//! Trace export (`[telemetry]`): off unless `otlp_endpoint` is set. The headers sent to
//! the collector usually carry its API key, so they are read from `otlp_headers` or a file
//! of their own (`otlp_headers_file`) and never shown: `config check` and `Debug` name the
//! headers, not their values.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Longest service name sent to a collector (the resource attribute `service.name`).
const MAX_SERVICE_NAME: usize = 64;

/// Header names the exporter sets itself; a configured one would be sent twice or break
/// the request.
const RESERVED_HEADERS: &[&str] = &["content-type", "content-length", "host"];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawTelemetry {
    /// The collector's OTLP/HTTP base URL (`http://collector:4318`); spans go to
    /// `/v1/traces` below it. Unset: nothing is exported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otlp_endpoint: Option<String>,
    /// Headers for the collector in OTLP's own format, `key=value,key2=value2`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otlp_headers: Option<String>,
    /// A file holding them (one `key=value` per line, or comma-separated).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otlp_headers_file: Option<PathBuf>,
    /// `service.name` of the exported spans.
    pub service_name: String,
    /// Share of traces started here that are recorded (0 to 1); a request that arrives
    /// with a `traceparent` follows its sender's decision.
    pub sample_ratio: f64,
}

impl Default for RawTelemetry {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            otlp_headers: None,
            otlp_headers_file: None,
            service_name: "portcullis".into(),
            sample_ratio: 1.0,
        }
    }
}

/// The validated `[telemetry]` section.
#[derive(Debug, Clone, Default)]
pub struct TelemetryConfig {
    /// None: trace export is off, and costs nothing.
    pub otlp: Option<OtlpConfig>,
}

#[derive(Debug, Clone)]
pub struct OtlpConfig {
    /// Where spans are posted: the endpoint with `/v1/traces` appended.
    pub traces_url: url::Url,
    pub headers: OtlpHeaders,
    pub service_name: String,
    pub sample_ratio: f64,
}

/// Header names and (secret) values for the collector.
#[derive(Clone, Default)]
pub struct OtlpHeaders(Vec<(String, Zeroizing<String>)>);

impl OtlpHeaders {
    pub fn names(&self) -> Vec<&str> {
        self.0.iter().map(|(name, _)| name.as_str()).collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

impl std::fmt::Debug for OtlpHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(name, _)| format!("{name}: <hidden>")))
            .finish()
    }
}

impl OtlpConfig {
    pub fn redacted(&self) -> serde_json::Value {
        serde_json::json!({
            "otlp_endpoint": self.traces_url.as_str(),
            "otlp_headers": self.headers.names(),
            "service_name": self.service_name,
            "sample_ratio": self.sample_ratio,
        })
    }
}

/// The OTLP/HTTP traces URL for a base endpoint, as `OTEL_EXPORTER_OTLP_ENDPOINT` is read:
/// `/v1/traces` is appended to its path.
pub fn traces_url(endpoint: &str) -> Result<url::Url, String> {
    let mut url =
        url::Url::parse(endpoint.trim()).map_err(|e| format!("`{endpoint}` is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "`{endpoint}` must be an http or https URL (OTLP over HTTP; gRPC is not supported)"
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{endpoint}` names no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("put credentials in telemetry.otlp_headers_file, not in the URL".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("`{endpoint}` must have no query or fragment"));
    }
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("{path}/v1/traces"));
    Ok(url)
}

/// Parses `key=value` pairs separated by commas or new lines. Errors name the pair by its
/// position and header name, never its value.
pub fn parse_headers(text: &str) -> Result<OtlpHeaders, String> {
    let mut headers: Vec<(String, Zeroizing<String>)> = Vec::new();
    for (n, pair) in text
        .split([',', '\n'])
        .map(str::trim)
        .filter(|p| !p.is_empty() && !p.starts_with('#'))
        .enumerate()
    {
        let Some((name, value)) = pair.split_once('=') else {
            return Err(format!("header #{} is not `name=value`", n + 1));
        };
        let name = name.trim().to_ascii_lowercase();
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() || name.is_empty() {
            return Err(format!("header #{} has no valid name", n + 1));
        }
        if RESERVED_HEADERS.contains(&name.as_str()) {
            return Err(format!("header `{name}` is set by the exporter itself"));
        }
        let value = Zeroizing::new(value.trim().to_owned());
        if http::HeaderValue::from_str(&value).is_err() {
            return Err(format!(
                "the value of header `{name}` has characters a header cannot carry"
            ));
        }
        if headers.iter().any(|(n, _)| *n == name) {
            return Err(format!("header `{name}` is given more than once"));
        }
        headers.push((name, value));
    }
    Ok(OtlpHeaders(headers))
}

pub fn check_service_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > MAX_SERVICE_NAME
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(format!(
            "`{name}` is not a service name (a-z, A-Z, 0-9, - _ . up to {MAX_SERVICE_NAME})"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_get_the_traces_path() {
        let url = |e: &str| traces_url(e).map(|u| u.to_string());
        assert_eq!(
            url("http://collector:4318").unwrap(),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            url("https://otlp.example.com/otel/").unwrap(),
            "https://otlp.example.com/otel/v1/traces"
        );
        assert!(url("grpc://collector:4317").unwrap_err().contains("http"));
        assert!(url("collector:4318").is_err());
        assert!(
            url("https://user:pw@otlp.example.com")
                .unwrap_err()
                .contains("otlp_headers_file")
        );
        assert!(url("https://otlp.example.com/?k=v").is_err());
    }

    #[test]
    fn headers_parse_and_hide_their_values() {
        let h = parse_headers("Authorization=Bearer s3cret, x-tenant = acme\n").unwrap();
        assert_eq!(h.names(), ["authorization", "x-tenant"]);
        assert_eq!(
            h.iter().collect::<Vec<_>>(),
            [("authorization", "Bearer s3cret"), ("x-tenant", "acme")]
        );
        let shown = format!("{h:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("authorization"), "{shown}");
        let err = parse_headers("x-key=v1\nbad pair").unwrap_err();
        assert_eq!(err, "header #2 is not `name=value`");
        let err = parse_headers("x-key=s3cret\u{7f}").unwrap_err();
        assert!(!err.contains("s3cret"), "{err}");
        assert!(parse_headers("content-type=text/plain").is_err());
        assert!(
            parse_headers("a=1,A=2")
                .unwrap_err()
                .contains("more than once")
        );
        assert!(parse_headers("").unwrap().names().is_empty());
    }
}
