//! Reference paths (`$.a.b[0]`, `$['x y']`, `$$.Execution.Id`): reading values and, for
//! `ResultPath`, writing them. Wildcards and filters are not used by our workflows and are
//! refused when the definition is loaded.

use serde_json::{Map, Value};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefPath {
    /// `$$…`: the context object rather than the state's input.
    pub context: bool,
    segs: Vec<Seg>,
    text: String,
}

impl std::fmt::Display for RefPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl RefPath {
    pub fn parse(text: &str) -> Result<RefPath, String> {
        let bad = |why: &str| format!("invalid path {text:?}: {why}");
        let (context, rest) = if let Some(r) = text.strip_prefix("$$") {
            (true, r)
        } else if let Some(r) = text.strip_prefix('$') {
            (false, r)
        } else {
            return Err(bad("must start with $"));
        };
        let mut segs = Vec::new();
        let b = rest.as_bytes();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'.' => {
                    let start = i + 1;
                    let mut j = start;
                    while j < b.len() && b[j] != b'.' && b[j] != b'[' {
                        j += 1;
                    }
                    let key = &rest[start..j];
                    if key.is_empty() || key == "*" || key.contains(['?', '(', ')', '@', '*']) {
                        return Err(bad("empty or wildcard field"));
                    }
                    segs.push(Seg::Key(key.to_owned()));
                    i = j;
                }
                b'[' => {
                    let close = rest[i..]
                        .find(']')
                        .map(|k| i + k)
                        .ok_or_else(|| bad("unclosed ["))?;
                    let inner = &rest[i + 1..close];
                    let quoted = inner
                        .strip_prefix('\'')
                        .and_then(|x| x.strip_suffix('\''))
                        .or_else(|| inner.strip_prefix('"').and_then(|x| x.strip_suffix('"')));
                    if let Some(key) = quoted {
                        segs.push(Seg::Key(key.to_owned()));
                    } else if let Ok(n) = inner.parse::<usize>() {
                        segs.push(Seg::Index(n));
                    } else {
                        return Err(bad("only indexes and quoted names inside []"));
                    }
                    i = close + 1;
                }
                _ => return Err(bad("expected . or [")),
            }
        }
        Ok(RefPath {
            context,
            segs,
            text: text.to_owned(),
        })
    }

    pub fn is_root(&self) -> bool {
        self.segs.is_empty()
    }

    /// The value at this path, from `input` or (for `$$`) from `ctx`.
    pub fn get<'a>(&self, input: &'a Value, ctx: &'a Value) -> Option<&'a Value> {
        let mut cur = if self.context { ctx } else { input };
        for seg in &self.segs {
            cur = match (seg, cur) {
                (Seg::Key(k), Value::Object(m)) => m.get(k)?,
                (Seg::Index(n), Value::Array(a)) => a.get(*n)?,
                _ => return None,
            };
        }
        Some(cur)
    }

    /// `target` with `value` placed at this path (for `ResultPath`): missing objects on the way
    /// are created; anything else in the way is an error.
    pub fn set(&self, target: Value, value: Value) -> Result<Value, String> {
        if self.context {
            return Err(format!("cannot write to the context object ({self})"));
        }
        if self.segs.is_empty() {
            return Ok(value);
        }
        let mut root = target;
        if !root.is_object() {
            return Err(format!("{self}: the input is not an object"));
        }
        let mut cur = &mut root;
        for (i, seg) in self.segs.iter().enumerate() {
            let Seg::Key(k) = seg else {
                return Err(format!("{self}: ResultPath takes field names only"));
            };
            let m = cur
                .as_object_mut()
                .ok_or_else(|| format!("{self}: a value in the way is not an object"))?;
            if i + 1 == self.segs.len() {
                m.insert(k.clone(), value);
                return Ok(root);
            }
            cur = m
                .entry(k.clone())
                .or_insert_with(|| Value::Object(Map::new()));
        }
        Ok(root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_paths() {
        let input = json!({"a": {"b": [10, {"c": "x"}]}, "s p": 1});
        let ctx = json!({"Execution": {"Id": "e1"}});
        let get = |p: &str| RefPath::parse(p).unwrap().get(&input, &ctx).cloned();
        assert_eq!(get("$"), Some(input.clone()));
        assert_eq!(get("$.a.b[0]"), Some(json!(10)));
        assert_eq!(get("$.a.b[1].c"), Some(json!("x")));
        assert_eq!(get("$['s p']"), Some(json!(1)));
        assert_eq!(get("$.a.missing"), None);
        assert_eq!(get("$.a.b[9]"), None);
        assert_eq!(get("$$.Execution.Id"), Some(json!("e1")));
    }

    #[test]
    fn refuses_what_we_do_not_support() {
        for bad in ["a", "$.", "$.a[*]", "$.a[?(@.x)]", "$..a", "$.a[", "$x"] {
            assert!(RefPath::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn writes_result_paths() {
        let p = RefPath::parse("$.r.inner").unwrap();
        assert_eq!(
            p.set(json!({"a": 1}), json!(2)).unwrap(),
            json!({"a": 1, "r": {"inner": 2}})
        );
        assert_eq!(
            RefPath::parse("$")
                .unwrap()
                .set(json!({"a": 1}), json!(3))
                .unwrap(),
            json!(3)
        );
        assert!(p.set(json!({"r": 5}), json!(2)).is_err());
        assert!(p.set(json!([1]), json!(2)).is_err());
    }
}
