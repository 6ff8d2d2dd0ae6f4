//! Business metrics as tracing events: jobs started, succeeded and failed, provider latency
//! and cost, quota rejections. The Lambda log layer (`viral-runtime`) writes them as CloudWatch
//! Embedded Metric Format; locally they are not printed. Domain code records them without
//! doing any I/O itself.

/// The tracing target metric events use.
pub const METRIC_TARGET: &str = "viral::metric";
/// The CloudWatch namespace.
pub const NAMESPACE: &str = "viral";

/// A metric's one optional dimension (besides the function's `service`). Tenants are never a
/// dimension: each distinct value is a billed metric.
#[derive(Clone, Copy, Debug)]
pub enum Dimension<'a> {
    Provider(&'a str),
    Resource(&'a str),
}

#[derive(Clone, Copy, Debug)]
pub enum Unit {
    Count,
    Seconds,
    /// US cents: CloudWatch has no currency unit.
    None,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Seconds => "Seconds",
            Unit::None => "None",
        }
    }
}

pub fn record(name: &str, value: f64, unit: Unit, dim: Option<Dimension<'_>>) {
    let unit = unit.as_str();
    match dim {
        None => tracing::info!(target: METRIC_TARGET, metric = name, value, unit),
        Some(Dimension::Provider(p)) => {
            tracing::info!(target: METRIC_TARGET, metric = name, value, unit, provider = p)
        }
        Some(Dimension::Resource(r)) => {
            tracing::info!(target: METRIC_TARGET, metric = name, value, unit, resource = r)
        }
    }
}

pub fn count(name: &str, dim: Option<Dimension<'_>>) {
    record(name, 1.0, Unit::Count, dim);
}
