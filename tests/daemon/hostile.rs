//! Hostile HTTP input against the real daemon: oversized and trickled bodies, trickled
//! headers, wrong content types, malformed, non-UTF-8, huge and deeply nested documents,
//! and path segments made of `..`, encoded slashes, quotes and SQL. Each gets a 4xx
//! answer in the API's error format (or a timeout, or a closed connection), and the store
//! is the same afterwards, compared through a dump of every pipeline and execution.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

const HOOK_SECRET: &str = "hostile-hook-secret-0123456789";

/// Everything the API shows of the store: each pipeline, its history and each execution.
async fn dump(daemon: &Daemon) -> Value {
    let (status, list) = daemon.get("/api/v1/pipelines").await;
    assert_eq!(status, 200);
    let mut pipelines = Vec::new();
    for summary in list.as_array().unwrap() {
        let name = summary["name"].as_str().unwrap();
        let (_, detail) = daemon.get(&format!("/api/v1/pipelines/{name}")).await;
        let (_, history) = daemon
            .get(&format!("/api/v1/pipelines/{name}/executions?limit=1000"))
            .await;
        let mut executions = Vec::new();
        for execution in history.as_array().unwrap() {
            let id = execution["id"].as_str().unwrap();
            executions.push(daemon.get(&format!("/api/v1/executions/{id}")).await.1);
        }
        pipelines.push(json!({"summary": summary, "detail": detail, "executions": executions}));
    }
    Value::Array(pipelines)
}

/// A request written byte for byte, as no well-behaved client would; returns the status
/// and the body of the answer.
async fn raw(daemon: &Daemon, head: &str, body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(daemon.url.trim_start_matches("http://"))
        .await
        .unwrap();
    let request = format!(
        "{head}\r\nHost: baton\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\
         Content-Length: {}\r\n\r\n",
        daemon.token,
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    read_answer(stream).await
}

async fn read_answer(mut stream: TcpStream) -> (u16, String) {
    let mut answer = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut answer))
        .await
        .expect("the daemon answers")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"));
    let body = answer
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

/// A client error in the API's format, with the given status if one is named.
fn assert_refused(what: &str, status: u16, body: &str, expected: Option<u16>) {
    match expected {
        Some(expected) => assert_eq!(status, expected, "{what}: {body}"),
        None => assert!((400..500).contains(&status), "{what}: {status} {body}"),
    }
    let body: Value = serde_json::from_str(body)
        .unwrap_or_else(|_| panic!("{what}: the answer is not JSON: {body:?}"));
    assert!(
        body["error"]["code"].is_string() && body["error"]["message"].is_string(),
        "{what}: {body}"
    );
}

fn deep(open: &str, depth: usize) -> Vec<u8> {
    open.repeat(depth).into_bytes()
}

fn many_fields(count: usize) -> Vec<u8> {
    let fields: Vec<String> = (0..count).map(|n| format!("\"f{n}\": 1")).collect();
    format!("{{\"variables\": {{{}}}}}", fields.join(", ")).into_bytes()
}

#[tokio::test]
async fn hostile_requests_get_client_errors_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let config = format!(
        "limits:\n  max_body_bytes: 1048576\n  request_body_timeout: 1s\n  request_header_timeout: 1s\n\
         servers:\n  - {{name: jk, kind: jenkins, url: \"http://127.0.0.1:9\", callback: {{secret: {HOOK_SECRET}}}}}\n"
    );
    let daemon = Daemon::start(dir.path(), &config).await;
    let good = format!(
        "name: keep\nstages:\n  - name: S\n    actions:\n      - {{name: A, provider: Git, configuration: {{RepositoryUrl: '{}', BranchName: main}}}}\n  - name: T\n    actions:\n      - {{name: Gate, provider: Manual}}\n",
        repo.url
    );
    daemon.apply("keep", &good).await;
    let id = daemon.start_run("keep", json!({})).await;
    daemon.wait_action(&id, "T", "Gate", "InProgress").await;
    let before = dump(&daemon).await;

    let put = "PUT /api/v1/pipelines/keep HTTP/1.1";
    let start = "POST /api/v1/pipelines/keep/executions HTTP/1.1";
    let stop = format!("POST /api/v1/executions/{id}/stop HTTP/1.1");
    let approve = format!("POST /api/v1/executions/{id}/stages/T/actions/Gate/approval HTTP/1.1");
    let hook = format!("POST /hooks/jenkins/jk?token={HOOK_SECRET} HTTP/1.1");
    let yaml = "Content-Type: application/yaml";
    let json_type = "Content-Type: application/json";
    let mut cases: Vec<(String, Vec<u8>, Option<u16>)> = vec![
        // Wrong content types.
        (format!("{put}\r\nContent-Type: image/png"), good.clone().into_bytes(), Some(415)),
        (
            format!("{put}\r\nContent-Type: application/x-www-form-urlencoded"),
            good.clone().into_bytes(),
            Some(415),
        ),
        (format!("{start}\r\nContent-Type: text/plain"), b"{}".to_vec(), Some(415)),
        (
            format!("{stop}\r\nContent-Type: application/x-www-form-urlencoded"),
            b"abandon=true".to_vec(),
            Some(415),
        ),
        // Malformed, mistyped and non-UTF-8 documents.
        (format!("{put}\r\n{yaml}"), b"name: [keep".to_vec(), Some(400)),
        (format!("{put}\r\n{json_type}"), b"{\"name\": ".to_vec(), Some(400)),
        (format!("{put}\r\n{yaml}"), b"name: keep\n\xff\xfe: x\n".to_vec(), Some(400)),
        (format!("{put}\r\n{yaml}"), b"\0\0\0\0".to_vec(), Some(400)),
        (format!("{start}\r\n{json_type}"), b"{\"variables\": ".to_vec(), Some(400)),
        (format!("{start}\r\n{json_type}"), b"{\"variables\": {\"a\": \"\xff\"}}".to_vec(), Some(400)),
        (format!("{start}\r\n{json_type}"), b"{\"variables\": 7}".to_vec(), Some(400)),
        (format!("{stop}\r\n{json_type}"), b"{\"abandon\": \"yes\"}".to_vec(), Some(400)),
        (format!("{approve}\r\n{json_type}"), b"{}".to_vec(), Some(400)),
        (format!("{approve}\r\n{json_type}"), b"null".to_vec(), Some(400)),
        (format!("{hook}\r\n{json_type}"), b"{\"build\": ".to_vec(), Some(400)),
        // Queries that do not parse.
        ("GET /api/v1/pipelines/keep/executions?limit=-1 HTTP/1.1".into(), Vec::new(), Some(400)),
        (format!("GET /api/v1/executions/{id}?since=yesterday HTTP/1.1"), Vec::new(), Some(400)),
        (
            format!("GET /api/v1/executions/{id}/stages/T/actions/Gate/log?offset=%FF HTTP/1.1"),
            Vec::new(),
            Some(400),
        ),
        // Huge numbers of fields.
        (format!("{start}\r\n{json_type}"), many_fields(50_000), Some(400)),
        (
            format!("{put}\r\n{yaml}"),
            (0..50_000).map(|n| format!("f{n}: 1\n")).collect::<String>().into_bytes(),
            Some(400),
        ),
        (
            format!("{put}\r\n{yaml}"),
            format!("name: keep\nstages:\n{}", "  - {name: S, actions: []}\n".repeat(20_000)).into_bytes(),
            Some(400),
        ),
        // Deeply nested documents.
        (format!("{put}\r\n{yaml}"), deep("[", 100_000), Some(400)),
        (format!("{put}\r\n{yaml}"), deep("{a: ", 100_000), Some(400)),
        (format!("{put}\r\n{yaml}"), deep("- ", 100_000), Some(400)),
        (format!("{put}\r\n{json_type}"), deep("[", 100_000), Some(400)),
        (format!("{start}\r\n{json_type}"), deep("[", 100_000), Some(400)),
        (format!("{stop}\r\n{json_type}"), deep("{\"a\":", 100_000), Some(400)),
        (format!("{hook}\r\n{json_type}"), deep("[", 100_000), Some(400)),
        // A YAML alias bomb: a few hundred bytes that expand to billions of nodes.
        (
            format!("{put}\r\n{yaml}"),
            b"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n\
              c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n\
              e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n\
              g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n\
              i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\nname: keep\n"
                .to_vec(),
            Some(400),
        ),
    ];

    // Names and ids made of path tricks, quotes and SQL.
    let hostile_names = [
        "..",
        "..%2F..%2Fetc%2Fpasswd",
        "%2E%2E",
        "keep%2F..",
        "%2F",
        "keep%00",
        "%FF%FE",
        "'",
        "%22keep%22",
        "keep'%20OR%20'1'%3D'1",
        "keep%3B%20DROP%20TABLE%20pipelines%3B--",
        "keep%27%29%3B%20DELETE%20FROM%20executions%3B--",
        "*",
        "%25",
    ];
    let long = "k".repeat(5000);
    for name in hostile_names.iter().copied().chain([long.as_str()]) {
        for head in [
            format!("GET /api/v1/pipelines/{name} HTTP/1.1"),
            format!("DELETE /api/v1/pipelines/{name} HTTP/1.1"),
            format!("GET /api/v1/pipelines/{name}/executions HTTP/1.1"),
            format!("POST /api/v1/pipelines/{name}/executions HTTP/1.1"),
            format!("POST /api/v1/pipelines/{name}/stages/T/transition HTTP/1.1"),
            format!("GET /api/v1/executions/{name} HTTP/1.1"),
            format!("POST /api/v1/executions/{name}/stop HTTP/1.1"),
            format!("POST /api/v1/executions/{id}/stages/{name}/retry HTTP/1.1"),
            format!("POST /api/v1/executions/{id}/stages/T/actions/{name}/approval HTTP/1.1"),
            format!("GET /api/v1/executions/{id}/stages/T/actions/{name}/log HTTP/1.1"),
            format!("POST /hooks/jenkins/{name}?token={HOOK_SECRET} HTTP/1.1"),
        ] {
            let body = if head.contains("/approval") || head.contains("/transition") {
                br#"{"approved": false, "enabled": false}"#.to_vec()
            } else {
                Vec::new()
            };
            cases.push((format!("{head}\r\n{json_type}"), body, None));
        }
        // The definition of `keep`, sent to the hostile name.
        cases.push((
            format!("PUT /api/v1/pipelines/{name} HTTP/1.1\r\n{yaml}"),
            good.clone().into_bytes(),
            None,
        ));
    }
    // A definition whose own name is the SQL, sent to that name.
    cases.push((
        "PUT /api/v1/pipelines/keep'%3B%20DROP%20TABLE%20pipelines%3B-- HTTP/1.1\r\nContent-Type: application/yaml".into(),
        good.replace("name: keep", "name: \"keep'; DROP TABLE pipelines;--\"").into_bytes(),
        Some(400),
    ));

    for (head, body, expected) in &cases {
        let started = Instant::now();
        let (status, answer) = raw(&daemon, head, body).await;
        let what = head.lines().next().unwrap();
        let what = &what[..what.len().min(200)];
        assert_refused(what, status, &answer, *expected);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{what} took {:?}",
            started.elapsed()
        );
    }

    // Bodies over the limit, through an ordinary client.
    let huge = vec![b' '; 1_100_000];
    for (method, path, content_type) in [
        (
            reqwest::Method::PUT,
            "/api/v1/pipelines/keep".to_string(),
            "application/yaml",
        ),
        (
            reqwest::Method::POST,
            "/api/v1/pipelines/keep/executions".into(),
            "application/json",
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/executions/{id}/stop"),
            "application/json",
        ),
        (
            reqwest::Method::POST,
            format!("/hooks/jenkins/jk?token={HOOK_SECRET}"),
            "application/json",
        ),
    ] {
        let response = reqwest::Client::new()
            .request(method.clone(), format!("{}{path}", daemon.url))
            .bearer_auth(&daemon.token)
            .header("content-type", content_type)
            .body(huge.clone())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let answer = response.text().await.unwrap();
        assert_refused(
            &format!("{method} {path} too large"),
            status,
            &answer,
            Some(413),
        );
    }

    // A client trickling its body gets 408 once the read timeout (1 s) passes, long before
    // it would have sent everything (a byte every 100 ms, 1000 bytes).
    let head = format!(
        "PUT /api/v1/pipelines/keep HTTP/1.1\r\nHost: baton\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/yaml\r\nContent-Length: 1000\r\n\r\n",
        daemon.token
    );
    let answer = send_slowly(&daemon, head.as_bytes(), vec![b'#'; 1000]).await;
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "a trickled body times out: {}",
        answer
    );

    // A client trickling its request line and headers (never finishing) is disconnected
    // once the header timeout (1 s) passes, before any of it reaches a handler.
    let head = format!(
        "POST /api/v1/pipelines/keep/executions HTTP/1.1\r\nHost: baton\r\n\
         Authorization: Bearer {}\r\nX-Padding: {}",
        daemon.token,
        "x".repeat(1000)
    );
    let answer = send_slowly(&daemon, b"", head.into_bytes()).await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "trickled headers reach no handler: {}",
        answer
    );

    assert_eq!(dump(&daemon).await, before, "the store is unchanged");
    let (status, _) = daemon.get("/readyz").await;
    assert_eq!(status, 200, "the daemon still serves");
    assert!(
        !daemon.log().contains("panicked"),
        "no handler panicked:\n{}",
        daemon.log()
    );
}

/// Sends `upfront` at once, then `trickled` a byte every 100 ms, and reads until the
/// daemon closes the connection. Asserts that it closed it well before the client would
/// have finished (within 30 s, while still sending). Returns what it wrote back.
async fn send_slowly(daemon: &Daemon, upfront: &[u8], trickled: Vec<u8>) -> String {
    let mut stream = TcpStream::connect(daemon.url.trim_start_matches("http://"))
        .await
        .unwrap();
    stream.write_all(upfront).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let trickle = tokio::spawn(async move {
        for byte in trickled {
            if writer.write_all(&[byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let started = Instant::now();
    let mut answer = Vec::new();
    tokio::time::timeout(PATIENCE, reader.read_to_end(&mut answer))
        .await
        .expect("the daemon gives up on a slow client")
        .ok();
    let sending = !trickle.is_finished();
    trickle.abort();
    assert!(sending, "closed only after the client had sent everything");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    String::from_utf8_lossy(&answer).into_owned()
}
