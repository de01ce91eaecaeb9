//! The OpenAPI 3.1 document of the API, generated with utoipa from the handlers' own
//! annotations (`#[utoipa::path]` on each handler) and the types in [`schemas`], and
//! served without authentication at `GET /openapi.json`.
//!
//! Two bearer schemes: `service_token` (a token `policy tokens create` printed, `hpt_…`;
//! an agent's or an approver's) and `jwt` (an approver's JWT, when the service runs with
//! `--jwks`). Each operation names the ones that may call it.

pub mod schemas;

use std::sync::LazyLock;

use axum::Json;
use serde_json::Value;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The document as served, built once.
static DOCUMENT: LazyLock<Value> = LazyLock::new(document_json);

/// The document as JSON, as `GET /openapi.json` serves it.
pub fn document_json() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or(Value::Null);
    camel_case_links(&mut doc);
    doc
}

/// utoipa 5 writes a link's fields in snake case (`operation_id`); OpenAPI's names are
/// `operationId`, `operationRef` and `requestBody`.
fn camel_case_links(doc: &mut Value) {
    let operations = doc
        .get_mut("paths")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(Value::as_object_mut)
        .flat_map(|methods| methods.values_mut());
    let links = operations
        .filter_map(|op| op.get_mut("responses").and_then(Value::as_object_mut))
        .flat_map(|responses| responses.values_mut())
        .filter_map(|r| r.get_mut("links").and_then(Value::as_object_mut))
        .flat_map(|links| links.values_mut())
        .filter_map(Value::as_object_mut);
    for link in links {
        for (from, to) in [
            ("operation_id", "operationId"),
            ("operation_ref", "operationRef"),
            ("request_body", "requestBody"),
        ] {
            if let Some(v) = link.remove(from) {
                link.insert(to.to_string(), v);
            }
        }
    }
}

/// The API's OpenAPI description.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "holdpoint policy serve",
        description = "The approval service: agents submit tool calls and claim signed permits; approvers decide. See docs/server.md.",
    ),
    paths(
        healthz,
        document,
        crate::metrics::metrics,
        crate::agents::keys,
        crate::agents::decide,
        crate::agents::submit,
        crate::agents::show,
        crate::watch::wait,
        crate::watch::events,
        crate::watch::inbox_events,
        crate::agents::claim,
        crate::agents::report,
        crate::agents::cancel,
        crate::inbox::inbox,
        crate::inbox::stats,
        crate::approvers::decide,
        crate::approvers::preview,
    ),
    components(schemas(
        crate::agents::ReportBody,
        crate::agents::CancelBody,
        crate::approvers::DecisionBody,
    )),
    modifiers(&BearerSchemes),
    tags(
        (name = "agents", description = "An agent's calls (an agent's service token)."),
        (name = "approvers", description = "An approver's calls (an approver's service token or JWT)."),
        (name = "service", description = "Health, the public keys, this document: no authentication."),
    )
)]
pub struct ApiDoc;

/// Adds the two bearer schemes the operations refer to.
#[derive(Debug)]
struct BearerSchemes;

impl Modify for BearerSchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut token = Http::new(HttpAuthScheme::Bearer);
        token.bearer_format = Some("hpt_…".into());
        token.description = Some(
            "A service token printed once by `policy tokens create --agent NAME --tenant T` or `--approver ID`."
                .into(),
        );
        components.add_security_scheme("service_token", SecurityScheme::Http(token));
        let mut jwt = Http::new(HttpAuthScheme::Bearer);
        jwt.bearer_format = Some("JWT".into());
        jwt.description = Some(
            "An approver's OpenID Connect ID token or other JWT, verified against the JWKS given with `--jwks` (issuer, audience, expiry)."
                .into(),
        );
        components.add_security_scheme("jwt", SecurityScheme::Http(jwt));
    }
}

/// `GET /healthz`: `ok` while the service serves.
#[utoipa::path(
    get,
    operation_id = "healthz",
    path = "/healthz",
    tag = "service",
    responses((status = 200, description = "The service serves.", body = String, content_type = "text/plain"))
)]
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /openapi.json`: this document.
#[utoipa::path(
    get,
    operation_id = "openapi",
    path = "/openapi.json",
    tag = "service",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API.", body = Object))
)]
pub async fn document() -> Json<&'static Value> {
    Json(&DOCUMENT)
}
