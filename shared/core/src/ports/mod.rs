//! The ports: how the domain reaches storage, queues, blobs and secrets. Each has an embedded
//! adapter (`viral-embedded`) and an AWS adapter (`viral-aws`); `viral-testkit` holds one
//! conformance suite per port that both must pass.

pub mod billing;
pub mod blob_store;
pub mod concepts;
pub mod item_store;
pub mod publisher;
pub mod queue;
pub mod schedules;
pub mod secrets;
pub mod token_vault;
pub mod transaction;
pub mod video_provider;
pub mod webhook_sender;
pub mod workflow;

pub use billing::{BillingError, BillingGateway, CheckoutRequest};
pub use blob_store::{BlobError, BlobKey, BlobMeta, BlobStore, MediaUrls};
pub use concepts::{ConceptWriter, RuleWriter, SampleTrends, SourceError, TrendQuery, TrendSource};
pub use item_store::{Cond, Item, ItemStore, Page, Query, StoreError, Update, Write};
pub use publisher::{
    CreatorInfo, Handle, Media, PostContent, Progress, PublishError, Published, Publisher,
    Publishers, Tokens,
};
pub use queue::{Message, Queue, QueueError};
pub use schedules::{AutopilotSchedules, ScheduleError};
pub use secrets::{CachedSecrets, SecretString, Secrets, SecretsError};
pub use token_vault::{TokenVault, VaultError};
pub use transaction::{Transaction, TxError};
pub use video_provider::{
    Lookup, ProviderError, RenderRequest, RenderStatus, Submitted, VideoProvider,
};
pub use webhook_sender::WebhookSender;
pub use workflow::{TaskCallbacks, Workflow, WorkflowError};
