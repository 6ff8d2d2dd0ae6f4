//! ItemStore on SQLite: DynamoDB's conditional writes and transactions, each run inside one
//! `BEGIN IMMEDIATE` transaction so that several processes sharing the file stay consistent.

use std::path::Path;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use serde_json::Value;
use viral_core::ports::item_store::{Attrs, Cursor, validate_transaction};
use viral_core::ports::{Cond, Item, ItemStore, Page, Query, StoreError, Update, Write};

use crate::db::{Db, DbError, Sql};

impl From<DbError> for StoreError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Busy => StoreError::Conflict,
            DbError::Other(s) => StoreError::Backend(s),
        }
    }
}

#[derive(Clone)]
pub struct SqliteItemStore {
    db: Db,
}

const COLUMNS: &str = "pk, sk, gsi1pk, gsi1sk, ver, ttl, attrs";

impl SqliteItemStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Db::open(path).map(Self::new).map_err(StoreError::Backend)
    }

    /// Deletes items whose `expires_at` has passed (DynamoDB's TTL does the same on AWS).
    pub async fn purge_expired(&self, now_secs: i64) -> Result<usize, StoreError> {
        self.db
            .run(move |c| {
                c.execute(
                    "DELETE FROM items WHERE ttl IS NOT NULL AND ttl < ?1",
                    params![now_secs],
                )
                .db()
                .map_err(StoreError::from)
            })
            .await
    }
}

fn row_to_item(row: &Row<'_>) -> rusqlite::Result<(Item, String)> {
    let gpk: Option<String> = row.get(2)?;
    let gsk: Option<String> = row.get(3)?;
    let ver: i64 = row.get(4)?;
    let item = Item {
        pk: row.get(0)?,
        sk: row.get(1)?,
        gsi1: gpk.zip(gsk),
        version: u64::try_from(ver).unwrap_or(0),
        expires_at: row.get(5)?,
        attrs: Attrs::new(),
    };
    Ok((item, row.get(6)?))
}

fn decode(pair: (Item, String)) -> Result<Item, StoreError> {
    let (mut item, json) = pair;
    match serde_json::from_str::<Value>(&json) {
        Ok(Value::Object(m)) => {
            item.attrs = m;
            Ok(item)
        }
        _ => Err(StoreError::Backend(format!(
            "stored item {}/{} is not a JSON object",
            item.pk, item.sk
        ))),
    }
}

fn read(c: &Connection, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM items WHERE pk = ?1 AND sk = ?2"
        ))
        .db()?;
    stmt.query_row(params![pk, sk], row_to_item)
        .optional()
        .db()?
        .map(decode)
        .transpose()
}

fn write(c: &Connection, item: &Item) -> Result<(), StoreError> {
    let (gpk, gsk) = match &item.gsi1 {
        Some((a, b)) => (Some(a.as_str()), Some(b.as_str())),
        None => (None, None),
    };
    let ver = i64::try_from(item.version)
        .map_err(|_| StoreError::Invalid("version out of range".into()))?;
    let attrs = Value::Object(item.attrs.clone()).to_string();
    c.prepare_cached(&format!(
        "INSERT OR REPLACE INTO items ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
    ))
    .db()?
    .execute(params![
        item.pk,
        item.sk,
        gpk,
        gsk,
        ver,
        item.expires_at,
        attrs
    ])
    .db()?;
    Ok(())
}

fn remove(c: &Connection, pk: &str, sk: &str) -> Result<(), StoreError> {
    c.prepare_cached("DELETE FROM items WHERE pk = ?1 AND sk = ?2")
        .db()?
        .execute(params![pk, sk])
        .db()?;
    Ok(())
}

fn check(cond: &Cond, current: Option<&Item>, index: Option<usize>) -> Result<(), StoreError> {
    if cond.holds(current) {
        Ok(())
    } else {
        Err(StoreError::ConditionFailed { index })
    }
}

/// Runs `f` in an IMMEDIATE transaction: it holds the write lock from the first read, so the
/// condition checks and the writes are one atomic step even across processes.
fn in_txn<T>(
    c: &mut Connection,
    f: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .db()?;
    let out = f(&tx)?;
    tx.commit().db()?;
    Ok(out)
}

fn apply_write(c: &Connection, w: &Write) -> Result<(), StoreError> {
    match w {
        Write::Put(item, _) => write(c, item),
        Write::Update(u) => {
            let current = read(c, &u.pk, &u.sk)?;
            write(c, &u.apply(current))
        }
        Write::Delete { pk, sk, .. } => remove(c, pk, sk),
        Write::Check { .. } => Ok(()),
    }
}

fn write_cond(w: &Write) -> &Cond {
    match w {
        Write::Put(_, cond) | Write::Delete { cond, .. } | Write::Check { cond, .. } => cond,
        Write::Update(u) => &u.cond,
    }
}

fn run_query(c: &Connection, q: &Query, index: bool) -> Result<Page, StoreError> {
    let after = q
        .cursor
        .as_deref()
        .map(|raw| Cursor::decode(raw, q, index))
        .transpose()?;
    let (cmp, order) = if q.descending {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    let prefix_len = i64::try_from(q.sk_prefix.chars().count()).unwrap_or(i64::MAX);
    let fetch = i64::try_from(q.limit + 1).unwrap_or(i64::MAX);
    let sql = if index {
        format!(
            "SELECT {COLUMNS} FROM items WHERE gsi1pk = ?1 AND gsi1sk >= ?2 \
             AND substr(gsi1sk, 1, ?3) = ?2 \
             AND (?4 IS NULL OR (gsi1sk, pk, sk) {cmp} (?4, ?5, ?6)) \
             ORDER BY gsi1sk {order}, pk {order}, sk {order} LIMIT ?7"
        )
    } else {
        format!(
            "SELECT {COLUMNS} FROM items WHERE pk = ?1 AND sk >= ?2 \
             AND substr(sk, 1, ?3) = ?2 AND (?4 IS NULL OR sk {cmp} ?4) \
             ORDER BY sk {order} LIMIT ?7"
        )
    };
    let (a, b, d) = match &after {
        Some(cur) if index => {
            let gsk = cur.gsi1.as_ref().map(|(_, s)| s.clone());
            (gsk, Some(cur.pk.clone()), Some(cur.sk.clone()))
        }
        Some(cur) => (Some(cur.sk.clone()), None, None),
        None => (None, None, None),
    };
    let mut stmt = c.prepare_cached(&sql).db()?;
    let rows = stmt
        .query_map(
            params![q.pk, q.sk_prefix, prefix_len, a, b, d, fetch],
            row_to_item,
        )
        .db()?;
    let mut items = Vec::new();
    for row in rows {
        items.push(decode(row.db()?)?);
    }
    let more = items.len() > q.limit;
    items.truncate(q.limit);
    let next_cursor = match items.last() {
        Some(last) if more => Some(
            Cursor {
                pk: last.pk.clone(),
                sk: last.sk.clone(),
                gsi1: if index { last.gsi1.clone() } else { None },
            }
            .encode(),
        ),
        _ => None,
    };
    Ok(Page { items, next_cursor })
}

#[async_trait]
impl ItemStore for SqliteItemStore {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        let (pk, sk) = (pk.to_owned(), sk.to_owned());
        self.db.run(move |c| read(c, &pk, &sk)).await
    }

    async fn put(&self, item: Item, cond: Cond) -> Result<(), StoreError> {
        item.validate()?;
        self.db
            .run(move |c| {
                in_txn(c, |tx| {
                    check(&cond, read(tx, &item.pk, &item.sk)?.as_ref(), None)?;
                    write(tx, &item)
                })
            })
            .await
    }

    async fn update(&self, update: Update) -> Result<Item, StoreError> {
        update.validate()?;
        self.db
            .run(move |c| {
                in_txn(c, |tx| {
                    let current = read(tx, &update.pk, &update.sk)?;
                    check(&update.cond, current.as_ref(), None)?;
                    let next = update.apply(current);
                    write(tx, &next)?;
                    Ok(next)
                })
            })
            .await
    }

    async fn delete(&self, pk: &str, sk: &str, cond: Cond) -> Result<(), StoreError> {
        let (pk, sk) = (pk.to_owned(), sk.to_owned());
        self.db
            .run(move |c| {
                in_txn(c, |tx| {
                    check(&cond, read(tx, &pk, &sk)?.as_ref(), None)?;
                    remove(tx, &pk, &sk)
                })
            })
            .await
    }

    async fn query(&self, q: Query) -> Result<Page, StoreError> {
        self.db.run(move |c| run_query(c, &q, false)).await
    }

    async fn query_gsi1(&self, q: Query) -> Result<Page, StoreError> {
        self.db.run(move |c| run_query(c, &q, true)).await
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        validate_transaction(&writes)?;
        self.db
            .run(move |c| {
                in_txn(c, |tx| {
                    for (i, w) in writes.iter().enumerate() {
                        let (pk, sk) = w.key();
                        check(write_cond(w), read(tx, pk, sk)?.as_ref(), Some(i))?;
                    }
                    writes.iter().try_for_each(|w| apply_write(tx, w))
                })
            })
            .await
    }
}
