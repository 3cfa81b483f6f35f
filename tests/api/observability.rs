//! Request ids, the access log and trace export (issue 23, item 4): every answer carries
//! `X-Request-Id` (the sent one when sane, else a new one), the access log names the
//! client's address and user agent, and with `telemetry.otlp_endpoint` set a request's span
//! reaches an OTLP/HTTP collector as the child of the `traceparent` it came with.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use prost::Message as _;

use crate::helpers::{PATIENCE, POLL, TestDb, eventually_blocking, spawn_app};

const HEADER: &str = "x-request-id";

fn id_of(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(HEADER)
        .unwrap_or_else(|| panic!("no {HEADER} on {}", response.url()))
        .to_str()
        .unwrap()
        .to_owned()
}

fn plain(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:+/=@".contains(&b))
}

#[tokio::test]
async fn a_sane_request_id_is_echoed_on_both_listeners() {
    let app = spawn_app().await;
    let sent = "9b2f1e3c-8a41-4c4e-9d2a-1f0e7c6b5a49";
    for url in [
        format!("{}/.well-known/openid-configuration", app.base),
        format!("{}/health/live", app.admin),
    ] {
        let answer = app
            .http
            .get(&url)
            .header(HEADER, sent)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{url}");
        assert_eq!(id_of(&answer), sent, "{url}");
    }
}

#[tokio::test]
async fn a_request_id_is_minted_when_absent_and_replaced_when_malformed() {
    let app = spawn_app().await;
    let discovery = format!("{}/.well-known/openid-configuration", app.base);
    let first = id_of(&app.http.get(&discovery).send().await.unwrap());
    let second = id_of(&app.http.get(&discovery).send().await.unwrap());
    assert!(plain(&first) && plain(&second), "{first} {second}");
    assert_ne!(first, second, "each request gets its own");

    let too_long = "a".repeat(129);
    for malformed in [
        "has space",
        "quote\"d",
        "per%cent",
        "semi;colon",
        too_long.as_str(),
    ] {
        let answer = app
            .http
            .get(&discovery)
            .header(HEADER, malformed)
            .send()
            .await
            .unwrap();
        let id = id_of(&answer);
        assert_ne!(id, malformed);
        assert!(plain(&id), "{malformed:?} replaced by {id:?}");
    }
    // Two ids: neither is believed.
    let answer = app
        .http
        .get(&discovery)
        .header(HEADER, "one")
        .header(HEADER, "two")
        .send()
        .await
        .unwrap();
    let id = id_of(&answer);
    assert!(id != "one" && id != "two" && plain(&id), "{id}");
}

/// Errors carry the id too: an unknown path, a refused token request, an admin call
/// without credentials, and a body the extractor refuses.
#[tokio::test]
async fn error_answers_carry_the_request_id() {
    let app = spawn_app().await;
    let cases = [
        app.http.get(format!("{}/no-such-page", app.base)),
        app.http
            .post(format!("{}/token", app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=nonsense"),
        app.http
            .post(format!("{}/token", app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(vec![b'a'; 64 * 1024]),
        app.http.get(format!("{}/admin/v1/clients", app.admin)),
        app.http.get(format!("{}/no-such-page", app.admin)),
    ];
    for (n, request) in cases.into_iter().enumerate() {
        let sent = format!("err-case-{n}");
        let answer = request.header(HEADER, &sent).send().await.unwrap();
        assert!(
            answer.status().is_client_error(),
            "case {n}: {}",
            answer.status()
        );
        assert_eq!(id_of(&answer), sent, "case {n}");
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `portcullis serve` with JSON logs on free ports, plus `extra` settings; returns once
/// it is ready.
fn serve(db: &TestDb, extra: &[(&str, String)]) -> (Child, u16) {
    let (http, admin) = (free_port(), free_port());
    let mut cmd = crate::cli::base_command(db);
    cmd.env("PORTCULLIS_HTTP__BIND", format!("127.0.0.1:{http}"))
        .env("PORTCULLIS_ADMIN__BIND", format!("127.0.0.1:{admin}"))
        .env("PORTCULLIS_LOG__FORMAT", "json");
    for (name, value) in extra {
        cmd.env(name, value);
    }
    let mut child = cmd
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    while !crate::cli::base_command(db)
        .env("PORTCULLIS_ADMIN__BIND", format!("127.0.0.1:{admin}"))
        .arg("healthcheck")
        .output()
        .unwrap()
        .status
        .success()
    {
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let mut logs = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut logs)
                .unwrap();
            panic!("server never became ready:\n{logs}");
        }
        std::thread::sleep(POLL);
    }
    (child, http)
}

/// Stops the server with SIGTERM and returns what it logged.
fn stop(mut child: Child) -> String {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = eventually_blocking("the server to stop on SIGTERM", || {
        child.try_wait().unwrap()
    });
    let mut logs = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert!(exit.success(), "clean exit: {exit:?}\n{logs}");
    logs
}

/// One raw HTTP/1.1 GET with the given header lines; the status line.
fn get(port: u16, path: &str, headers: &[String]) -> String {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    for h in headers {
        request.push_str(h);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    conn.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    answer.lines().next().unwrap_or_default().to_owned()
}

/// The access log's line for a request: its id (in the span), route, status, the client's
/// address, and its user agent cut to 256 bytes; never the query string.
#[test]
fn the_access_log_names_the_client_address_and_user_agent() {
    let db = TestDb::new();
    let (child, http) = serve(&db, &[]);
    let agent = format!("obs-test/1.0 \"quoted\" {}", "x".repeat(400));
    let status = get(
        http,
        "/.well-known/openid-configuration?probe=query-secret-42",
        &[
            format!("User-Agent: {agent}"),
            "X-Request-Id: access-log-probe-1".into(),
        ],
    );
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    let status = get(
        http,
        "/missing",
        &["X-Request-Id: access-log-probe-2".into()],
    );
    assert!(status.starts_with("HTTP/1.1 404"), "{status}");
    let logs = stop(child);
    assert!(!logs.contains("query-secret-42"), "{logs}");

    let line = |id: &str| -> serde_json::Value {
        logs.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|l| l["message"] == "request" && l["span"]["request_id"] == id)
            .unwrap_or_else(|| panic!("no access-log line for {id}:\n{logs}"))
    };
    let found = line("access-log-probe-1");
    assert_eq!(found["status"], 200);
    assert_eq!(found["route"], "/.well-known/openid-configuration");
    assert_eq!(found["client_ip"], "127.0.0.1");
    assert_eq!(found["span"]["path"], "/.well-known/openid-configuration");
    let logged = found["user_agent"].as_str().unwrap();
    assert_eq!(logged, &agent[..256]);
    assert!(found["elapsed_ms"].as_f64().is_some(), "{found}");

    let missing = line("access-log-probe-2");
    assert_eq!(missing["status"], 404);
    assert_eq!(missing["route"], "unmatched");
    assert_eq!(missing["user_agent"], "");
}

/// What the test's collector received: each request's headers and its decoded body.
type Received = Arc<Mutex<Vec<(Vec<String>, Vec<u8>)>>>;

/// A minimal OTLP/HTTP collector: answers every POST with 200 and keeps what came.
fn collector() -> (u16, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let received: Received = Arc::default();
    let keep = Arc::clone(&received);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let keep = Arc::clone(&keep);
            std::thread::spawn(move || serve_collector_connection(conn, &keep));
        }
    });
    (port, received)
}

fn serve_collector_connection(conn: TcpStream, keep: &Received) {
    let mut writer = conn.try_clone().unwrap();
    let mut reader = BufReader::new(conn);
    loop {
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return; // connection closed
            }
            let line = line.trim_end().to_owned();
            if line.is_empty() {
                break;
            }
            headers.push(line);
        }
        let length = headers
            .iter()
            .find_map(|h| {
                let (name, value) = h.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        keep.lock().unwrap().push((headers, body));
        let answer =
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// With `telemetry.otlp_endpoint` set, a request's span reaches the collector in the trace
/// its `traceparent` named, as the child of the caller's span, with the request id; the
/// collector's header (from `otlp_headers_file`) is sent and never logged.
#[test]
fn spans_reach_an_otlp_collector_in_the_callers_trace() {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

    let db = TestDb::new();
    let (port, received) = collector();
    let headers_file = db.dir.path().join("otlp-headers");
    std::fs::write(&headers_file, "x-collector-key=collector-s3cret-77\n").unwrap();
    let (child, http) = serve(
        &db,
        &[
            (
                "PORTCULLIS_TELEMETRY__OTLP_ENDPOINT",
                format!("http://127.0.0.1:{port}"),
            ),
            (
                "PORTCULLIS_TELEMETRY__OTLP_HEADERS_FILE",
                headers_file.display().to_string(),
            ),
            (
                "PORTCULLIS_TELEMETRY__SERVICE_NAME",
                "portcullis-test".into(),
            ),
        ],
    );
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent_id = "00f067aa0ba902b7";
    let status = get(
        http,
        "/.well-known/openid-configuration",
        &[
            format!("traceparent: 00-{trace_id}-{parent_id}-01"),
            "X-Request-Id: traced-request-1".into(),
        ],
    );
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    // Stopping flushes the exporter's buffer.
    let logs = stop(child);
    assert!(logs.contains("exporting traces over OTLP"), "{logs}");
    assert!(!logs.contains("collector-s3cret-77"), "{logs}");

    let received = received.lock().unwrap().clone();
    assert!(
        !received.is_empty(),
        "the collector received nothing:\n{logs}"
    );
    for (headers, _) in &received {
        assert!(
            headers.iter().any(|h| h.starts_with("POST /v1/traces ")),
            "{headers:?}"
        );
        assert!(
            headers
                .iter()
                .any(|h| h.eq_ignore_ascii_case("x-collector-key: collector-s3cret-77")),
            "{headers:?}"
        );
        assert!(
            headers
                .iter()
                .any(|h| h.eq_ignore_ascii_case("content-type: application/x-protobuf")),
            "{headers:?}"
        );
    }
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let mut found = None;
    for (_, body) in &received {
        let export = ExportTraceServiceRequest::decode(body.as_slice()).unwrap();
        for resource in &export.resource_spans {
            let service = resource
                .resource
                .as_ref()
                .and_then(|r| r.attributes.iter().find(|a| a.key == "service.name"))
                .and_then(|a| a.value.as_ref())
                .map(|v| format!("{:?}", v.value));
            for scope in &resource.scope_spans {
                for span in &scope.spans {
                    if hex(&span.trace_id) == trace_id {
                        found = Some((span.clone(), service.clone()));
                    }
                }
            }
        }
    }
    let (span, service) = found.unwrap_or_else(|| panic!("no span in trace {trace_id}"));
    assert_eq!(span.name, "http_request");
    assert_eq!(hex(&span.parent_span_id), parent_id);
    assert!(
        service
            .as_deref()
            .is_some_and(|s| s.contains("portcullis-test")),
        "{service:?}"
    );
    let attribute = |key: &str| {
        span.attributes
            .iter()
            .find(|a| a.key == key)
            .and_then(|a| a.value.as_ref())
            .map(|v| format!("{:?}", v.value))
            .unwrap_or_default()
    };
    assert!(
        attribute("request_id").contains("traced-request-1"),
        "{:?}",
        span.attributes
    );
    assert!(
        attribute("path").contains("/.well-known/openid-configuration"),
        "{:?}",
        span.attributes
    );
}
