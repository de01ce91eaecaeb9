//! The OpenAPI document as the running service serves it: OpenAPI 3.1, every route of the
//! router in it with its method, every operation but the public ones behind a bearer
//! scheme (and refusing a call without a token, as it says), every 4xx answer the error
//! shape, and every link pointing at an operation that exists.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use serde_json::Value;
use support::{error_code, start};

/// The operations anyone may call.
const PUBLIC: [&str; 4] = ["/healthz", "/v1/keys", "/openapi.json", "/metrics"];

async fn document(s: &support::Service) -> Value {
    let (code, body) = s.send("GET", "/openapi.json", None, None).await;
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// Every `(METHOD, path)` that `router()` in lib.rs routes, read from its source, so a
/// route added there without a document entry fails here.
fn routed() -> Vec<(String, String)> {
    let source = include_str!("../src/lib.rs");
    let body = source
        .split("pub fn router(")
        .nth(1)
        .and_then(|s| s.split("\n}\n").next())
        .expect("router() in lib.rs");
    let mut routes = Vec::new();
    for line in body.lines().filter(|l| l.contains(".route(\"")) {
        let path = line.split('"').nth(1).unwrap().to_string();
        for method in ["get", "post", "put", "patch", "delete"] {
            if line.contains(&format!("{method}(")) {
                routes.push((method.to_string(), path.clone()));
            }
        }
    }
    assert!(routes.len() >= 13, "{routes:?}");
    routes
}

/// Each operation of the document: (method, path, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut ops = Vec::new();
    for (path, methods) in doc["paths"].as_object().unwrap() {
        for (method, op) in methods.as_object().unwrap() {
            ops.push((method.clone(), path.clone(), op.clone()));
        }
    }
    ops
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_has_every_route() {
    let s = start("openapi-routes").await;
    let doc = document(&s).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        doc["openapi"]
    );
    for (method, path) in routed() {
        assert!(
            doc["paths"][&path][&method].is_object(),
            "{} {path} is routed but not in /openapi.json",
            method.to_uppercase()
        );
    }
    let ids: Vec<String> = operations(&doc)
        .iter()
        .map(|(_, _, op)| op["operationId"].as_str().unwrap().to_string())
        .collect();
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "operation ids repeat: {ids:?}");
}

#[tokio::test]
async fn every_operation_but_the_public_ones_needs_a_token_and_refuses_without() {
    let s = start("openapi-security").await;
    let doc = document(&s).await;
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    assert_eq!(schemes["service_token"]["scheme"], "bearer");
    assert_eq!(schemes["jwt"]["bearerFormat"], "JWT");
    for (method, path, op) in operations(&doc) {
        let security = op["security"].as_array().cloned().unwrap_or_default();
        let concrete = path.replace("{id}", "hp_unknown");
        let (code, body) = s.send(&method.to_uppercase(), &concrete, None, None).await;
        if PUBLIC.contains(&path.as_str()) {
            assert!(
                security.is_empty(),
                "{method} {path} is public: {security:?}"
            );
            assert_eq!(code, 200, "{method} {path} without a token: {body}");
            continue;
        }
        assert!(
            !security.is_empty(),
            "{method} {path} has no security requirement"
        );
        for requirement in &security {
            for name in requirement.as_object().unwrap().keys() {
                assert!(
                    schemes.contains_key(name),
                    "{method} {path}: no scheme `{name}`"
                );
            }
        }
        assert_eq!(code, 401, "{method} {path} without a token: {body}");
        assert!(
            op["responses"]["401"].is_object(),
            "{method} {path} does not say 401"
        );
        assert_eq!(
            error_code(&body).as_deref(),
            Some("unauthenticated"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn every_4xx_answer_is_the_error_shape_and_every_link_resolves() {
    let s = start("openapi-errors").await;
    let doc = document(&s).await;
    let error = &doc["components"]["schemas"]["ErrorBody"];
    assert_eq!(error["required"], serde_json::json!(["error"]), "{error}");
    let ids: Vec<String> = operations(&doc)
        .iter()
        .map(|(_, _, op)| op["operationId"].as_str().unwrap().to_string())
        .collect();
    let mut four_xx = 0;
    for (method, path, op) in operations(&doc) {
        for (status, answer) in op["responses"].as_object().unwrap() {
            if status.starts_with('4') || status.starts_with('5') {
                four_xx += 1;
                assert_eq!(
                    answer["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{method} {path} {status}"
                );
            }
            for (name, link) in answer["links"].as_object().into_iter().flatten() {
                let target = link["operationId"].as_str().unwrap_or_else(|| {
                    panic!("{method} {path} {status}: link `{name}` has no operationId: {link}")
                });
                assert!(
                    ids.iter().any(|i| i == target),
                    "link `{name}` -> `{target}`"
                );
            }
        }
    }
    assert!(four_xx > 40, "only {four_xx} error answers documented");
}
