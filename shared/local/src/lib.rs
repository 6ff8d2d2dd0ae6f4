//! The local stack: what `viral up` and the CLI run on a laptop with no AWS account. The
//! embedded store, files, secrets and queues wired as a process's adapters ([`Process`]), and
//! the workflow on the in-process ASL engine ([`LocalPipeline`]). The Lambdas are wired by
//! `viral-runtime` alone and never link this crate (a test in `viral-runtime` checks).

pub mod pipeline;
pub mod process;

pub use pipeline::{
    DEFINITION, LocalPipeline, Options, PUBLISH_DEFINITION, QueueFor, RENDER_POLLS,
    local_substitutions, substitute,
};
pub use process::{Process, embedded_queues};
