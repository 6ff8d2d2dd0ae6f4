//! The Secrets conformance suite. The caller has stored `VIRAL_TEST_SECRET` = `s3cr3t-value`.

use viral_core::ports::{Secrets, SecretsError};

pub async fn run_all(secrets: &dyn Secrets) {
    let got = secrets.get("VIRAL_TEST_SECRET").await.expect("get");
    assert_eq!(got.as_ref().map(|s| s.expose()), Some("s3cr3t-value"));
    assert!(!format!("{got:?}").contains("s3cr3t"));
    assert_eq!(
        secrets.get("VIRAL_TEST_NO_SUCH_SECRET").await.unwrap(),
        None
    );
    assert!(matches!(
        secrets.get("../etc/passwd").await,
        Err(SecretsError::InvalidName(_))
    ));
}
