//! The TokenVault conformance suite: sealed values open for their record only, unchanged;
//! nothing of the secret shows in what is stored; damage and other records are refused.

use viral_core::ports::{SecretString, TokenVault, VaultError};

pub async fn run_all(vault: &dyn TokenVault) {
    let secret = SecretString::new("rt_tiktok-refresh-token-Ääé-0123456789");
    let context = "T#tn_1/ACCOUNT#acc_1";
    let sealed = vault.seal(&secret, context).await.expect("seal");
    assert!(!sealed.contains("refresh-token"), "{sealed}");
    let opened = vault.open(&sealed, context).await.expect("open");
    assert_eq!(opened.expose(), secret.expose());
    // Fresh data key and nonce each time.
    let again = vault.seal(&secret, context).await.expect("seal again");
    assert_ne!(sealed, again);
    // Another record, a changed byte, or not a sealed value at all: unreadable.
    assert_eq!(
        vault
            .open(&sealed, "T#tn_2/ACCOUNT#acc_1")
            .await
            .unwrap_err(),
        VaultError::Unreadable
    );
    let mut damaged = sealed.clone().into_bytes();
    let i = damaged.len() - 3;
    damaged[i] = if damaged[i] == b'A' { b'B' } else { b'A' };
    let damaged = String::from_utf8(damaged).unwrap();
    assert_eq!(
        vault.open(&damaged, context).await.unwrap_err(),
        VaultError::Unreadable
    );
    for junk in ["", "v1.", "plain text", "v1.AAAA"] {
        assert_eq!(
            vault.open(junk, context).await.unwrap_err(),
            VaultError::Unreadable,
            "{junk:?}"
        );
    }
    // An empty secret round-trips too.
    let empty = vault.seal(&SecretString::new(""), context).await.unwrap();
    assert_eq!(vault.open(&empty, context).await.unwrap().expose(), "");
}
