//! What axum itself refuses (a query, a path or a body that does not read, a body too
//! large) is answered like every other refusal: a 4xx with `{"error": {"code",
//! "message"}}`, as the OpenAPI document says. schemathesis found each of these as a
//! plain-text answer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::{error_code, start};

#[tokio::test]
async fn a_wait_timeout_that_is_not_a_number_is_a_json_400() {
    let s = start("reject-query").await;
    for query in ["timeout=soon", "timeout=-1", "timeout=1&also=2"] {
        let (code, body) = s
            .send(
                "GET",
                &format!("/v1/requests/hp_x/wait?{query}"),
                Some(&s.agent),
                None,
            )
            .await;
        assert_eq!(code, 400, "{query}: {body}");
        assert_eq!(
            error_code(&body).as_deref(),
            Some("bad_request"),
            "{query}: {body}"
        );
    }
}

#[tokio::test]
async fn a_request_id_that_is_not_utf8_is_a_json_400() {
    let s = start("reject-path").await;
    for path in ["/v1/requests/%FF", "/v1/requests/%C3%28/claim"] {
        let (code, body) = s
            .send(
                if path.ends_with("claim") {
                    "POST"
                } else {
                    "GET"
                },
                path,
                Some(&s.agent),
                None,
            )
            .await;
        assert_eq!(code, 400, "{path}: {body}");
        assert_eq!(
            error_code(&body).as_deref(),
            Some("bad_request"),
            "{path}: {body}"
        );
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_json_413() {
    let s = start("reject-size").await;
    let big = format!(
        r#"{{"tool": "refund", "args": {{"note": "{}"}}}}"#,
        "x".repeat(holdpoint_server::MAX_BODY + 1)
    );
    for path in ["/v1/decisions", "/v1/requests", "/v1/requests/hp_x/cancel"] {
        let (code, body) = s
            .send("POST", path, Some(&s.agent), Some(big.clone()))
            .await;
        assert_eq!(code, 413, "{path}: {body}");
        assert_eq!(
            error_code(&body).as_deref(),
            Some("too_large"),
            "{path}: {body}"
        );
    }
}

#[tokio::test]
async fn a_body_that_is_not_utf8_is_a_json_400() {
    let s = start("reject-utf8").await;
    let resp = s
        .client
        .post(format!("{}/v1/decisions", s.base))
        .bearer_auth(&s.agent)
        .body(vec![b'{', 0xff, b'}'])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body = resp.text().await.unwrap();
    assert_eq!(error_code(&body).as_deref(), Some("bad_request"), "{body}");
}
