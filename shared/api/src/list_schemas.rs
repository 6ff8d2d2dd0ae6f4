//! Schemas of request fields that are lists of strings. utoipa's field attributes bound the
//! list but not its items, and the document must bound every string the server reads: each
//! item here carries exactly the rule the server applies to it.

use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
use utoipa::openapi::{Array, Object};
use viral_core::domain::api_key::Scope;
use viral_core::domain::webhook::EVENTS;

/// A line of text: not only spaces, no control characters (as the core's rules check).
const LINE_PATTERN: &str = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$";

struct List {
    items: Object,
    min: Option<usize>,
    max: usize,
    /// The server refuses a list that names an item twice.
    unique: bool,
    /// The field may be absent or null.
    optional: bool,
}

impl List {
    fn build(self, description: &str) -> Array {
        let ty = if self.optional {
            SchemaType::from_iter([Type::Array, Type::Null])
        } else {
            SchemaType::new(Type::Array)
        };
        ArrayBuilder::new()
            .schema_type(ty)
            .description(Some(description))
            .items(self.items)
            .min_items(self.min)
            .max_items(Some(self.max))
            .unique_items(self.unique)
            .build()
    }
}

fn string(pattern: Option<&str>, max_length: Option<usize>) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(max_length)
        .pattern(pattern)
        .build()
}

/// `AutopilotRequest.categories`.
pub(crate) fn autopilot_categories() -> Array {
    List {
        items: string(Some("^[a-z-]{1,40}$"), None),
        min: None,
        max: 10,
        unique: false,
        optional: true,
    }
    .build("Trend categories to draw from (lower-case letters and `-`, e.g. `science`); all when absent.")
}

/// `AutopilotRequest.regions`.
pub(crate) fn autopilot_regions() -> Array {
    List {
        items: string(Some("^[A-Z]{2}$"), None),
        min: None,
        max: 10,
        unique: false,
        optional: true,
    }
    .build("Trend regions (two-letter country codes, upper case, e.g. `US`).")
}

/// `AutopilotRequest.targets`.
pub(crate) fn autopilot_targets() -> Array {
    List {
        items: string(None, Some(100)),
        min: Some(1),
        max: 10,
        unique: true,
        optional: false,
    }
    .build("Connected accounts (`acc_…`) to post to, taken in turn; each at most once.")
}

/// `CreateWebhookRequest.events`.
pub(crate) fn webhook_events() -> Array {
    List {
        items: ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(EVENTS))
            .build(),
        min: Some(1),
        max: EVENTS.len(),
        unique: true,
        optional: false,
    }
    .build("The events to send, each at most once.")
}

/// `TargetDoc.hashtags`.
pub(crate) fn post_hashtags() -> Array {
    List {
        items: ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(100))
            // No control characters but line breaks, as the server checks.
            .pattern(Some(r"^[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*$"))
            .build(),
        min: None,
        max: 100,
        unique: false,
        optional: true,
    }
    .build("Hashtags (each at most 100 characters); cut to the platform's limit with a warning.")
}

/// `CreateKeyRequest.scopes`.
pub(crate) fn key_scopes() -> Array {
    List {
        items: ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(Scope::ALL.map(Scope::as_str)))
            .build(),
        min: Some(1),
        max: Scope::ALL.len(),
        unique: true,
        optional: true,
    }
    .build("Omit for a key with all of its creator's rights; otherwise the scopes it has, each at most once.")
}

/// `CreateConceptsRequest.topics`.
pub(crate) fn concept_topics() -> Array {
    List {
        items: string(Some(LINE_PATTERN), Some(200)),
        min: None,
        max: 5,
        unique: false,
        optional: true,
    }
    .build("Up to 5 topics to write about (each 1–200 characters, not only spaces, no control characters); without them, live trends (or the sample set).")
}
