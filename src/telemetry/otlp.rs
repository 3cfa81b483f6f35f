//! Trace export over OTLP/HTTP with protobuf bodies, on only when `telemetry.otlp_endpoint`
//! is set. The exporter posts through our own reqwest client (rustls over aws-lc, the
//! Mozilla roots, no redirects: a redirect would carry the collector's API key elsewhere),
//! whose requests run on the server's runtime while the SDK's batch thread waits for them.
//! Only this crate's spans and events are exported (`portcullis::*` at info), never the
//! `audit` target: audit events name users and addresses, and stay in the audit log.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header::HeaderMap;
use bytes::Bytes;
use opentelemetry::propagation::{Extractor, TextMapPropagator as _};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{HttpClient, HttpError};
use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::{LevelFilter, Targets};

use super::BoxedLayer;
use crate::config::OtlpConfig;

/// One export's bound, connection to answer: a collector that hangs costs a batch, and
/// the stop of the server waits at most this long for the last one.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// A collector answers with a few bytes; more is not read.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The running exporter, if any. `shutdown` sends what is still buffered.
#[derive(Debug)]
pub struct Tracing {
    provider: Option<SdkTracerProvider>,
}

impl Tracing {
    pub(super) fn off() -> Self {
        Self { provider: None }
    }

    pub fn is_on(&self) -> bool {
        self.provider.is_some()
    }

    /// Exports the spans still buffered and stops the exporter (off the async threads:
    /// the SDK blocks while its batch thread sends, on this runtime).
    pub async fn shutdown(self) {
        let Some(provider) = self.provider else {
            return;
        };
        let stopped = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        match stopped {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::warn!(error = %err, "trace export did not stop cleanly"),
            Err(err) => tracing::warn!(error = %err, "trace export did not stop cleanly"),
        }
    }
}

/// Builds the exporter and the tracing layer that feeds it. Must run inside the runtime.
pub(super) fn start(config: &OtlpConfig) -> Result<(Tracing, BoxedLayer), String> {
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|_| "trace export needs the async runtime".to_owned())?;
    let client = ExportClient::new(runtime)?;
    let headers: HashMap<String, String> = config
        .headers
        .iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(config.traces_url.as_str())
        .with_timeout(EXPORT_TIMEOUT)
        .with_headers(headers)
        .build()
        .map_err(|e| format!("telemetry.otlp_endpoint: cannot build the exporter: {e}"))?;
    // A caller's sampling decision (the `traceparent` flags) stands; traces that start
    // here are sampled at `sample_ratio`.
    let sampler = Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(config.sample_ratio)));
    let resource = Resource::builder()
        .with_service_name(config.service_name.clone())
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ))
        .build();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(sampler)
        .with_resource(resource)
        .build();
    let tracer = provider.tracer("portcullis");
    let only_ours = Targets::new().with_target("portcullis", LevelFilter::INFO);
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(only_ours)
        .boxed();
    Ok((
        Tracing {
            provider: Some(provider),
        },
        layer,
    ))
}

/// Makes `span` a child of the W3C trace context the request carries. A missing or
/// malformed `traceparent` leaves it a root.
pub(super) fn adopt_parent(span: &Span, headers: &HeaderMap) {
    if !headers.contains_key("traceparent") {
        return;
    }
    let parent = TraceContextPropagator::new().extract(&Headers(headers));
    // Fails only when the span is filtered out or already started; it is neither.
    let _not_exported = span.set_parent(parent);
}

struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// The exporter's HTTP client: each request is sent on the server's runtime, and the
/// SDK's batch thread waits for its answer.
#[derive(Debug)]
struct ExportClient {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

impl ExportClient {
    fn new(runtime: tokio::runtime::Handle) -> Result<Self, String> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("trace export TLS: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(EXPORT_TIMEOUT)
            .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("trace export HTTP client: {e}"))?;
        Ok(Self { client, runtime })
    }
}

#[async_trait::async_trait]
impl HttpClient for ExportClient {
    async fn send_bytes(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, HttpError> {
        let request = reqwest::Request::try_from(request)?;
        let client = self.client.clone();
        let (status, headers, body) = self
            .runtime
            .spawn(async move {
                let mut response = client.execute(request).await?;
                let status = response.status();
                let headers = response.headers().clone();
                let mut body = Vec::new();
                while let Some(chunk) = response.chunk().await? {
                    if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                        break;
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok::<_, reqwest::Error>((status, headers, body))
            })
            .await??;
        let mut answer = http::Response::builder().status(status);
        if let Some(slot) = answer.headers_mut() {
            *slot = headers;
        }
        Ok(answer.body(Bytes::from(body))?)
    }
}
