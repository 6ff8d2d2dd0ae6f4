//! JSON values ⇄ DynamoDB attribute values, and items ⇄ attribute maps.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use viral_core::ports::item_store::Attrs;
use viral_core::ports::{Item, StoreError};

pub(crate) type AvMap = HashMap<String, AttributeValue>;

/// A JSON value as a DynamoDB attribute value (serde_dynamo: numbers as `N`, objects as `M`,
/// arrays as `L`, null as `NULL`).
pub(crate) fn to_av(v: &Value) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(v)
        .map_err(|e| StoreError::Invalid(format!("cannot store the value: {e}")))
}

/// An attribute value read back as JSON; sets (`SS`, `NS`) read as arrays. Types JSON has
/// no place for (binary, and any the SDK does not know) read as null, as they always have:
/// we never write them, and one must not make an item unreadable.
pub(crate) fn from_av(av: &AttributeValue) -> Result<Value, StoreError> {
    serde_dynamo::from_attribute_value(json_shaped(av))
        .map_err(|e| StoreError::Backend(format!("unreadable attribute: {e}")))
}

/// `av` with every value JSON cannot hold replaced by `NULL` (serde_dynamo has no JSON for
/// binary and panics on a type it does not know).
fn json_shaped(av: &AttributeValue) -> AttributeValue {
    match av {
        AttributeValue::M(m) => {
            AttributeValue::M(m.iter().map(|(k, v)| (k.clone(), json_shaped(v))).collect())
        }
        AttributeValue::L(l) => AttributeValue::L(l.iter().map(json_shaped).collect()),
        AttributeValue::S(_)
        | AttributeValue::N(_)
        | AttributeValue::Bool(_)
        | AttributeValue::Null(_)
        | AttributeValue::Ss(_)
        | AttributeValue::Ns(_) => av.clone(),
        _ => AttributeValue::Null(true),
    }
}

pub(crate) fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

pub(crate) fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(crate) fn item_to_map(item: &Item) -> Result<AvMap, StoreError> {
    let mut m: AvMap = item
        .attrs
        .iter()
        .map(|(k, v)| Ok((k.clone(), to_av(v)?)))
        .collect::<Result<_, StoreError>>()?;
    m.insert("pk".into(), s(&item.pk));
    m.insert("sk".into(), s(&item.sk));
    if let Some((gpk, gsk)) = &item.gsi1 {
        m.insert("gsi1pk".into(), s(gpk));
        m.insert("gsi1sk".into(), s(gsk));
    }
    let ver = i64::try_from(item.version)
        .map_err(|_| StoreError::Invalid("version out of range".into()))?;
    m.insert("ver".into(), n(ver));
    if let Some(t) = item.expires_at {
        m.insert("ttl".into(), n(t));
    }
    Ok(m)
}

fn get_s(m: &AvMap, k: &str) -> Option<String> {
    m.get(k).and_then(|v| v.as_s().ok()).cloned()
}

fn get_n(m: &AvMap, k: &str) -> Option<i64> {
    m.get(k)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
}

pub(crate) fn map_to_item(m: &AvMap) -> Result<Item, StoreError> {
    let pk = get_s(m, "pk").ok_or_else(|| StoreError::Backend("item without pk".into()))?;
    let sk = get_s(m, "sk").ok_or_else(|| StoreError::Backend("item without sk".into()))?;
    let mut attrs = Attrs::new();
    for (k, v) in m {
        if !viral_core::ports::item_store::RESERVED_ATTRS.contains(&k.as_str()) {
            attrs.insert(k.clone(), from_av(v)?);
        }
    }
    Ok(Item {
        pk,
        sk,
        gsi1: get_s(m, "gsi1pk").zip(get_s(m, "gsi1sk")),
        version: get_n(m, "ver")
            .and_then(|v| u64::try_from(v).ok())
            .unwrap_or(0),
        expires_at: get_n(m, "ttl"),
        attrs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_round_trip() {
        for v in [
            json!(null),
            json!(true),
            json!(-7),
            json!(18_446_744_073_709_551_615_u64),
            json!(2.5),
            json!("s"),
            json!([1, [2], {"a": null}]),
            json!({"x": {"y": "z"}}),
        ] {
            assert_eq!(from_av(&to_av(&v).unwrap()).unwrap(), v);
        }
        assert_eq!(to_av(&json!(-7)).unwrap(), AttributeValue::N("-7".into()));
        assert_eq!(to_av(&json!(null)).unwrap(), AttributeValue::Null(true));
        // Sets written by other tools read as arrays.
        let ss = AttributeValue::Ss(vec!["a".into(), "b".into()]);
        assert_eq!(from_av(&ss).unwrap(), json!(["a", "b"]));
        let ns = AttributeValue::Ns(vec!["1".into(), "2.5".into()]);
        assert_eq!(from_av(&ns).unwrap(), json!([1, 2.5]));
        // Binary, here or nested, reads as null rather than failing the item.
        let blob = aws_sdk_dynamodb::primitives::Blob::new(vec![1, 2]);
        let nested = AttributeValue::M([("b".to_owned(), AttributeValue::B(blob.clone()))].into());
        assert_eq!(from_av(&AttributeValue::B(blob)).unwrap(), json!(null));
        assert_eq!(from_av(&nested).unwrap(), json!({"b": null}));
    }
}
