//! What the event tests share: the SAM template as JSON (read with cfn-lint's YAML reader from
//! the test command's virtualenv), and an item store that records which partitions a function
//! touches, to hold against the `dynamodb:LeadingKeys` its role allows.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::Value;
use viral_core::ports::{Cond, Item, ItemStore, Page, Query, StoreError, Update, Write};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn python() -> String {
    std::env::var("VIRAL_TEST_PYTHON").unwrap_or_else(|_| {
        panic!(
            "VIRAL_TEST_PYTHON is not set: run the test command `tests/run` (it installs cfn-lint)"
        )
    })
}

/// `infra/template.yaml` as JSON, intrinsic tags as their long forms (`{"Ref": …}`).
pub fn template() -> Value {
    let out = Command::new(python())
        .arg("-c")
        .arg(
            "import json, sys\n\
             from cfnlint.decode import decode\n\
             t, errors = decode(sys.argv[1])\n\
             assert not errors, errors\n\
             print(json.dumps(t))",
        )
        .arg(root().join("infra/template.yaml"))
        .output()
        .expect("python with cfn-lint");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The `dynamodb:LeadingKeys` patterns the function built from `functions/<name>` may touch.
pub fn leading_keys(t: &Value, function: &str) -> Vec<String> {
    let uri = format!("../functions/{function}");
    let r = t["Resources"]
        .as_object()
        .unwrap()
        .values()
        .find(|r| r["Properties"]["CodeUri"] == uri.as_str())
        .unwrap_or_else(|| panic!("no resource for {function}"));
    let mut out = Vec::new();
    for p in r["Properties"]["Policies"].as_array().into_iter().flatten() {
        for s in p["Statement"].as_array().into_iter().flatten() {
            if let Some(keys) =
                s["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"].as_array()
            {
                out.extend(keys.iter().filter_map(Value::as_str).map(str::to_owned));
            }
        }
    }
    out
}

/// IAM's StringLike: `*` matches any run of characters.
pub fn like(pattern: &str, value: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == value,
        Some((head, tail)) => {
            value.starts_with(head)
                && (tail.is_empty()
                    || (0..=value.len() - head.len()).any(|i| like(tail, &value[head.len() + i..])))
        }
    }
}

/// An item store that notes every partition key it is asked about.
pub struct Recording {
    pub inner: Arc<dyn ItemStore>,
    pub partitions: Arc<Mutex<BTreeSet<String>>>,
}

impl Recording {
    pub fn new(inner: Arc<dyn ItemStore>) -> Self {
        Self {
            inner,
            partitions: Arc::default(),
        }
    }

    fn note(&self, pk: &str) {
        self.partitions.lock().unwrap().insert(pk.to_owned());
    }

    /// The partitions touched since the last call.
    pub fn take(&self) -> BTreeSet<String> {
        std::mem::take(&mut *self.partitions.lock().unwrap())
    }
}

#[async_trait]
impl ItemStore for Recording {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        self.note(pk);
        self.inner.get(pk, sk).await
    }
    async fn put(&self, item: Item, cond: Cond) -> Result<(), StoreError> {
        self.note(&item.pk);
        self.inner.put(item, cond).await
    }
    async fn update(&self, update: Update) -> Result<Item, StoreError> {
        self.note(&update.pk);
        self.inner.update(update).await
    }
    async fn delete(&self, pk: &str, sk: &str, cond: Cond) -> Result<(), StoreError> {
        self.note(pk);
        self.inner.delete(pk, sk, cond).await
    }
    async fn query(&self, q: Query) -> Result<Page, StoreError> {
        self.note(&q.pk);
        self.inner.query(q).await
    }
    async fn query_gsi1(&self, q: Query) -> Result<Page, StoreError> {
        // The index's partition key is what LeadingKeys restricts on an index query.
        self.note(&q.pk);
        self.inner.query_gsi1(q).await
    }
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        for w in &writes {
            match w {
                Write::Put(item, _) => self.note(&item.pk),
                Write::Update(u) => self.note(&u.pk),
                Write::Delete { pk, .. } => self.note(pk),
                Write::Check { pk, .. } => self.note(pk),
            }
        }
        self.inner.transact(writes).await
    }
}

/// Asserts that every partition in `touched` is allowed to `function` by its role.
pub fn assert_allowed(t: &Value, function: &str, touched: &BTreeSet<String>) {
    let allowed = leading_keys(t, function);
    for pk in touched {
        assert!(
            allowed.iter().any(|p| like(p, pk)),
            "{function} touched partition {pk:?}, which its role's dynamodb:LeadingKeys {allowed:?} does not allow"
        );
    }
}
