//! ItemStore: the single-table model of DESIGN §2, with DynamoDB's semantics.
//!
//! Items live under a partition key and a sort key. Every write may carry a condition; a
//! transaction applies all its writes or none. An item may also carry one secondary index key
//! (`gsi1`) for lookups that start without a tenant.

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// The item's own attributes. Numbers used with [`Update::add`] must be integers.
pub type Attrs = Map<String, Value>;

/// Attribute names the store keeps for itself; they may not appear in [`Item::attrs`].
pub const RESERVED_ATTRS: [&str; 6] = ["pk", "sk", "gsi1pk", "gsi1sk", "ver", "ttl"];

/// Longest key (pk, sk, gsi keys) the store accepts, in bytes. DynamoDB allows 2048 for pk and
/// 1024 for sk; we keep one limit under both.
pub const MAX_KEY_BYTES: usize = 1024;

#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub pk: String,
    pub sk: String,
    /// Secondary index key (partition, sort).
    pub gsi1: Option<(String, String)>,
    /// Optimistic-concurrency version, checked by [`Cond::VersionIs`]. The writer sets it.
    pub version: u64,
    /// Epoch seconds after which the item may be deleted by housekeeping (DynamoDB TTL).
    /// Reads do not hide items past it: callers that care compare it themselves.
    pub expires_at: Option<i64>,
    pub attrs: Attrs,
}

impl Item {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
            gsi1: None,
            version: 0,
            expires_at: None,
            attrs: Attrs::new(),
        }
    }

    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.attrs.insert(name.to_owned(), value.into());
        self
    }

    pub fn with_gsi1(mut self, pk: impl Into<String>, sk: impl Into<String>) -> Self {
        self.gsi1 = Some((pk.into(), sk.into()));
        self
    }

    pub fn str(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).and_then(Value::as_str)
    }

    pub fn int(&self, name: &str) -> Option<i64> {
        self.attrs.get(name).and_then(Value::as_i64)
    }

    /// Decodes each item of a page; an item that does not decode is skipped and logged with
    /// its keys, so that a damaged row costs one entry of a list, never the list, and never
    /// silently.
    pub fn decode_all<'a, T>(
        items: impl IntoIterator<Item = &'a Item>,
        what: &'static str,
        decode: impl Fn(&'a Item) -> Option<T>,
    ) -> Vec<T> {
        items
            .into_iter()
            .filter_map(|item| {
                let decoded = decode(item);
                if decoded.is_none() {
                    tracing::warn!(pk = %item.pk, sk = %item.sk, what, "skipped an item that does not decode");
                }
                decoded
            })
            .collect()
    }

    /// Checks keys and attribute names; both adapters call it before writing.
    pub fn validate(&self) -> Result<(), StoreError> {
        check_key("pk", &self.pk)?;
        check_key("sk", &self.sk)?;
        if let Some((gpk, gsk)) = &self.gsi1 {
            check_key("gsi1pk", gpk)?;
            check_key("gsi1sk", gsk)?;
        }
        for name in self.attrs.keys() {
            check_attr_name(name)?;
        }
        Ok(())
    }
}

pub fn check_key(what: &str, key: &str) -> Result<(), StoreError> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(StoreError::Invalid(format!(
            "{what} must be 1..={MAX_KEY_BYTES} bytes"
        )));
    }
    Ok(())
}

pub fn check_attr_name(name: &str) -> Result<(), StoreError> {
    if name.is_empty() || name.len() > 255 || RESERVED_ATTRS.contains(&name) {
        return Err(StoreError::Invalid(format!(
            "attribute name {name:?} is reserved or out of range"
        )));
    }
    Ok(())
}

/// A condition on the item a write targets, evaluated atomically with the write.
#[derive(Clone, Debug, PartialEq)]
pub enum Cond {
    /// Always true.
    None,
    /// The item does not exist.
    Absent,
    /// The item exists.
    Exists,
    /// The item exists and its version equals this.
    VersionIs(u64),
    /// The attribute is missing (or the item is absent) or is a number below `limit`.
    Below { attr: String, limit: i64 },
    /// The item exists and the attribute is a number at least `min`.
    AtLeast { attr: String, min: i64 },
    /// The attribute is missing (true for an absent item).
    AttrAbsent(String),
    /// The item exists and the attribute equals this value.
    AttrEquals(String, Value),
    /// Every one of these holds.
    All(Vec<Cond>),
}

impl Cond {
    pub fn below(attr: &str, limit: i64) -> Self {
        Self::Below {
            attr: attr.to_owned(),
            limit,
        }
    }

    pub fn at_least(attr: &str, min: i64) -> Self {
        Self::AtLeast {
            attr: attr.to_owned(),
            min,
        }
    }

    /// Evaluates the condition against the current item, as DynamoDB would. Adapters that
    /// implement the semantics themselves (SQLite) call this; DynamoDB evaluates it server-side.
    pub fn holds(&self, current: Option<&Item>) -> bool {
        match (self, current) {
            (Cond::None, _) => true,
            (Cond::Absent, c) => c.is_none(),
            (Cond::Exists, c) => c.is_some(),
            (Cond::VersionIs(v), Some(i)) => i.version == *v,
            (Cond::VersionIs(_), None) => false,
            (Cond::Below { attr, limit }, c) => match c.and_then(|i| i.attrs.get(attr)) {
                None => true,
                Some(v) => v.as_i64().is_some_and(|n| n < *limit),
            },
            (Cond::AtLeast { attr, min }, c) => c
                .and_then(|i| i.attrs.get(attr))
                .and_then(Value::as_i64)
                .is_some_and(|n| n >= *min),
            (Cond::AttrAbsent(attr), c) => c.is_none_or(|i| !i.attrs.contains_key(attr)),
            (Cond::AttrEquals(attr, want), c) => {
                c.and_then(|i| i.attrs.get(attr)).is_some_and(|v| v == want)
            }
            (Cond::All(conds), c) => conds.iter().all(|cond| cond.holds(c)),
        }
    }
}

/// A partial update: creates the item when absent (like DynamoDB's UpdateItem).
#[derive(Clone, Debug, PartialEq)]
pub struct Update {
    pub pk: String,
    pub sk: String,
    pub set: Attrs,
    pub remove: Vec<String>,
    /// Integer deltas; a missing attribute counts as 0.
    pub add: Vec<(String, i64)>,
    pub version: Option<u64>,
    pub expires_at: Option<i64>,
    /// Takes the item out of the secondary index.
    pub clear_gsi1: bool,
    pub cond: Cond,
}

impl Update {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
            set: Attrs::new(),
            remove: Vec::new(),
            add: Vec::new(),
            version: None,
            expires_at: None,
            clear_gsi1: false,
            cond: Cond::None,
        }
    }

    pub fn set(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.set.insert(name.to_owned(), value.into());
        self
    }

    pub fn remove(mut self, name: &str) -> Self {
        self.remove.push(name.to_owned());
        self
    }

    pub fn add(mut self, name: &str, delta: i64) -> Self {
        self.add.push((name.to_owned(), delta));
        self
    }

    pub fn version(mut self, v: u64) -> Self {
        self.version = Some(v);
        self
    }

    pub fn expires_at(mut self, secs: i64) -> Self {
        self.expires_at = Some(secs);
        self
    }

    pub fn clear_gsi1(mut self) -> Self {
        self.clear_gsi1 = true;
        self
    }

    pub fn when(mut self, cond: Cond) -> Self {
        self.cond = cond;
        self
    }

    pub fn validate(&self) -> Result<(), StoreError> {
        check_key("pk", &self.pk)?;
        check_key("sk", &self.sk)?;
        let mut seen = std::collections::HashSet::new();
        let names = self
            .set
            .keys()
            .chain(self.remove.iter())
            .chain(self.add.iter().map(|(n, _)| n));
        for name in names {
            check_attr_name(name)?;
            if !seen.insert(name.as_str()) {
                return Err(StoreError::Invalid(format!(
                    "attribute {name:?} appears twice in one update"
                )));
            }
        }
        if self.set.is_empty()
            && self.remove.is_empty()
            && self.add.is_empty()
            && self.version.is_none()
            && self.expires_at.is_none()
            && !self.clear_gsi1
        {
            return Err(StoreError::Invalid("empty update".into()));
        }
        Ok(())
    }

    /// Applies the update to the current item (or a new one), as the SQLite adapter does.
    pub fn apply(&self, current: Option<Item>) -> Item {
        let mut item = current.unwrap_or_else(|| Item::new(self.pk.clone(), self.sk.clone()));
        for (k, v) in &self.set {
            item.attrs.insert(k.clone(), v.clone());
        }
        for k in &self.remove {
            item.attrs.remove(k);
        }
        for (k, delta) in &self.add {
            let now = item.attrs.get(k).and_then(Value::as_i64).unwrap_or(0);
            item.attrs
                .insert(k.clone(), Value::from(now.saturating_add(*delta)));
        }
        if let Some(v) = self.version {
            item.version = v;
        }
        if let Some(e) = self.expires_at {
            item.expires_at = Some(e);
        }
        if self.clear_gsi1 {
            item.gsi1 = None;
        }
        item
    }
}

/// One write inside a transaction.
#[derive(Clone, Debug, PartialEq)]
pub enum Write {
    Put(Item, Cond),
    Update(Update),
    Delete {
        pk: String,
        sk: String,
        cond: Cond,
    },
    /// Only checks a condition; writes nothing.
    Check {
        pk: String,
        sk: String,
        cond: Cond,
    },
}

impl Write {
    pub fn key(&self) -> (&str, &str) {
        match self {
            Write::Put(i, _) => (&i.pk, &i.sk),
            Write::Update(u) => (&u.pk, &u.sk),
            Write::Delete { pk, sk, .. } | Write::Check { pk, sk, .. } => (pk, sk),
        }
    }

    pub fn validate(&self) -> Result<(), StoreError> {
        match self {
            Write::Put(i, _) => i.validate(),
            Write::Update(u) => u.validate(),
            Write::Delete { pk, sk, .. } | Write::Check { pk, sk, .. } => {
                check_key("pk", pk)?;
                check_key("sk", sk)
            }
        }
    }
}

/// Largest number of writes in one transaction (DynamoDB's limit).
pub const MAX_TRANSACTION_WRITES: usize = 100;

/// Checks a transaction the way DynamoDB does before running it.
pub fn validate_transaction(writes: &[Write]) -> Result<(), StoreError> {
    if writes.is_empty() || writes.len() > MAX_TRANSACTION_WRITES {
        return Err(StoreError::Invalid(format!(
            "a transaction takes 1..={MAX_TRANSACTION_WRITES} writes"
        )));
    }
    let mut keys = std::collections::HashSet::new();
    for w in writes {
        w.validate()?;
        if !keys.insert(w.key()) {
            return Err(StoreError::Invalid(
                "two writes in one transaction target the same item".into(),
            ));
        }
    }
    Ok(())
}

/// A query on the table (by `pk`) or on the secondary index (by `gsi1pk`).
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub pk: String,
    pub sk_prefix: String,
    pub limit: usize,
    pub descending: bool,
    pub cursor: Option<String>,
}

/// Most items one page returns, whatever the caller asks.
pub const MAX_PAGE: usize = 1000;

impl Query {
    pub fn new(pk: impl Into<String>, sk_prefix: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk_prefix: sk_prefix.into(),
            limit: 100,
            descending: false,
            cursor: None,
        }
    }

    pub fn limit(mut self, n: usize) -> Self {
        self.limit = n.clamp(1, MAX_PAGE);
        self
    }

    pub fn descending(mut self) -> Self {
        self.descending = true;
        self
    }

    pub fn after(mut self, cursor: Option<String>) -> Self {
        self.cursor = cursor;
        self
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Page {
    pub items: Vec<Item>,
    /// Present when more items may follow; pass it back in [`Query::after`].
    pub next_cursor: Option<String>,
}

/// Where a page stopped: the last item's keys. Encoded as opaque base64url JSON. Cursors come
/// back from clients, so decoding checks that they belong to the query they are used with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub pk: String,
    pub sk: String,
    /// For index queries: the index keys of the last item.
    pub gsi1: Option<(String, String)>,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let mut m = Map::new();
        m.insert("pk".into(), Value::from(self.pk.clone()));
        m.insert("sk".into(), Value::from(self.sk.clone()));
        if let Some((gpk, gsk)) = &self.gsi1 {
            m.insert("gpk".into(), Value::from(gpk.clone()));
            m.insert("gsk".into(), Value::from(gsk.clone()));
        }
        URL_SAFE_NO_PAD.encode(Value::Object(m).to_string())
    }

    /// Decodes a cursor and checks it continues `q` (on the index when `index` is true).
    pub fn decode(raw: &str, q: &Query, index: bool) -> Result<Cursor, StoreError> {
        let bad = || StoreError::InvalidCursor;
        if raw.len() > 4 * MAX_KEY_BYTES {
            return Err(bad());
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
        let v: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        let get = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let c = Cursor {
            pk: get("pk").ok_or_else(bad)?,
            sk: get("sk").ok_or_else(bad)?,
            gsi1: match (get("gpk"), get("gsk")) {
                (Some(a), Some(b)) => Some((a, b)),
                (None, None) => None,
                _ => return Err(bad()),
            },
        };
        let fits = if index {
            c.gsi1
                .as_ref()
                .is_some_and(|(gpk, gsk)| *gpk == q.pk && gsk.starts_with(&q.sk_prefix))
        } else {
            c.gsi1.is_none() && c.pk == q.pk && c.sk.starts_with(&q.sk_prefix)
        };
        if fits { Ok(c) } else { Err(bad()) }
    }
}

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum StoreError {
    /// A write's condition did not hold. In a transaction, `index` names the first write whose
    /// condition failed, when the backend says.
    #[error("condition failed")]
    ConditionFailed { index: Option<usize> },
    /// A concurrent transaction touched the same items; safe to retry.
    #[error("transaction conflict")]
    Conflict,
    #[error("throttled by the store")]
    Throttled,
    #[error("invalid cursor")]
    InvalidCursor,
    #[error("invalid store request: {0}")]
    Invalid(String),
    #[error("store unavailable: {0}")]
    Backend(String),
}

#[async_trait]
pub trait ItemStore: Send + Sync {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError>;
    async fn put(&self, item: Item, cond: Cond) -> Result<(), StoreError>;
    /// Applies the update and returns the item as it is afterwards.
    async fn update(&self, update: Update) -> Result<Item, StoreError>;
    async fn delete(&self, pk: &str, sk: &str, cond: Cond) -> Result<(), StoreError>;
    /// Items of one partition whose sort key starts with the prefix, in sort-key order.
    async fn query(&self, q: Query) -> Result<Page, StoreError>;
    /// Items whose index partition is `q.pk` and index sort key starts with the prefix.
    async fn query_gsi1(&self, q: Query) -> Result<Page, StoreError>;
    /// All writes or none.
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_follow_dynamodb_on_absent_items() {
        assert!(Cond::Absent.holds(None));
        assert!(!Cond::Exists.holds(None));
        assert!(Cond::below("n", 1).holds(None));
        assert!(!Cond::at_least("n", 0).holds(None));
        assert!(Cond::AttrAbsent("x".into()).holds(None));
        assert!(!Cond::VersionIs(0).holds(None));
        let i = Item::new("p", "s").with("n", 3);
        assert!(Cond::below("n", 4).holds(Some(&i)));
        assert!(!Cond::below("n", 3).holds(Some(&i)));
        assert!(Cond::at_least("n", 3).holds(Some(&i)));
        assert!(!Cond::AttrAbsent("n".into()).holds(Some(&i)));
        assert!(Cond::AttrEquals("n".into(), Value::from(3)).holds(Some(&i)));
    }

    #[test]
    fn update_validation_rejects_overlaps_and_reserved_names() {
        assert!(
            Update::new("p", "s")
                .add("a", 1)
                .set("a", 2)
                .validate()
                .is_err()
        );
        assert!(Update::new("p", "s").set("pk", 1).validate().is_err());
        assert!(Update::new("p", "s").validate().is_err());
        assert!(Update::new("p", "s").add("a", 1).validate().is_ok());
    }

    #[test]
    fn cursor_round_trips_and_refuses_foreign_partitions() {
        let q = Query::new("T#a", "KEY#");
        let c = Cursor {
            pk: "T#a".into(),
            sk: "KEY#1".into(),
            gsi1: None,
        };
        assert_eq!(Cursor::decode(&c.encode(), &q, false), Ok(c.clone()));
        let other = Query::new("T#b", "KEY#");
        assert_eq!(
            Cursor::decode(&c.encode(), &other, false),
            Err(StoreError::InvalidCursor)
        );
        assert_eq!(
            Cursor::decode("%%%", &q, false),
            Err(StoreError::InvalidCursor)
        );
        assert_eq!(
            Cursor::decode(&c.encode(), &q, true),
            Err(StoreError::InvalidCursor)
        );
    }
}
