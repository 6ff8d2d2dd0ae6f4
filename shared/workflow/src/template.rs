//! Payload templates (`Parameters`, `ResultSelector`, `ItemSelector`): fields ending in `.$`
//! take a path or an intrinsic function, compiled when the definition is loaded.

use serde_json::{Map, Value};

use crate::intrinsics::{self, Expr};

#[derive(Clone, Debug, PartialEq)]
pub enum Template {
    Literal(Value),
    Object(Vec<(String, Template)>),
    Array(Vec<Template>),
    Dynamic(Expr),
}

impl Template {
    pub fn compile(v: &Value) -> Result<Template, String> {
        Ok(match v {
            Value::Object(m) => {
                let mut fields = Vec::with_capacity(m.len());
                for (k, v) in m {
                    if let Some(name) = k.strip_suffix(".$") {
                        let text = v.as_str().ok_or_else(|| {
                            format!("field {k:?} must be a path or intrinsic string")
                        })?;
                        fields.push((name.to_owned(), Template::Dynamic(intrinsics::parse(text)?)));
                    } else {
                        fields.push((k.clone(), Template::compile(v)?));
                    }
                }
                Template::Object(fields)
            }
            Value::Array(a) => {
                Template::Array(a.iter().map(Template::compile).collect::<Result<_, _>>()?)
            }
            other => Template::Literal(other.clone()),
        })
    }

    /// Fills the template from the state's input and the context object.
    pub fn render(&self, input: &Value, ctx: &Value) -> Result<Value, String> {
        Ok(match self {
            Template::Literal(v) => v.clone(),
            Template::Array(a) => Value::Array(
                a.iter()
                    .map(|t| t.render(input, ctx))
                    .collect::<Result<_, _>>()?,
            ),
            Template::Object(fields) => {
                let mut m = Map::new();
                for (k, t) in fields {
                    m.insert(k.clone(), t.render(input, ctx)?);
                }
                Value::Object(m)
            }
            Template::Dynamic(e) => e.eval(input, ctx)?,
        })
    }
}
