//! ItemStore on DynamoDB: one table (`pk`, `sk`), one index `gsi1` (`gsi1pk`, `gsi1sk`), TTL on
//! `ttl`. Conditions become condition expressions evaluated by DynamoDB itself.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, Delete, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, Projection, ProjectionType, Put, ReturnValue, ScalarAttributeType,
    TimeToLiveSpecification, TransactWriteItem, Update as DdbUpdate,
};
use viral_core::ports::item_store::{Cursor, validate_transaction};
use viral_core::ports::{Cond, Item, ItemStore, Page, Query, StoreError, Update, Write};

use crate::attrs::{AvMap, item_to_map, map_to_item, n, s, to_av};
use crate::errors::{code, describe};

pub const GSI1: &str = "gsi1";

#[derive(Clone, Debug)]
pub struct DynamoItemStore {
    client: Client,
    table: String,
}

fn classify<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match code(&e) {
        Some("ConditionalCheckFailedException") => StoreError::ConditionFailed { index: None },
        Some("TransactionConflictException") => StoreError::Conflict,
        Some(
            "ProvisionedThroughputExceededException"
            | "ThrottlingException"
            | "RequestLimitExceeded",
        ) => StoreError::Throttled,
        _ => StoreError::Backend(describe(&e)),
    }
}

/// Builds expression attribute names and values with generated placeholders, so no
/// attribute name can collide with a DynamoDB reserved word or inject syntax.
#[derive(Default)]
struct Expr {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expr {
    fn name(&mut self, attr: &str) -> String {
        if let Some((k, _)) = self.names.iter().find(|(_, v)| v.as_str() == attr) {
            return k.clone();
        }
        let k = format!("#n{}", self.names.len());
        self.names.insert(k.clone(), attr.to_owned());
        k
    }

    fn value(&mut self, v: AttributeValue) -> String {
        let k = format!(":v{}", self.values.len());
        self.values.insert(k.clone(), v);
        k
    }

    fn cond(&mut self, c: &Cond) -> Result<Option<String>, StoreError> {
        Ok(Some(match c {
            Cond::None => return Ok(None),
            Cond::Absent => format!("attribute_not_exists({})", self.name("pk")),
            Cond::Exists => format!("attribute_exists({})", self.name("pk")),
            Cond::VersionIs(v) => {
                let v = i64::try_from(*v).unwrap_or(i64::MAX);
                format!("{} = {}", self.name("ver"), self.value(n(v)))
            }
            Cond::Below { attr, limit } => {
                let a = self.name(attr);
                format!(
                    "(attribute_not_exists({a}) OR {a} < {})",
                    self.value(n(*limit))
                )
            }
            Cond::AtLeast { attr, min } => {
                format!("{} >= {}", self.name(attr), self.value(n(*min)))
            }
            Cond::AttrAbsent(attr) => format!("attribute_not_exists({})", self.name(attr)),
            Cond::AttrEquals(attr, v) => {
                format!("{} = {}", self.name(attr), self.value(to_av(v)?))
            }
            // No parentheses added: DynamoDB refuses redundant ones, and the only part with
            // an OR in it (Below) brings its own.
            Cond::All(conds) => {
                let mut parts = Vec::with_capacity(conds.len());
                for c in conds {
                    if let Some(part) = self.cond(c)? {
                        parts.push(part);
                    }
                }
                if parts.is_empty() {
                    return Ok(None);
                }
                parts.join(" AND ")
            }
        }))
    }

    fn update(&mut self, u: &Update) -> Result<String, StoreError> {
        let mut set = Vec::new();
        for (k, v) in &u.set {
            set.push(format!("{} = {}", self.name(k), self.value(to_av(v)?)));
        }
        if let Some(v) = u.version {
            let v = i64::try_from(v).unwrap_or(i64::MAX);
            set.push(format!("{} = {}", self.name("ver"), self.value(n(v))));
        }
        if let Some(t) = u.expires_at {
            set.push(format!("{} = {}", self.name("ttl"), self.value(n(t))));
        }
        let mut expr = String::new();
        if !set.is_empty() {
            expr.push_str("SET ");
            expr.push_str(&set.join(", "));
        }
        let mut removed: Vec<String> = u.remove.iter().map(|r| self.name(r)).collect();
        if u.clear_gsi1 {
            removed.push(self.name("gsi1pk"));
            removed.push(self.name("gsi1sk"));
        }
        if !removed.is_empty() {
            expr.push_str(" REMOVE ");
            expr.push_str(&removed.join(", "));
        }
        if !u.add.is_empty() {
            let adds: Vec<String> = u
                .add
                .iter()
                .map(|(k, d)| format!("{} {}", self.name(k), self.value(n(*d))))
                .collect();
            expr.push_str(" ADD ");
            expr.push_str(&adds.join(", "));
        }
        Ok(expr.trim().to_owned())
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

fn key(pk: &str, sk: &str) -> AvMap {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

fn build_err(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Invalid(e.to_string())
}

impl DynamoItemStore {
    pub fn new(client: Client, table: &str) -> Self {
        Self {
            client,
            table: table.to_owned(),
        }
    }

    pub fn from_conf(conf: &aws_config::SdkConfig, table: &str) -> Self {
        Self::new(Client::new(conf), table)
    }

    /// A client from the Lambda environment alone (see [`crate::LambdaEnv`]).
    pub fn from_lambda_env(env: &crate::LambdaEnv, table: &str) -> Self {
        Self::from_conf(&env.sdk_config(), table)
    }

    /// Creates the table the way `infra/template.yaml` declares it (tests and local setups).
    pub async fn create_table(&self) -> Result<(), StoreError> {
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build_err)
        };
        let ks = |name: &str, kt: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kt)
                .build()
                .map_err(build_err)
        };
        let gsi = GlobalSecondaryIndex::builder()
            .index_name(GSI1)
            .key_schema(ks("gsi1pk", KeyType::Hash)?)
            .key_schema(ks("gsi1sk", KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .map_err(build_err)?;
        self.client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("pk")?)
            .attribute_definitions(attr("sk")?)
            .attribute_definitions(attr("gsi1pk")?)
            .attribute_definitions(attr("gsi1sk")?)
            .key_schema(ks("pk", KeyType::Hash)?)
            .key_schema(ks("sk", KeyType::Range)?)
            .global_secondary_indexes(gsi)
            .send()
            .await
            .map_err(classify)?;
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name("ttl")
                    .build()
                    .map_err(build_err)?,
            )
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn run_query(&self, q: Query, index: bool) -> Result<Page, StoreError> {
        let after = q
            .cursor
            .as_deref()
            .map(|raw| Cursor::decode(raw, &q, index))
            .transpose()?;
        let mut e = Expr::default();
        let (pk_attr, sk_attr) = if index {
            ("gsi1pk", "gsi1sk")
        } else {
            ("pk", "sk")
        };
        let mut kc = format!("{} = {}", e.name(pk_attr), e.value(s(&q.pk)));
        if !q.sk_prefix.is_empty() {
            kc.push_str(&format!(
                " AND begins_with({}, {})",
                e.name(sk_attr),
                e.value(s(&q.sk_prefix))
            ));
        }
        let start = after.map(|c| {
            let mut m = key(&c.pk, &c.sk);
            if let Some((gpk, gsk)) = c.gsi1 {
                m.insert("gsi1pk".into(), s(&gpk));
                m.insert("gsi1sk".into(), s(&gsk));
            }
            m
        });
        let mut req = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression(kc)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .scan_index_forward(!q.descending)
            .limit(i32::try_from(q.limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start);
        req = if index {
            req.index_name(GSI1)
        } else {
            req.consistent_read(true)
        };
        let out = req.send().await.map_err(classify)?;
        let items = out
            .items()
            .iter()
            .map(map_to_item)
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = match out.last_evaluated_key() {
            Some(lek) => {
                let get = |k: &str| lek.get(k).and_then(|v| v.as_s().ok()).cloned();
                let pk =
                    get("pk").ok_or_else(|| StoreError::Backend("cursor without pk".into()))?;
                let sk =
                    get("sk").ok_or_else(|| StoreError::Backend("cursor without sk".into()))?;
                let gsi1 = if index {
                    get("gsi1pk").zip(get("gsi1sk"))
                } else {
                    None
                };
                Some(Cursor { pk, sk, gsi1 }.encode())
            }
            None => None,
        };
        Ok(Page { items, next_cursor })
    }

    fn transact_item(&self, w: &Write) -> Result<TransactWriteItem, StoreError> {
        let mut e = Expr::default();
        let b = TransactWriteItem::builder();
        Ok(match w {
            Write::Put(item, cond) => {
                let c = e.cond(cond)?;
                b.put(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(item_to_map(item)?))
                        .set_condition_expression(c)
                        .set_expression_attribute_names(e.names())
                        .set_expression_attribute_values(e.values())
                        .build()
                        .map_err(build_err)?,
                )
            }
            Write::Update(u) => {
                let expr = e.update(u)?;
                let c = e.cond(&u.cond)?;
                b.update(
                    DdbUpdate::builder()
                        .table_name(&self.table)
                        .set_key(Some(key(&u.pk, &u.sk)))
                        .update_expression(expr)
                        .set_condition_expression(c)
                        .set_expression_attribute_names(e.names())
                        .set_expression_attribute_values(e.values())
                        .build()
                        .map_err(build_err)?,
                )
            }
            Write::Delete { pk, sk, cond } => {
                let c = e.cond(cond)?;
                b.delete(
                    Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(key(pk, sk)))
                        .set_condition_expression(c)
                        .set_expression_attribute_names(e.names())
                        .set_expression_attribute_values(e.values())
                        .build()
                        .map_err(build_err)?,
                )
            }
            Write::Check { pk, sk, cond } => {
                // DynamoDB requires a condition on a check; `None` becomes "always true".
                let c = e.cond(cond)?.unwrap_or_else(|| {
                    format!(
                        "attribute_not_exists({}) OR attribute_exists({})",
                        e.name("pk"),
                        e.name("pk")
                    )
                });
                b.condition_check(
                    ConditionCheck::builder()
                        .table_name(&self.table)
                        .set_key(Some(key(pk, sk)))
                        .condition_expression(c)
                        .set_expression_attribute_names(e.names())
                        .set_expression_attribute_values(e.values())
                        .build()
                        .map_err(build_err)?,
                )
            }
        }
        .build())
    }
}

#[async_trait]
impl ItemStore for DynamoItemStore {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        out.item().map(map_to_item).transpose()
    }

    async fn put(&self, item: Item, cond: Cond) -> Result<(), StoreError> {
        item.validate()?;
        let mut e = Expr::default();
        let c = e.cond(&cond)?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item_to_map(&item)?))
            .set_condition_expression(c)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn update(&self, update: Update) -> Result<Item, StoreError> {
        update.validate()?;
        let mut e = Expr::default();
        let expr = e.update(&update)?;
        let c = e.cond(&update.cond)?;
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(&update.pk, &update.sk)))
            .update_expression(expr)
            .set_condition_expression(c)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(classify)?;
        let attrs = out
            .attributes()
            .ok_or_else(|| StoreError::Backend("update returned no attributes".into()))?;
        map_to_item(attrs)
    }

    async fn delete(&self, pk: &str, sk: &str, cond: Cond) -> Result<(), StoreError> {
        let mut e = Expr::default();
        let c = e.cond(&cond)?;
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .set_condition_expression(c)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn query(&self, q: Query) -> Result<Page, StoreError> {
        self.run_query(q, false).await
    }

    async fn query_gsi1(&self, q: Query) -> Result<Page, StoreError> {
        self.run_query(q, true).await
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        validate_transaction(&writes)?;
        let items = writes
            .iter()
            .map(|w| self.transact_item(w))
            .collect::<Result<Vec<_>, _>>()?;
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(se)) => match se.err() {
                TransactWriteItemsError::TransactionCanceledException(tc) => {
                    let reasons = tc.cancellation_reasons();
                    let failed = reasons
                        .iter()
                        .position(|r| r.code() == Some("ConditionalCheckFailed"));
                    if let Some(i) = failed {
                        Err(StoreError::ConditionFailed { index: Some(i) })
                    } else if reasons.iter().any(|r| {
                        matches!(r.code(), Some("TransactionConflict" | "ThrottlingError"))
                    }) {
                        Err(StoreError::Conflict)
                    } else {
                        Err(StoreError::Backend(describe(tc)))
                    }
                }
                other => Err(
                    match aws_sdk_dynamodb::error::ProvideErrorMetadata::code(other) {
                        Some("TransactionInProgressException" | "TransactionConflictException") => {
                            StoreError::Conflict
                        }
                        _ => StoreError::Backend(describe(other)),
                    },
                ),
            },
            Err(e) => Err(classify(e)),
        }
    }
}
