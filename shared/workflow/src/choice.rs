//! Choice rules: comparison operators, `And`/`Or`/`Not`, and type tests.

use serde_json::{Map, Value};

use crate::path::RefPath;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    String,
    Numeric,
    Boolean,
    Timestamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Equals,
    LessThan,
    GreaterThan,
    LessThanEquals,
    GreaterThanEquals,
    Matches,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Test {
    IsNull,
    IsPresent,
    IsNumeric,
    IsString,
    IsBoolean,
    IsTimestamp,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    Value(Value),
    Path(RefPath),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Rule {
    And(Vec<Rule>),
    Or(Vec<Rule>),
    Not(Box<Rule>),
    Compare {
        variable: RefPath,
        kind: Kind,
        cmp: Cmp,
        operand: Operand,
    },
    Test {
        variable: RefPath,
        test: Test,
        expect: bool,
    },
}

fn parse_op(name: &str) -> Option<(Kind, Cmp, bool)> {
    let (base, is_path) = match name.strip_suffix("Path") {
        Some(b) if b != "Is" => (b, true),
        _ => (name, false),
    };
    let (kind, rest) = [
        ("String", Kind::String),
        ("Numeric", Kind::Numeric),
        ("Boolean", Kind::Boolean),
        ("Timestamp", Kind::Timestamp),
    ]
    .iter()
    .find_map(|(p, k)| base.strip_prefix(p).map(|r| (*k, r)))?;
    let cmp = match rest {
        "Equals" => Cmp::Equals,
        "LessThan" => Cmp::LessThan,
        "GreaterThan" => Cmp::GreaterThan,
        "LessThanEquals" => Cmp::LessThanEquals,
        "GreaterThanEquals" => Cmp::GreaterThanEquals,
        "Matches" if kind == Kind::String && !is_path => Cmp::Matches,
        _ => return None,
    };
    if kind == Kind::Boolean && cmp != Cmp::Equals {
        return None;
    }
    Some((kind, cmp, is_path))
}

fn parse_test(name: &str) -> Option<Test> {
    Some(match name {
        "IsNull" => Test::IsNull,
        "IsPresent" => Test::IsPresent,
        "IsNumeric" => Test::IsNumeric,
        "IsString" => Test::IsString,
        "IsBoolean" => Test::IsBoolean,
        "IsTimestamp" => Test::IsTimestamp,
        _ => return None,
    })
}

/// Parses one rule; `top` rules also carry `Next`, which the caller reads.
pub fn parse_rule(m: &Map<String, Value>, top: bool) -> Result<Rule, String> {
    let known = |k: &str| k == "Comment" || (top && k == "Next");
    for combinator in ["And", "Or", "Not"] {
        if let Some(v) = m.get(combinator) {
            if let Some(k) = m.keys().find(|k| !known(k) && *k != combinator) {
                return Err(format!("unexpected field {k:?} beside {combinator}"));
            }
            let sub = |v: &Value| {
                v.as_object()
                    .ok_or_else(|| format!("{combinator} takes rule objects"))
                    .and_then(|o| parse_rule(o, false))
            };
            return Ok(match combinator {
                "Not" => Rule::Not(Box::new(sub(v)?)),
                _ => {
                    let list = v
                        .as_array()
                        .filter(|a| !a.is_empty())
                        .ok_or_else(|| format!("{combinator} takes a non-empty array"))?;
                    let rules = list.iter().map(sub).collect::<Result<Vec<_>, _>>()?;
                    if combinator == "And" {
                        Rule::And(rules)
                    } else {
                        Rule::Or(rules)
                    }
                }
            });
        }
    }
    let variable = m
        .get("Variable")
        .and_then(Value::as_str)
        .ok_or("a choice rule needs Variable or And/Or/Not")?;
    let variable = RefPath::parse(variable)?;
    let ops: Vec<&String> = m.keys().filter(|k| !known(k) && *k != "Variable").collect();
    let [op] = ops.as_slice() else {
        return Err(format!(
            "a choice rule takes exactly one operator, found {ops:?}"
        ));
    };
    let arg = &m[op.as_str()];
    if let Some(test) = parse_test(op) {
        let expect = arg
            .as_bool()
            .ok_or_else(|| format!("{op} takes true or false"))?;
        return Ok(Rule::Test {
            variable,
            test,
            expect,
        });
    }
    let (kind, cmp, is_path) =
        parse_op(op).ok_or_else(|| format!("unsupported operator {op:?}"))?;
    let operand = if is_path {
        Operand::Path(RefPath::parse(
            arg.as_str().ok_or_else(|| format!("{op} takes a path"))?,
        )?)
    } else {
        let ok = match kind {
            Kind::String | Kind::Timestamp => arg.is_string(),
            Kind::Numeric => arg.is_number(),
            Kind::Boolean => arg.is_boolean(),
        };
        if !ok {
            return Err(format!("{op} has an operand of the wrong type"));
        }
        Operand::Value(arg.clone())
    };
    Ok(Rule::Compare {
        variable,
        kind,
        cmp,
        operand,
    })
}

fn timestamp(v: &Value) -> Option<time::OffsetDateTime> {
    v.as_str().and_then(|s| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
    })
}

/// `*` matches any run of characters; `\*` is a literal star.
fn glob(pattern: &str, s: &str) -> bool {
    let mut parts: Vec<String> = vec![String::new()];
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => parts
                .last_mut()
                .map(|p| p.extend(chars.next()))
                .unwrap_or(()),
            '*' => parts.push(String::new()),
            c => parts.last_mut().map(|p| p.push(c)).unwrap_or(()),
        }
    }
    let (first, rest) = parts
        .split_first()
        .map(|(f, r)| (f.as_str(), r))
        .unwrap_or(("", &[]));
    let Some(mut tail) = s.strip_prefix(first) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return tail.is_empty();
    };
    for m in middle {
        match tail.find(m.as_str()) {
            Some(i) => tail = &tail[i + m.len()..],
            None => return false,
        }
    }
    tail.ends_with(last.as_str())
}

impl Rule {
    pub fn matches(&self, input: &Value, ctx: &Value) -> bool {
        match self {
            Rule::And(rs) => rs.iter().all(|r| r.matches(input, ctx)),
            Rule::Or(rs) => rs.iter().any(|r| r.matches(input, ctx)),
            Rule::Not(r) => !r.matches(input, ctx),
            Rule::Test {
                variable,
                test,
                expect,
            } => {
                let v = variable.get(input, ctx);
                let got = match test {
                    Test::IsPresent => v.is_some(),
                    Test::IsNull => v.is_some_and(Value::is_null),
                    Test::IsNumeric => v.is_some_and(Value::is_number),
                    Test::IsString => v.is_some_and(Value::is_string),
                    Test::IsBoolean => v.is_some_and(Value::is_boolean),
                    Test::IsTimestamp => v.is_some_and(|v| timestamp(v).is_some()),
                };
                got == *expect
            }
            Rule::Compare {
                variable,
                kind,
                cmp,
                operand,
            } => {
                let Some(left) = variable.get(input, ctx) else {
                    return false;
                };
                let right = match operand {
                    Operand::Value(v) => v,
                    Operand::Path(p) => match p.get(input, ctx) {
                        Some(v) => v,
                        None => return false,
                    },
                };
                let ord = match kind {
                    Kind::String => match (left.as_str(), right.as_str()) {
                        (Some(l), Some(r)) if *cmp == Cmp::Matches => return glob(r, l),
                        (Some(l), Some(r)) => l.cmp(r),
                        _ => return false,
                    },
                    Kind::Numeric => match (left.as_f64(), right.as_f64()) {
                        (Some(l), Some(r)) => match l.partial_cmp(&r) {
                            Some(o) => o,
                            None => return false,
                        },
                        _ => return false,
                    },
                    Kind::Boolean => match (left.as_bool(), right.as_bool()) {
                        (Some(l), Some(r)) => return l == r,
                        _ => return false,
                    },
                    Kind::Timestamp => match (timestamp(left), timestamp(right)) {
                        (Some(l), Some(r)) => l.cmp(&r),
                        _ => return false,
                    },
                };
                use std::cmp::Ordering::*;
                match cmp {
                    Cmp::Equals => ord == Equal,
                    Cmp::LessThan => ord == Less,
                    Cmp::GreaterThan => ord == Greater,
                    Cmp::LessThanEquals => ord != Greater,
                    Cmp::GreaterThanEquals => ord != Less,
                    Cmp::Matches => false,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(v: Value) -> Rule {
        parse_rule(v.as_object().unwrap(), true).unwrap()
    }

    #[test]
    fn operators_compare_as_the_spec_says() {
        let input = json!({"n": 5, "s": "render", "b": true, "t": "2026-11-25T01:00:00Z", "lim": 5, "nul": null});
        let ctx = json!({});
        let yes = |v: Value| assert!(rule(v.clone()).matches(&input, &ctx), "{v}");
        let no = |v: Value| assert!(!rule(v.clone()).matches(&input, &ctx), "{v}");
        yes(json!({"Variable": "$.n", "NumericEquals": 5, "Next": "x"}));
        yes(json!({"Variable": "$.n", "NumericLessThanEquals": 5}));
        no(json!({"Variable": "$.n", "NumericLessThan": 5}));
        yes(json!({"Variable": "$.n", "NumericEqualsPath": "$.lim"}));
        yes(json!({"Variable": "$.n", "NumericGreaterThanEquals": 4.5}));
        yes(json!({"Variable": "$.s", "StringEquals": "render"}));
        yes(json!({"Variable": "$.s", "StringMatches": "re*er"}));
        no(json!({"Variable": "$.s", "StringMatches": "x*"}));
        yes(json!({"Variable": "$.s", "StringGreaterThan": "abc"}));
        yes(json!({"Variable": "$.b", "BooleanEquals": true}));
        yes(json!({"Variable": "$.t", "TimestampLessThan": "2026-11-25T02:00:00+00:00"}));
        yes(json!({"Variable": "$.missing", "IsPresent": false}));
        yes(json!({"Variable": "$.nul", "IsNull": true}));
        yes(json!({"Variable": "$.n", "IsNumeric": true}));
        no(json!({"Variable": "$.s", "NumericEquals": 5}));
        no(json!({"Variable": "$.missing", "StringEquals": "x"}));
        yes(
            json!({"And": [{"Variable": "$.n", "NumericEquals": 5}, {"Not": {"Variable": "$.s", "StringEquals": "x"}}]}),
        );
        yes(
            json!({"Or": [{"Variable": "$.n", "NumericEquals": 1}, {"Variable": "$.b", "BooleanEquals": true}]}),
        );
    }

    #[test]
    fn malformed_rules_fail_to_load() {
        for bad in [
            json!({"Variable": "$.n"}),
            json!({"Variable": "$.n", "NumericEquals": "5"}),
            json!({"Variable": "$.n", "NumericEquals": 5, "StringEquals": "x"}),
            json!({"Variable": "$.n", "NumericFuzzy": 5}),
            json!({"And": []}),
            json!({"NumericEquals": 5}),
            json!({"Variable": "$.n", "BooleanLessThan": true}),
        ] {
            assert!(parse_rule(bad.as_object().unwrap(), true).is_err(), "{bad}");
        }
    }

    #[test]
    fn globs() {
        assert!(glob("*.mp4", "a.mp4"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b", "ac"));
        assert!(glob("a\\*", "a*"));
        assert!(!glob("a\\*", "ab"));
        assert!(glob("*", ""));
    }
}
