//! Quota reservations: the one way concepts and videos take from a period's counter and give
//! back. A reservation is a conditional add in the same transaction as what it pays for; the
//! condition holds the counter at or under the limit whether or not the period's counter item
//! exists yet, and a request for more than the whole limit is refused before any write.

use crate::domain::usage::UsagePeriod;
use crate::domain::{Resource, keys};
use crate::error::{Error, Result};
use crate::ports::{Cond, ItemStore, Transaction, TxError, Update, Write};

/// How much of one resource a request asks for, against which limit, in which period.
/// Why taking from the quota did not apply, in a transaction that reserves (see
/// [`crate::ports::Transaction`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The period's quota has not enough left.
    QuotaSpent,
    /// A concurrent request with the same Idempotency-Key recorded its result first.
    KeyTaken,
    /// The caller's own precondition (see [`crate::service::videos::Within::guard`]) failed.
    Guard,
}

/// A ledger entry that is no longer `reserved`: consumed or refunded already, so ending or
/// refunding it again changes nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settled;

#[derive(Clone, Debug)]
pub struct Reservation<'a> {
    pub tenant_id: &'a str,
    pub period: &'a UsagePeriod,
    pub resource: Resource,
    pub amount: i64,
    pub limit: i64,
}

impl Reservation<'_> {
    /// The conditional add that reserves `amount`: `used + amount <= limit`, with a missing
    /// counter counting as 0. Refused up front (no write) when `amount` alone is over the limit.
    pub fn write(&self) -> Result<Write> {
        if self.amount < 1 || self.amount > self.limit {
            return Err(self.refusal(0.max(self.limit)));
        }
        let counter = self.resource.counter();
        Ok(Write::Update(
            Update::new(
                keys::tenant_pk(self.tenant_id),
                keys::quota_sk(&self.period.key),
            )
            .add(counter, self.amount)
            .when(Cond::below(counter, self.limit - self.amount + 1)),
        ))
    }

    /// [`Self::write`] under a stricter condition: it holds only while what is left after
    /// this reservation stays above a fifth of the limit, where [`Self::warn_if_low`] has
    /// nothing to say. A transaction made with it needs no read afterwards; when it is refused
    /// the caller makes the plain one (which then warns). `None` when no reservation can
    /// leave that much.
    pub fn write_while_plenty(&self) -> Result<Option<Write>> {
        let Write::Update(update) = self.write()? else {
            return Ok(None);
        };
        // Nothing to say iff 5 × (limit − used − amount) > limit, i.e. with whole numbers
        // used + amount ≤ ⌊(4 × limit − 1) / 5⌋.
        let most_after = (4 * self.limit - 1).div_euclid(5);
        let below = most_after - self.amount + 1;
        if below < 1 {
            return Ok(None);
        }
        Ok(Some(Write::Update(
            update.when(Cond::below(self.resource.counter(), below)),
        )))
    }

    /// Commits the transaction `with` makes around this reservation's write, and tells the
    /// tenant when the quota runs low ([`Self::warn_if_low`]). Most commits leave plenty: the
    /// write made with [`Self::write_while_plenty`] goes first and then needs no read; when
    /// its stricter condition refuses, the plain write decides (nothing was written).
    pub async fn commit(
        &self,
        store: &dyn ItemStore,
        clock: &dyn crate::clock::Clock,
        with: impl Fn(Write) -> Transaction<Refusal>,
    ) -> Result<std::result::Result<(), TxError<Refusal>>> {
        if let Some(reserve) = self.write_while_plenty()? {
            match with(reserve).commit(store).await {
                Err(TxError::Refused(Refusal::QuotaSpent)) => {}
                committed => return Ok(committed),
            }
        }
        let committed = with(self.write()?).commit(store).await;
        if committed.is_ok() {
            self.warn_if_low(store, clock).await;
        }
        Ok(committed)
    }

    /// The refusal after the reservation's condition failed: reads what is left to say so.
    pub async fn refused(&self, store: &dyn ItemStore) -> Error {
        let used = match store
            .get(
                &keys::tenant_pk(self.tenant_id),
                &keys::quota_sk(&self.period.key),
            )
            .await
        {
            Ok(item) => item
                .and_then(|i| i.int(self.resource.counter()))
                .unwrap_or(0),
            // The refusal stands; only the figure of what remains is unknown.
            Err(_) => self.limit,
        };
        self.refusal((self.limit - used).max(0))
    }

    /// After the reservation is committed: when what is left of the period's quota has fallen
    /// to a fifth of the limit or below, tells the tenant's webhooks (`quota.low`) — once per
    /// period and resource (a marker written only if absent). Never fails its caller.
    pub async fn warn_if_low(&self, store: &dyn ItemStore, clock: &dyn crate::clock::Clock) {
        let pk = keys::tenant_pk(self.tenant_id);
        let used = match store.get(&pk, &keys::quota_sk(&self.period.key)).await {
            Ok(item) => item
                .and_then(|i| i.int(self.resource.counter()))
                .unwrap_or(0),
            Err(e) => {
                tracing::warn!(tenant_id = self.tenant_id, error = %e, "quota not read for quota.low");
                return;
            }
        };
        let remaining = (self.limit - used).max(0);
        if self.limit <= 0 || remaining * 5 > self.limit {
            return;
        }
        let marker = crate::ports::Item::new(
            &pk,
            format!("QUOTALOW#{}#{}", self.period.key, self.resource.name()),
        )
        .with("at", clock.now().millis());
        match store.put(marker, Cond::Absent).await {
            Ok(()) => {
                crate::service::webhooks::emit(
                    store,
                    clock,
                    self.tenant_id,
                    "quota.low",
                    serde_json::json!({
                        "resource": self.resource.name(),
                        "used": used,
                        "limit": self.limit,
                        "remaining": remaining,
                        "resets_at": self.period.end.rfc3339(),
                    }),
                )
                .await;
            }
            Err(crate::ports::StoreError::ConditionFailed { .. }) => {}
            Err(e) => {
                tracing::warn!(tenant_id = self.tenant_id, error = %e, "quota.low marker not written");
            }
        }
    }

    fn refusal(&self, remaining: i64) -> Error {
        crate::metrics::count(
            "QuotaRejected",
            Some(crate::metrics::Dimension::Resource(self.resource.name())),
        );
        Error::QuotaExceeded {
            resource: self.resource.unit(),
            limit: self.limit,
            requested: self.amount,
            remaining,
            resets_at: self.period.end.rfc3339(),
        }
    }
}

/// Gives `amount` back to the counter of `period_key` (the period the reservation was made
/// in, whatever the period is now). Put it in the transaction that moves the ledger entry.
pub fn release(tenant_id: &str, period_key: &str, resource: Resource, amount: i64) -> Write {
    let counter = resource.counter();
    Write::Update(
        Update::new(keys::tenant_pk(tenant_id), keys::quota_sk(period_key))
            .add(counter, -amount)
            .when(Cond::at_least(counter, amount)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Timestamp;
    use crate::ports::{Cond, Item};

    fn month() -> UsagePeriod {
        UsagePeriod::month(Timestamp::from_secs(1_780_000_000))
    }

    #[test]
    fn the_condition_holds_the_counter_under_the_limit_from_the_first_request() {
        let period = month();
        let r = Reservation {
            tenant_id: "tn_1",
            period: &period,
            resource: Resource::Concepts,
            amount: 2,
            limit: 3,
        };
        let Write::Update(u) = r.write().unwrap() else {
            panic!("a reservation is an update");
        };
        // No counter yet: 0 + 2 <= 3.
        assert!(u.cond.holds(None));
        let at = |n: i64| Item::new("p", "s").with("concepts_used", n);
        assert!(u.cond.holds(Some(&at(1))), "1 + 2 <= 3");
        assert!(!u.cond.holds(Some(&at(2))), "2 + 2 > 3");
        assert_eq!(u.cond, Cond::below("concepts_used", 2));
    }

    #[test]
    fn more_than_the_whole_limit_is_refused_before_any_write() {
        let period = month();
        let r = Reservation {
            tenant_id: "tn_1",
            period: &period,
            resource: Resource::Concepts,
            amount: 10,
            limit: 3,
        };
        match r.write() {
            Err(Error::QuotaExceeded {
                requested,
                remaining,
                limit,
                ..
            }) => assert_eq!((requested, remaining, limit), (10, 3, 3)),
            other => panic!("{other:?}"),
        }
        let none = Reservation { amount: 0, ..r };
        assert!(none.write().is_err(), "a reservation of nothing is refused");
    }

    #[test]
    fn the_plenty_condition_holds_exactly_when_there_is_no_low_quota_to_tell() {
        let period = month();
        for limit in 1..=60 {
            for amount in 1..=3.min(limit) {
                let r = Reservation {
                    tenant_id: "tn_1",
                    period: &period,
                    resource: Resource::Videos,
                    amount,
                    limit,
                };
                let plenty = r.write_while_plenty().unwrap();
                for used in 0..=limit {
                    let item = Item::new("p", "s").with(Resource::Videos.counter(), used);
                    let reserved = used + amount <= limit;
                    // What warn_if_low tells after a reservation.
                    let low = (limit - (used + amount)) * 5 <= limit;
                    let holds = plenty.as_ref().is_some_and(|w| match w {
                        Write::Update(u) => u.cond.holds(Some(&item)),
                        _ => false,
                    });
                    assert_eq!(
                        holds,
                        reserved && !low,
                        "limit {limit} amount {amount} used {used}"
                    );
                }
            }
        }
    }
}
