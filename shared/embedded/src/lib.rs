//! Embedded adapters, the default backend: everything in one data directory, no account, no
//! network. SQLite (one file, WAL, safe for several processes) holds items and queues; blobs are
//! files served through HMAC-signed, expiring URLs; secrets come from the environment or `.env`;
//! tokens kept at rest are sealed under a key file in the data directory.

mod db;
pub mod env_secrets;
pub mod fs_blobs;
pub mod key_file;
pub mod sqlite_items;
pub mod sqlite_queue;
pub mod token_vault;

pub use db::Db;
pub use env_secrets::EnvSecrets;
pub use fs_blobs::{FsBlobStore, UrlSigner};
pub use sqlite_items::SqliteItemStore;
pub use sqlite_queue::{LocalQueue, Redrive};
pub use token_vault::FileTokenVault;
