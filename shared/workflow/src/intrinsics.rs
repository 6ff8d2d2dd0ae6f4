//! Intrinsic functions (`States.Format('{} of {}', $.a, $.b)`), parsed at load time.

use serde_json::Value;

use crate::path::RefPath;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    Format,
    StringToJson,
    JsonToString,
    Array,
    ArrayLength,
    ArrayGetItem,
    ArrayContains,
    MathAdd,
    StringSplit,
    JsonMerge,
    Uuid,
}

impl Func {
    fn parse(name: &str) -> Option<Func> {
        Some(match name {
            "States.Format" => Func::Format,
            "States.StringToJson" => Func::StringToJson,
            "States.JsonToString" => Func::JsonToString,
            "States.Array" => Func::Array,
            "States.ArrayLength" => Func::ArrayLength,
            "States.ArrayGetItem" => Func::ArrayGetItem,
            "States.ArrayContains" => Func::ArrayContains,
            "States.MathAdd" => Func::MathAdd,
            "States.StringSplit" => Func::StringSplit,
            "States.JsonMerge" => Func::JsonMerge,
            "States.UUID" => Func::Uuid,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Lit(Value),
    Path(RefPath),
    Call(Func, Vec<Expr>),
}

/// Parses a `.$` value: a path (`$.x`, `$$.Task.Token`) or an intrinsic call.
pub fn parse(text: &str) -> Result<Expr, String> {
    let text = text.trim();
    if text.starts_with('$') {
        return RefPath::parse(text).map(Expr::Path);
    }
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
        text,
    };
    let e = p.call()?;
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("unexpected text after the call in {text:?}"));
    }
    Ok(e)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    text: &'a str,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn err(&self, why: &str) -> String {
        format!("intrinsic {:?}: {why} at {}", self.text, self.i)
    }

    fn call(&mut self) -> Result<Expr, String> {
        self.ws();
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'.')
        {
            self.i += 1;
        }
        let name = &self.text[start..self.i];
        let func =
            Func::parse(name).ok_or_else(|| self.err(&format!("unsupported function {name:?}")))?;
        self.ws();
        if self.s.get(self.i) != Some(&b'(') {
            return Err(self.err("expected ("));
        }
        self.i += 1;
        let mut args = Vec::new();
        self.ws();
        if self.s.get(self.i) == Some(&b')') {
            self.i += 1;
            return Ok(Expr::Call(func, args));
        }
        loop {
            args.push(self.arg()?);
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b')') => {
                    self.i += 1;
                    return Ok(Expr::Call(func, args));
                }
                _ => return Err(self.err("expected , or )")),
            }
        }
    }

    fn arg(&mut self) -> Result<Expr, String> {
        self.ws();
        match self.s.get(self.i) {
            Some(b'\'') => {
                self.i += 1;
                let mut out = String::new();
                loop {
                    match self.s.get(self.i) {
                        None => return Err(self.err("unterminated string")),
                        Some(b'\\') => {
                            let c = self.text[self.i + 1..]
                                .chars()
                                .next()
                                .ok_or_else(|| self.err("dangling \\"))?;
                            // Keep `\{` `\}` escaped so Format can tell literal braces apart.
                            if c == '{' || c == '}' {
                                out.push('\\');
                            }
                            out.push(c);
                            self.i += 1 + c.len_utf8();
                        }
                        Some(b'\'') => {
                            self.i += 1;
                            return Ok(Expr::Lit(Value::String(out)));
                        }
                        Some(_) => {
                            let c = self.text[self.i..]
                                .chars()
                                .next()
                                .ok_or_else(|| self.err("bad text"))?;
                            out.push(c);
                            self.i += c.len_utf8();
                        }
                    }
                }
            }
            Some(b'$') => {
                let start = self.i;
                while self.i < self.s.len() && self.s[self.i] != b',' && self.s[self.i] != b')' {
                    self.i += 1;
                }
                RefPath::parse(self.text[start..self.i].trim()).map(Expr::Path)
            }
            Some(c) if c.is_ascii_uppercase() => self.call(),
            Some(_) => {
                let start = self.i;
                while self.i < self.s.len() && self.s[self.i] != b',' && self.s[self.i] != b')' {
                    self.i += 1;
                }
                let lit = self.text[start..self.i].trim();
                serde_json::from_str::<Value>(lit)
                    .ok()
                    .filter(|v| v.is_number() || v.is_boolean() || v.is_null())
                    .map(Expr::Lit)
                    .ok_or_else(|| self.err(&format!("bad argument {lit:?}")))
            }
            None => Err(self.err("expected an argument")),
        }
    }
}

fn as_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn arity(f: Func, args: &[Value], n: usize) -> Result<(), String> {
    if args.len() == n {
        Ok(())
    } else {
        Err(format!("{f:?} takes {n} arguments, got {}", args.len()))
    }
}

impl Expr {
    pub fn eval(&self, input: &Value, ctx: &Value) -> Result<Value, String> {
        match self {
            Expr::Lit(v) => Ok(v.clone()),
            Expr::Path(p) => p
                .get(input, ctx)
                .cloned()
                .ok_or_else(|| format!("path {p} matched nothing in the input")),
            Expr::Call(f, args) => {
                let vals = args
                    .iter()
                    .map(|a| a.eval(input, ctx))
                    .collect::<Result<Vec<_>, _>>()?;
                call(*f, &vals)
            }
        }
    }
}

fn call(f: Func, a: &[Value]) -> Result<Value, String> {
    match f {
        Func::Format => {
            let tpl = a
                .first()
                .and_then(Value::as_str)
                .ok_or("Format needs a template string")?;
            let mut out = String::new();
            let mut rest = a[1..].iter();
            let mut chars = tpl.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => out.extend(chars.next()),
                    '{' if chars.peek() == Some(&'}') => {
                        chars.next();
                        out.push_str(&as_str(
                            rest.next().ok_or("Format has more {} than arguments")?,
                        ));
                    }
                    c => out.push(c),
                }
            }
            if rest.next().is_some() {
                return Err("Format has more arguments than {}".into());
            }
            Ok(Value::String(out))
        }
        Func::StringToJson => {
            arity(f, a, 1)?;
            serde_json::from_str(a[0].as_str().ok_or("StringToJson takes a string")?)
                .map_err(|e| format!("StringToJson: {e}"))
        }
        Func::JsonToString => {
            arity(f, a, 1)?;
            Ok(Value::String(a[0].to_string()))
        }
        Func::Array => Ok(Value::Array(a.to_vec())),
        Func::ArrayLength => {
            arity(f, a, 1)?;
            Ok(Value::from(
                a[0].as_array().ok_or("ArrayLength takes an array")?.len(),
            ))
        }
        Func::ArrayGetItem => {
            arity(f, a, 2)?;
            let arr = a[0].as_array().ok_or("ArrayGetItem takes an array")?;
            let i = a[1].as_u64().ok_or("ArrayGetItem takes an index")? as usize;
            arr.get(i)
                .cloned()
                .ok_or_else(|| "ArrayGetItem index out of range".into())
        }
        Func::ArrayContains => {
            arity(f, a, 2)?;
            Ok(Value::Bool(
                a[0].as_array()
                    .ok_or("ArrayContains takes an array")?
                    .contains(&a[1]),
            ))
        }
        Func::MathAdd => {
            arity(f, a, 2)?;
            let x = a[0].as_i64().ok_or("MathAdd takes integers")?;
            let y = a[1].as_i64().ok_or("MathAdd takes integers")?;
            Ok(Value::from(x.checked_add(y).ok_or("MathAdd overflow")?))
        }
        Func::StringSplit => {
            arity(f, a, 2)?;
            let s = a[0].as_str().ok_or("StringSplit takes a string")?;
            let d = a[1]
                .as_str()
                .ok_or("StringSplit takes a delimiter string")?;
            let parts = s
                .split(|c| d.contains(c))
                .filter(|p| !p.is_empty())
                .map(|p| Value::String(p.to_owned()))
                .collect();
            Ok(Value::Array(parts))
        }
        Func::JsonMerge => {
            // Only the shallow merge (third argument false) exists in Step Functions.
            arity(f, a, 3)?;
            if a[2] != Value::Bool(false) {
                return Err("JsonMerge supports only a shallow merge (false)".into());
            }
            let mut left = a[0].as_object().ok_or("JsonMerge takes objects")?.clone();
            for (k, v) in a[1].as_object().ok_or("JsonMerge takes objects")? {
                left.insert(k.clone(), v.clone());
            }
            Ok(Value::Object(left))
        }
        Func::Uuid => {
            arity(f, a, 0)?;
            Ok(Value::String(uuid::Uuid::now_v7().hyphenated().to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(text: &str, input: Value) -> Result<Value, String> {
        parse(text)?.eval(&input, &json!({"Task": {"Token": "tok"}}))
    }

    #[test]
    fn functions_follow_the_spec_examples() {
        assert_eq!(
            eval(
                "States.Format('Hello, my name is {}.', $.name)",
                json!({"name": "Arnav"})
            )
            .unwrap(),
            json!("Hello, my name is Arnav.")
        );
        assert_eq!(
            eval(
                "States.Format('a \\{\\} {} {}', 1, $$.Task.Token)",
                json!({})
            )
            .unwrap(),
            json!("a {} 1 tok")
        );
        assert_eq!(
            eval("States.StringToJson($.s)", json!({"s": "{\"n\":1}"})).unwrap(),
            json!({"n": 1})
        );
        assert_eq!(
            eval("States.JsonToString($.o)", json!({"o": {"a": 1}})).unwrap(),
            json!("{\"a\":1}")
        );
        assert_eq!(
            eval("States.Array('a', 2, $.x)", json!({"x": true})).unwrap(),
            json!(["a", 2, true])
        );
        assert_eq!(
            eval("States.ArrayLength($.l)", json!({"l": [1, 2, 3]})).unwrap(),
            json!(3)
        );
        assert_eq!(
            eval("States.ArrayGetItem($.l, 1)", json!({"l": [1, 2, 3]})).unwrap(),
            json!(2)
        );
        assert_eq!(
            eval("States.ArrayContains($.l, 3)", json!({"l": [1, 2, 3]})).unwrap(),
            json!(true)
        );
        assert_eq!(
            eval("States.MathAdd($.n, -1)", json!({"n": 5})).unwrap(),
            json!(4)
        );
        assert_eq!(
            eval("States.StringSplit('a,b,,c', ',')", json!({})).unwrap(),
            json!(["a", "b", "c"])
        );
        assert_eq!(
            eval(
                "States.JsonMerge($.a, $.b, false)",
                json!({"a": {"x": 1, "y": 1}, "b": {"y": 2}})
            )
            .unwrap(),
            json!({"x": 1, "y": 2})
        );
        assert_eq!(
            eval(
                "States.MathAdd(States.ArrayLength($.l), 1)",
                json!({"l": [0]})
            )
            .unwrap(),
            json!(2)
        );
        assert!(
            eval("States.UUID()", json!({}))
                .unwrap()
                .as_str()
                .unwrap()
                .len()
                == 36
        );
    }

    #[test]
    fn bad_calls_fail_to_parse_or_evaluate() {
        for bad in [
            "States.Nope(1)",
            "States.Format('x'",
            "States.Array(,)",
            "Format('x')",
            "States.MathAdd(1, 2) x",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(eval("States.Format('{}')", json!({})).is_err());
        assert!(eval("States.MathAdd($.missing, 1)", json!({})).is_err());
    }
}
