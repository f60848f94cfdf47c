//! Client tests without a daemon: URLs, error sorting and token redaction.

use super::*;

fn client(base: &str) -> ApiClient {
    let base = ApiClient::parse_base(base).expect("valid base");
    ApiClient::new(base, Some("secret-token-value".into())).expect("client")
}

fn check_url(base: &str, segments: &[&str], query: &[(&str, &str)], expected: &str) {
    let url = client(base).url(segments, query).expect("url");
    assert_eq!(url.as_str(), expected);
}

#[test]
fn urls_encode_each_segment() {
    check_url(
        "http://127.0.0.1:8700",
        &["pipelines", "web.app@prod_v-1", "executions"],
        &[],
        "http://127.0.0.1:8700/api/v1/pipelines/web.app@prod_v-1/executions",
    );
    check_url(
        "localhost:8700",
        &["pipelines", "a/b c?d%e#f"],
        &[],
        "http://localhost:8700/api/v1/pipelines/a%2Fb%20c%3Fd%25e%23f",
    );
    check_url(
        "https://ci.example.com/baton/",
        &["executions", "0190f2c4-7a1b-7c3d-8e9f-0a1b2c3d4e5f"],
        &[("since", "2024-05-01T12:00:00.123+00:00")],
        "https://ci.example.com/baton/api/v1/executions/0190f2c4-7a1b-7c3d-8e9f-0a1b2c3d4e5f\
         ?since=2024-05-01T12%3A00%3A00.123%2B00%3A00",
    );
}

#[test]
fn bad_bases_are_rejected() {
    assert!(ApiClient::parse_base("http://").is_err());
    let file = Url::parse("file:///tmp/x").expect("url");
    assert!(ApiClient::new(file, None).is_err());
}

#[test]
fn debug_hides_the_token() {
    let shown = format!("{:?}", client("http://127.0.0.1:8700"));
    assert!(!shown.contains("secret-token-value"), "{shown}");
    assert!(shown.contains("<redacted>"), "{shown}");
}

#[test]
fn error_answers_are_sorted() {
    let c = client("http://127.0.0.1:8700");
    let body = br#"{"error":{"code":"invalid_pipeline","message":"2 problems","details":["p.yaml:3:5: x"]}}"#;
    match c.failure(StatusCode::BAD_REQUEST, body) {
        ClientError::Api {
            status: 400,
            code,
            details,
            ..
        } => {
            assert_eq!(code, "invalid_pipeline");
            assert_eq!(details, ["p.yaml:3:5: x"]);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        c.failure(StatusCode::UNAUTHORIZED, b""),
        ClientError::Unauthorized { sent_token: true }
    ));
    let forbidden = br#"{"error":{"code":"forbidden","message":"needs role admin"}}"#;
    assert_eq!(
        c.failure(StatusCode::FORBIDDEN, forbidden).to_string(),
        "the token's role does not allow this: needs role admin"
    );
    assert_eq!(
        c.failure(StatusCode::BAD_GATEWAY, b"<html>oops</html>")
            .to_string(),
        "Bad Gateway (http_502)"
    );
    assert_eq!(
        c.failure(StatusCode::NOT_FOUND, b"no route\n").to_string(),
        "Not Found: no route (http_404)"
    );
}
