//! Identifiers: a short type prefix plus a time-ordered UUIDv7, so ids sort by creation time.

/// `tn_0193…`, `key_0193…`, `usr_0193…`.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

/// True when `id` has the given prefix and a 32-hex-digit body: the shape [`new_id`] makes.
/// Used to reject garbage path parameters before they reach the store.
pub fn is_valid_id(prefix: &str, id: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|body| body.len() == 32 && body.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Fill a buffer from the OS random source.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The OS RNG failing is not recoverable for a server that issues secrets.
    if let Err(e) = getrandom::fill(&mut buf) {
        panic!("operating-system random source failed: {e}");
    }
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_prefix_and_validate() {
        let id = new_id("key");
        assert!(id.starts_with("key_"));
        assert!(is_valid_id("key", &id));
        assert!(!is_valid_id("tn", &id));
        assert!(!is_valid_id("key", "key_../../etc"));
        assert!(!is_valid_id("key", "key_"));
    }

    #[test]
    fn ids_are_time_ordered() {
        let a = new_id("x");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_id("x");
        assert!(a < b);
    }
}
