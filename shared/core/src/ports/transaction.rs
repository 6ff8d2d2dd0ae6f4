//! Transactions whose conditions carry their meaning. A store reports which write's condition
//! failed by its position; callers here name a reason for each write whose failure means
//! something, and match on the reason, so reordering or adding writes cannot silently change
//! what a failure is taken to mean.

use super::item_store::{ItemStore, StoreError, Write};

/// All writes or none, each conditional write with the reason its condition failing stands for.
pub struct Transaction<R> {
    writes: Vec<Write>,
    reasons: Vec<Option<R>>,
}

/// Why a transaction did not apply.
#[derive(Debug, Clone, PartialEq)]
pub enum TxError<R> {
    /// The condition of the write given this reason failed; nothing was written.
    Refused(R),
    /// Anything else, a failed condition without a reason included.
    Store(StoreError),
}

impl<R: Copy> Default for Transaction<R> {
    fn default() -> Self {
        Self::new()
    }
}

impl<R: Copy> Transaction<R> {
    pub fn new() -> Self {
        Self {
            writes: Vec::new(),
            reasons: Vec::new(),
        }
    }

    /// A write whose condition failing means `reason`.
    pub fn guarded(&mut self, reason: R, write: Write) -> &mut Self {
        self.writes.push(write);
        self.reasons.push(Some(reason));
        self
    }

    /// A write whose condition cannot fail, or whose failure means nothing of its own.
    pub fn write(&mut self, write: Write) -> &mut Self {
        self.writes.push(write);
        self.reasons.push(None);
        self
    }

    pub async fn commit(self, store: &dyn ItemStore) -> Result<(), TxError<R>> {
        match store.transact(self.writes).await {
            Ok(()) => Ok(()),
            Err(StoreError::ConditionFailed { index: Some(i) }) => {
                match self.reasons.get(i).copied().flatten() {
                    Some(reason) => Err(TxError::Refused(reason)),
                    None => Err(TxError::Store(StoreError::ConditionFailed {
                        index: Some(i),
                    })),
                }
            }
            Err(e) => Err(TxError::Store(e)),
        }
    }
}

impl<R> From<TxError<R>> for crate::Error {
    /// For callers that have handled the reasons they expect: what is left is the store's.
    fn from(e: TxError<R>) -> Self {
        match e {
            TxError::Refused(_) => crate::Error::Store(StoreError::ConditionFailed { index: None }),
            TxError::Store(s) => crate::Error::Store(s),
        }
    }
}
