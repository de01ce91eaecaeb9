//! TLS inside the service (feature `tls`): the API over https with a certificate the client
//! trusts, no answer in clear text on the TLS port, a client that stalls its handshake
//! holds up no one, and certificate or key files that do not read are named.
#![cfg(feature = "tls")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use holdpoint_server::tls::{TlsFiles, load};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn the_whole_api_answers_over_https_with_the_services_certificate() {
    let s = support::start_tls("https").await;
    assert!(s.base.starts_with("https://127.0.0.1:"), "{}", s.base);
    let (status, _) = s.send("GET", "/healthz", None, None).await;
    assert_eq!(status, 200);
    let call = json!({"tool": "refund.create", "args": {"amount": 40, "currency": "USD"}});
    let (status, body) = s
        .send(
            "POST",
            "/v1/decisions",
            Some(&s.agent),
            Some(call.to_string()),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert!(v.get("effect").and_then(Value::as_str).is_some(), "{v}");
    let (status, body) = s.send("GET", "/v1/inbox", Some(&s.approver), None).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_certificate_gets_no_answer() {
    let s = support::start_tls("untrusted").await;
    let stranger = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .build()
        .unwrap();
    let e = stranger
        .get(format!("{}/healthz", s.base))
        .send()
        .await
        .unwrap_err();
    assert!(e.is_connect(), "{e:?}");
}

#[tokio::test]
async fn plain_http_on_the_tls_port_gets_no_answer() {
    let s = support::start_tls("plain").await;
    let plain = s.base.replace("https://", "http://");
    let answer = reqwest::Client::new()
        .get(format!("{plain}/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(
        answer.is_err(),
        "a clear-text call was answered: {answer:?}"
    );
}

#[tokio::test]
async fn a_stalled_handshake_holds_up_no_one() {
    let s = support::start_tls("stall").await;
    let addr = s.base.trim_start_matches("https://").to_string();
    // Connections that never say hello, and one that sends half a record.
    let mut idle = Vec::new();
    for _ in 0..8 {
        idle.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    let mut half = tokio::net::TcpStream::connect(&addr).await.unwrap();
    half.write_all(&[0x16, 0x03, 0x01, 0x02]).await.unwrap();
    let answered = tokio::time::timeout(
        Duration::from_secs(5),
        s.send("GET", "/healthz", None, None),
    )
    .await
    .expect("a stalled handshake held up another client");
    assert_eq!(answered.0, 200);
    drop(idle);
}

#[test]
fn certificate_and_key_files_that_do_not_serve_are_named() {
    let dir = std::env::temp_dir().join(format!("holdpoint-{}-tlsfiles", std::process::id()));
    let (cert, key, _) = support::self_signed(&dir);
    let (other_cert, _, _) = support::self_signed(&dir.join("other"));
    let missing = dir.join("missing.pem");
    let not_pem = dir.join("notes.txt");
    std::fs::write(&not_pem, "just some words\n").unwrap();
    let error = |cert: &std::path::Path, key: &std::path::Path| {
        load(&TlsFiles {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
        })
        .map(|_| ())
        .unwrap_err()
        .to_string()
    };
    assert!(
        load(&TlsFiles {
            cert: cert.clone(),
            key: key.clone()
        })
        .is_ok()
    );

    let e = error(&missing, &key);
    assert!(
        e.contains("--tls-cert") && e.contains("missing.pem") && e.contains("cannot read"),
        "{e}"
    );
    let e = error(&not_pem, &key);
    assert!(
        e.contains("--tls-cert") && e.contains("no certificate"),
        "{e}"
    );
    let e = error(&cert, &not_pem);
    assert!(
        e.contains("--tls-key") && e.contains("no private key"),
        "{e}"
    );
    // The key given as the certificate, and a certificate given as the key.
    let e = error(&key, &key);
    assert!(
        e.contains("--tls-cert") && e.contains("no certificate"),
        "{e}"
    );
    let e = error(&cert, &cert);
    assert!(e.contains("--tls-key"), "{e}");
    // A key that is not the certificate's.
    let e = error(&other_cert, &key);
    assert!(e.contains("--tls-cert") && e.contains("--tls-key"), "{e}");
}
