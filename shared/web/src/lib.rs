//! The dashboard: a client of the public API, as static files.
//!
//! `viral up` serves it on the API's own origin ([`router`]); on AWS the same files
//! ([`static_files`]) are uploaded by `viral dashboard deploy` to a private S3 bucket behind
//! CloudFront, whose response-headers policy sends the same headers as [`security_headers`].

mod assets;
mod config;
mod serve;

pub use assets::{Asset, Bundle};
pub use config::{ClientConfig, Oidc, origin_of};
pub use serve::{
    PAGES, StaticFile, content_security_policy, export, router, security_headers, static_files,
};
