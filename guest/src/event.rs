//! Reading one event: a JSON object in one of three shapes (a raw CloudTrail
//! record, a Sentinel `AWSCloudTrail` row, an ECS document from the Elastic
//! AWS integration) mapped onto one canonical [`Event`].
//!
//! The mapping is the input table of `docs/rules.md`. One serde pass
//! reads only the keys any shape uses and skips the rest without building a
//! tree; strings without escapes are borrowed from the input.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::fields::{Extra, Extract, Schema};
use crate::time::{self, TimeError};

/// Which of the three input shapes an event was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A raw CloudTrail record (`eventTime`, `userIdentity`, …).
    CloudTrail,
    /// A Microsoft Sentinel `AWSCloudTrail` table row (`TimeGenerated`, …).
    Sentinel,
    /// An ECS document of the Elastic AWS integration (`@timestamp`,
    /// `event.action`, …), keys nested or dotted.
    Ecs,
}

/// A canonical field: `None` is a missing field or a JSON `null` (the
/// rules decide whether that reads as `""` or as null).
pub type Field<'a> = Option<Cow<'a, str>>;

/// One event, reduced to the fields the rules read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event<'a> {
    /// The shape the event was read as.
    pub shape: Shape,
    /// Event time, ms since the epoch.
    pub time_ms: i64,
    /// `userAgent`.
    pub user_agent: Field<'a>,
    /// ECS `user_agent.name` when the document carries it.
    pub ua_name: Field<'a>,
    /// `eventName`.
    pub event_name: Field<'a>,
    /// `eventSource`.
    pub event_source: Field<'a>,
    /// `userIdentity.type`.
    pub identity_type: Field<'a>,
    /// `userIdentity.arn`.
    pub identity_arn: Field<'a>,
    /// `userIdentity.userName`.
    pub user_name: Field<'a>,
    /// `userIdentity.principalId`.
    pub principal_id: Field<'a>,
    /// `recipientAccountId`.
    pub recipient_account: Field<'a>,
    /// `sourceIPAddress`.
    pub source_ip: Field<'a>,
    /// `userIdentity.sessionContext.attributes.mfaAuthenticated`, as
    /// `"true"` / `"false"`.
    pub mfa: Field<'a>,
    /// `resources[0].ARN`.
    pub resource_arn: Field<'a>,
    /// `eventID`.
    pub event_id: Field<'a>,
    /// ECS `event.dataset` when present (other shapes: `None`).
    pub dataset: Field<'a>,
    /// The values of the data rules' paths (`fields::Schema`), by slot:
    /// empty when no rule reads a path beyond the canonical fields.
    pub extra: Extra<'a>,
}

/// Why an event could not be read. Mirrors the contract's `reject-reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RejectReason {
    /// Not valid JSON.
    InvalidJson,
    /// Valid JSON, not an object.
    NotAnObject,
    /// An object of no recognised shape, or a known field of the wrong type.
    UnknownShape,
    /// No time field, or it is null or empty.
    MissingTime,
    /// A time field that cannot be read.
    InvalidTime,
    /// Larger than the configured maximum.
    TooLarge,
    /// Would exceed the configured number of open groups.
    StateLimit,
}

impl RejectReason {
    /// Every reason, in contract order.
    pub const ALL: [RejectReason; 7] = [
        RejectReason::InvalidJson,
        RejectReason::NotAnObject,
        RejectReason::UnknownShape,
        RejectReason::MissingTime,
        RejectReason::InvalidTime,
        RejectReason::TooLarge,
        RejectReason::StateLimit,
    ];

    /// Kebab-case name, as in the contract.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::InvalidJson => "invalid-json",
            RejectReason::NotAnObject => "not-an-object",
            RejectReason::UnknownShape => "unknown-shape",
            RejectReason::MissingTime => "missing-time",
            RejectReason::InvalidTime => "invalid-time",
            RejectReason::TooLarge => "too-large",
            RejectReason::StateLimit => "state-limit",
        }
    }
}

/// A rejected event: a reason and a message naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", reason.as_str())]
pub struct EventError {
    /// Machine-readable reason.
    pub reason: RejectReason,
    /// What was wrong, naming the field.
    pub message: String,
}

impl EventError {
    pub(crate) fn new(reason: RejectReason, message: impl Into<String>) -> Self {
        EventError {
            reason,
            message: message.into(),
        }
    }
}

/// Any JSON value where a string is read. Non-strings count as their compact
/// JSON text (`5`, `true`); numbers are kept for time fields (epoch ms).
#[derive(Debug, Clone, PartialEq)]
enum Scalar<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    Float(f64),
    /// Compact JSON text of a bool, a large integer, an object or an array.
    Text(String),
}

impl<'a> Scalar<'a> {
    fn into_text(self) -> Cow<'a, str> {
        match self {
            Scalar::Str(s) => s,
            Scalar::Int(i) => Cow::Owned(i.to_string()),
            Scalar::Float(f) => Cow::Owned(crate::fields::float_text(f)),
            Scalar::Text(t) => Cow::Owned(t),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(v)))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Scalar::Text(if v { "true" } else { "false" }.to_owned()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(i64::try_from(v).map_or_else(|_| Scalar::Text(v.to_string()), Scalar::Int))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Scalar::Float(v))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Text("null".to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let v = serde_json::Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Scalar::Text(v.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                let v = serde_json::Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                Ok(Scalar::Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

type Opt<'a> = Option<Scalar<'a>>;

/// `resources[0].ARN` (raw) or `parse_json(Resources)[0].ARN` (Sentinel,
/// where the column may hold the array or its JSON text). Any other
/// layout yields no ARN rather than an error, as `parse_json` would.
#[derive(Debug, Default, PartialEq)]
struct FirstArn<'a>(Option<Cow<'a, str>>);

/// The `ARN` member of a resource object; anything else has none.
struct ArnOf<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for ArnOf<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ArnOf<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a resource object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut arn = None;
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    if key == "ARN" && arn.is_none() {
                        arn = map.next_value::<Opt<'de>>()?.map(Scalar::into_text);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(ArnOf(arn))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(ArnOf(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(ArnOf(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(ArnOf(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(ArnOf(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(ArnOf(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(ArnOf(None))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(ArnOf(None))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for FirstArn<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FirstArn<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of resources")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let first = seq.next_element::<ArnOf<'de>>()?.and_then(|a| a.0);
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(FirstArn(first))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                // Sentinel keeps `Resources` as JSON text.
                let arn = serde_json::from_str::<FirstArn>(v)
                    .ok()
                    .and_then(|a| a.0)
                    .map(|c| Cow::Owned(c.into_owned()));
                Ok(FirstArn(arn))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(FirstArn(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(FirstArn(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(FirstArn(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(FirstArn(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(FirstArn(None))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(FirstArn(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A known object member: read only from a JSON object. (A derived
/// `Deserialize` also reads a struct from an array, member by member in
/// declaration order; an array where an object belongs is a wrong type.)
#[derive(Debug, Default)]
struct Obj<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Obj)
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

#[derive(Deserialize, Default)]
struct Attributes<'a> {
    #[serde(rename = "mfaAuthenticated", borrow)]
    mfa: Opt<'a>,
}

#[derive(Deserialize, Default)]
struct SessionContext<'a> {
    #[serde(borrow)]
    attributes: Option<Obj<Attributes<'a>>>,
}

#[derive(Deserialize, Default)]
struct UserIdentity<'a> {
    #[serde(rename = "type", borrow)]
    kind: Opt<'a>,
    #[serde(borrow)]
    arn: Opt<'a>,
    #[serde(rename = "userName", borrow)]
    user_name: Opt<'a>,
    #[serde(rename = "principalId", borrow)]
    principal_id: Opt<'a>,
    #[serde(rename = "sessionContext", borrow)]
    session_context: Option<Obj<SessionContext<'a>>>,
}

#[derive(Deserialize, Default)]
struct EcsEvent<'a> {
    #[serde(borrow)]
    action: Opt<'a>,
    #[serde(borrow)]
    provider: Opt<'a>,
    #[serde(borrow)]
    dataset: Opt<'a>,
    #[serde(borrow)]
    id: Opt<'a>,
}

#[derive(Deserialize, Default)]
struct EcsUserAgent<'a> {
    #[serde(borrow)]
    original: Opt<'a>,
    #[serde(borrow)]
    name: Opt<'a>,
}

#[derive(Deserialize, Default)]
struct EcsUser<'a> {
    #[serde(borrow)]
    name: Opt<'a>,
    #[serde(borrow)]
    id: Opt<'a>,
}

#[derive(Deserialize, Default)]
struct EcsSource<'a> {
    #[serde(borrow)]
    address: Opt<'a>,
    #[serde(borrow)]
    ip: Opt<'a>,
}

#[derive(Deserialize, Default)]
struct EcsSessionContext<'a> {
    #[serde(borrow)]
    mfa_authenticated: Opt<'a>,
}

#[derive(Deserialize, Default)]
struct EcsUserIdentity<'a> {
    #[serde(rename = "type", borrow)]
    kind: Opt<'a>,
    #[serde(borrow)]
    arn: Opt<'a>,
    #[serde(borrow)]
    session_context: Option<Obj<EcsSessionContext<'a>>>,
}

#[derive(Deserialize, Default)]
struct EcsCloudTrail<'a> {
    #[serde(borrow)]
    user_identity: Option<Obj<EcsUserIdentity<'a>>>,
    #[serde(borrow)]
    recipient_account_id: Opt<'a>,
}

#[derive(Deserialize, Default)]
struct EcsAws<'a> {
    #[serde(borrow)]
    cloudtrail: Option<Obj<EcsCloudTrail<'a>>>,
}

/// Every key any shape uses, read in one pass; all other keys are skipped.
#[derive(Deserialize, Default)]
struct Doc<'a> {
    // Raw CloudTrail record.
    #[serde(rename = "eventTime", borrow)]
    event_time: Opt<'a>,
    #[serde(rename = "userAgent", borrow)]
    user_agent: Opt<'a>,
    #[serde(rename = "eventName", borrow)]
    event_name: Opt<'a>,
    #[serde(rename = "eventSource", borrow)]
    event_source: Opt<'a>,
    #[serde(rename = "userIdentity", borrow)]
    user_identity: Option<Obj<UserIdentity<'a>>>,
    #[serde(rename = "recipientAccountId", borrow)]
    recipient_account_id: Opt<'a>,
    #[serde(rename = "sourceIPAddress", borrow)]
    source_ip_address: Opt<'a>,
    #[serde(borrow)]
    resources: Option<FirstArn<'a>>,
    #[serde(rename = "eventID", borrow)]
    event_id: Opt<'a>,
    #[serde(rename = "eventVersion", borrow)]
    event_version: Opt<'a>,

    // Shared: ECS time, and Logstash's time on raw records without eventTime.
    #[serde(rename = "@timestamp", borrow)]
    at_timestamp: Opt<'a>,

    // Sentinel AWSCloudTrail row.
    #[serde(rename = "TimeGenerated", borrow)]
    s_time: Opt<'a>,
    #[serde(rename = "UserAgent", borrow)]
    s_user_agent: Opt<'a>,
    #[serde(rename = "EventName", borrow)]
    s_event_name: Opt<'a>,
    #[serde(rename = "EventSource", borrow)]
    s_event_source: Opt<'a>,
    #[serde(rename = "UserIdentityType", borrow)]
    s_identity_type: Opt<'a>,
    #[serde(rename = "UserIdentityArn", borrow)]
    s_identity_arn: Opt<'a>,
    #[serde(rename = "UserIdentityUserName", borrow)]
    s_user_name: Opt<'a>,
    #[serde(rename = "UserIdentityPrincipalid", borrow)]
    s_principal_id: Opt<'a>,
    #[serde(rename = "RecipientAccountId", borrow)]
    s_recipient_account_id: Opt<'a>,
    #[serde(rename = "SourceIpAddress", borrow)]
    s_source_ip: Opt<'a>,
    #[serde(rename = "SessionMfaAuthenticated", borrow)]
    s_mfa: Opt<'a>,
    #[serde(rename = "Resources", borrow)]
    s_resources: Option<FirstArn<'a>>,
    #[serde(rename = "AwsEventId", borrow)]
    s_event_id: Opt<'a>,

    // ECS, nested keys.
    #[serde(borrow)]
    event: Option<Obj<EcsEvent<'a>>>,
    #[serde(rename = "user_agent", borrow)]
    ecs_user_agent: Option<Obj<EcsUserAgent<'a>>>,
    #[serde(borrow)]
    aws: Option<Obj<EcsAws<'a>>>,
    #[serde(borrow)]
    user: Option<Obj<EcsUser<'a>>>,
    #[serde(borrow)]
    source: Option<Obj<EcsSource<'a>>>,

    // ECS, dotted keys.
    #[serde(rename = "event.action", borrow)]
    d_action: Opt<'a>,
    #[serde(rename = "event.provider", borrow)]
    d_provider: Opt<'a>,
    #[serde(rename = "event.dataset", borrow)]
    d_dataset: Opt<'a>,
    #[serde(rename = "event.id", borrow)]
    d_event_id: Opt<'a>,
    #[serde(rename = "user_agent.original", borrow)]
    d_ua_original: Opt<'a>,
    #[serde(rename = "user_agent.name", borrow)]
    d_ua_name: Opt<'a>,
    #[serde(rename = "aws.cloudtrail.user_identity.type", borrow)]
    d_identity_type: Opt<'a>,
    #[serde(rename = "aws.cloudtrail.user_identity.arn", borrow)]
    d_identity_arn: Opt<'a>,
    #[serde(
        rename = "aws.cloudtrail.user_identity.session_context.mfa_authenticated",
        borrow
    )]
    d_mfa: Opt<'a>,
    #[serde(rename = "aws.cloudtrail.recipient_account_id", borrow)]
    d_recipient_account_id: Opt<'a>,
    #[serde(rename = "user.name", borrow)]
    d_user_name: Opt<'a>,
    #[serde(rename = "user.id", borrow)]
    d_user_id: Opt<'a>,
    #[serde(rename = "source.address", borrow)]
    d_source_address: Opt<'a>,
    #[serde(rename = "source.ip", borrow)]
    d_source_ip: Opt<'a>,
}

fn text(v: Opt<'_>) -> Field<'_> {
    v.map(Scalar::into_text)
}

/// First present value of two (nested key, then dotted key).
fn either<'a>(a: Opt<'a>, b: Opt<'a>) -> Field<'a> {
    text(a.or(b))
}

/// Reads an event time: a time string, or epoch milliseconds as a number.
fn read_time(field: &str, v: Opt<'_>) -> Result<i64, EventError> {
    let bad = |why: TimeError, shown: &str| {
        EventError::new(
            RejectReason::InvalidTime,
            format!("{field} {shown} is not a time: {why}"),
        )
    };
    match v {
        None => Err(EventError::new(
            RejectReason::MissingTime,
            format!("{field} is missing or null"),
        )),
        Some(Scalar::Str(s)) if s.trim().is_empty() => Err(EventError::new(
            RejectReason::MissingTime,
            format!("{field} is empty"),
        )),
        Some(Scalar::Str(s)) => time::parse_time(&s).map_err(|e| bad(e, &format!("{s:?}"))),
        Some(Scalar::Int(ms)) => time::check_range(ms).map_err(|e| bad(e, &ms.to_string())),
        Some(Scalar::Float(f)) => {
            if f.is_finite() && f.abs() < 1e15 {
                time::check_range(f.floor() as i64).map_err(|e| bad(e, &f.to_string()))
            } else {
                Err(bad(TimeError("out of range".into()), &f.to_string()))
            }
        }
        Some(Scalar::Text(t)) => Err(bad(
            TimeError("expected a time string or epoch milliseconds".into()),
            &t,
        )),
    }
}

/// Reads one event from JSON text.
pub fn parse_event(text_in: &str) -> Result<Event<'_>, EventError> {
    let doc: Doc = match serde_json::from_str::<Obj<Doc>>(text_in) {
        Ok(doc) => doc.0,
        Err(e) => return Err(classify_json_error(text_in, e)),
    };
    if let Some(at) = lone_surrogate(text_in) {
        return Err(EventError::new(
            RejectReason::InvalidJson,
            format!("not valid JSON: a lone surrogate in a \\u escape at byte {at}"),
        ));
    }
    from_doc(doc)
}

/// Reads one event from JSON text, and in the same pass the values of the
/// paths in `schema` (raw CloudTrail records only: in a Sentinel row or an
/// ECS document every path reads as missing). Accepts and rejects exactly
/// what [`parse_event`] does: the paths never make a record unreadable.
pub fn parse_event_with<'a>(text_in: &'a str, schema: &Schema) -> Result<Event<'a>, EventError> {
    if schema.is_empty() {
        return parse_event(text_in);
    }
    let mut extra = schema.empty_extra();
    let parsed = {
        let mut de = serde_json::Deserializer::from_str(text_in);
        de::Deserializer::deserialize_map(
            &mut de,
            DocVisitor {
                schema,
                out: &mut extra,
            },
        )
        .and_then(|doc| de.end().map(|()| doc))
    };
    let doc = match parsed {
        Ok(doc) => doc,
        Err(e) => return Err(classify_json_error(text_in, e)),
    };
    if let Some(at) = lone_surrogate(text_in) {
        return Err(EventError::new(
            RejectReason::InvalidJson,
            format!("not valid JSON: a lone surrogate in a \\u escape at byte {at}"),
        ));
    }
    let mut ev = from_doc(doc)?;
    if ev.shape == Shape::CloudTrail {
        ev.extra = extra;
    } else {
        ev.extra = schema.empty_extra();
    }
    Ok(ev)
}

/// Whether [`Doc`] reads a top-level member of this name (its names,
/// taken once from the derived reader and sorted for a binary search).
fn is_doc_key(key: &str) -> bool {
    static KEYS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let mut keys = fields_of::<Doc<'_>>().to_vec();
        keys.sort_unstable();
        keys
    })
    .binary_search(&key)
    .is_ok()
}

/// Reads the object as [`Obj<Doc>`] does, handing the members on the
/// schema's paths to [`Extract`] on the way.
struct DocVisitor<'s, 'o, 'de> {
    schema: &'s Schema,
    out: &'o mut Extra<'de>,
}

impl<'de> Visitor<'de> for DocVisitor<'_, '_, 'de> {
    type Value = Doc<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Doc<'de>, A::Error> {
        Doc::deserialize(de::value::MapAccessDeserializer::new(Intercept {
            inner: map,
            schema: self.schema,
            out: self.out,
            tee: None,
        }))
    }
}

/// The members of the top-level object as `Doc`'s derived reader sees
/// them, minus those only the schema reads (extracted here instead). A
/// member both read (`userIdentity` for `userIdentity.accessKeyId`) is
/// taken as raw text once and read twice: by the schema, and by `Doc` as
/// it always is.
struct Intercept<'s, 'o, 'de, A> {
    inner: A,
    schema: &'s Schema,
    out: &'o mut Extra<'de>,
    tee: Option<&'s crate::fields::Node>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Intercept<'_, '_, 'de, A> {
    type Error = A::Error;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        loop {
            let Some(key) = self.inner.next_key::<Cow<'de, str>>()? else {
                return Ok(None);
            };
            let known = is_doc_key(&key);
            match (known, self.schema.top(&key)) {
                (false, Some(node)) => {
                    self.inner.next_value_seed(Extract {
                        node,
                        out: &mut *self.out,
                    })?;
                    continue;
                }
                (true, node) => self.tee = node,
                (false, None) => self.tee = None,
            }
            return match key {
                Cow::Borrowed(k) => seed
                    .deserialize(de::value::BorrowedStrDeserializer::<A::Error>::new(k))
                    .map(Some),
                Cow::Owned(k) => seed
                    .deserialize(de::value::StringDeserializer::<A::Error>::new(k))
                    .map(Some),
            };
        }
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, A::Error> {
        let Some(node) = self.tee.take() else {
            return self.inner.next_value_seed(seed);
        };
        let raw: &'de serde_json::value::RawValue = self.inner.next_value()?;
        let mut de = serde_json::Deserializer::from_str(raw.get());
        Extract {
            node,
            out: &mut *self.out,
        }
        .deserialize(&mut de)
        .map_err(de::Error::custom)?;
        let mut de = serde_json::Deserializer::from_str(raw.get());
        seed.deserialize(&mut de).map_err(de::Error::custom)
    }
}

/// The position of the first `\u` escape of a UTF-16 surrogate that is not
/// half of a pair, in text that is otherwise valid JSON. The parser refuses
/// one in the members it reads but not in those it skips; this makes it
/// `invalid-json` wherever it is (RFC 8259 leaves such text undefined,
/// I-JSON forbids it). Backslashes occur only inside strings there.
fn lone_surrogate(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    let unit = |i: usize| -> Option<u16> {
        let hex = b.get(i..i + 4)?;
        u16::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
    };
    let mut at = 0;
    while let Some(n) = b.get(at..).and_then(|rest| memchr::memchr(b'\\', rest)) {
        let i = at + n;
        if b.get(i + 1) != Some(&b'u') {
            at = i + 2;
            continue;
        }
        let u = unit(i + 2)?;
        at = i + 6;
        match u {
            0xd800..=0xdbff => {
                let low = (b.get(i + 6..i + 8) == Some(b"\\u"))
                    .then(|| unit(i + 8))
                    .flatten();
                if !matches!(low, Some(0xdc00..=0xdfff)) {
                    return Some(i);
                }
                at = i + 12;
            }
            0xdc00..=0xdfff => return Some(i),
            _ => {}
        }
    }
    None
}

/// Names what is wrong with a text the parser refused. Its first error
/// need not be the right reason: serde stops at the first type error (an
/// array where an object belongs, say) before it has seen the whole text,
/// so the text is checked as JSON first, and only valid JSON is
/// `not-an-object` or `unknown-shape`.
fn classify_json_error(input: &str, e: serde_json::Error) -> EventError {
    if let Err(syntax) = serde_json::from_str::<IgnoredAny>(input) {
        return EventError::new(
            RejectReason::InvalidJson,
            format!("not valid JSON: {syntax}"),
        );
    }
    if let Some(at) = lone_surrogate(input) {
        return EventError::new(
            RejectReason::InvalidJson,
            format!("not valid JSON: a lone surrogate in a \\u escape at byte {at}"),
        );
    }
    if input.trim_start().starts_with('{') {
        EventError::new(
            RejectReason::UnknownShape,
            format!("a known field has the wrong type or cannot be read: {e}"),
        )
    } else {
        let what = match input.trim_start().as_bytes().first() {
            Some(b'[') => "an array",
            Some(b'"') => "a string",
            Some(b'n') => "null",
            Some(b't' | b'f') => "a boolean",
            _ => "a number",
        };
        EventError::new(
            RejectReason::NotAnObject,
            format!("an event must be a JSON object, got {what}"),
        )
    }
}

fn from_doc(doc: Doc<'_>) -> Result<Event<'_>, EventError> {
    let is_cloudtrail = doc.event_time.is_some()
        || doc.event_name.is_some()
        || doc.event_source.is_some()
        || doc.user_identity.is_some()
        || doc.event_version.is_some()
        || doc.event_id.is_some();
    let is_sentinel = doc.s_time.is_some()
        || doc.s_event_name.is_some()
        || doc.s_event_source.is_some()
        || doc.s_user_agent.is_some();
    let is_ecs = doc.at_timestamp.is_some()
        || doc.event.is_some()
        || doc.d_action.is_some()
        || doc.d_provider.is_some()
        || doc.ecs_user_agent.is_some()
        || doc.d_ua_original.is_some();

    if is_cloudtrail {
        let time_ms = if doc.event_time.is_some() || doc.at_timestamp.is_none() {
            read_time("eventTime", doc.event_time)?
        } else {
            read_time("@timestamp", doc.at_timestamp)?
        };
        let ui = doc.user_identity.unwrap_or_default().0;
        let mfa = ui
            .session_context
            .and_then(|s| s.0.attributes)
            .and_then(|a| a.0.mfa);
        Ok(Event {
            shape: Shape::CloudTrail,
            time_ms,
            user_agent: text(doc.user_agent),
            ua_name: None,
            event_name: text(doc.event_name),
            event_source: text(doc.event_source),
            identity_type: text(ui.kind),
            identity_arn: text(ui.arn),
            user_name: text(ui.user_name),
            principal_id: text(ui.principal_id),
            recipient_account: text(doc.recipient_account_id),
            source_ip: text(doc.source_ip_address),
            mfa: text(mfa),
            resource_arn: doc.resources.and_then(|r| r.0),
            event_id: text(doc.event_id),
            dataset: None,
            extra: Vec::new(),
        })
    } else if is_sentinel {
        Ok(Event {
            shape: Shape::Sentinel,
            time_ms: read_time("TimeGenerated", doc.s_time)?,
            user_agent: text(doc.s_user_agent),
            ua_name: None,
            event_name: text(doc.s_event_name),
            event_source: text(doc.s_event_source),
            identity_type: text(doc.s_identity_type),
            identity_arn: text(doc.s_identity_arn),
            user_name: text(doc.s_user_name),
            principal_id: text(doc.s_principal_id),
            recipient_account: text(doc.s_recipient_account_id),
            source_ip: text(doc.s_source_ip),
            mfa: text(doc.s_mfa),
            resource_arn: doc.s_resources.and_then(|r| r.0),
            event_id: text(doc.s_event_id),
            dataset: None,
            extra: Vec::new(),
        })
    } else if is_ecs {
        let time_ms = read_time("@timestamp", doc.at_timestamp)?;
        let ev = doc.event.unwrap_or_default().0;
        let ua = doc.ecs_user_agent.unwrap_or_default().0;
        let ct = doc.aws.and_then(|a| a.0.cloudtrail).unwrap_or_default().0;
        let ui = ct.user_identity.unwrap_or_default().0;
        let user = doc.user.unwrap_or_default().0;
        let src = doc.source.unwrap_or_default().0;
        let mfa = ui.session_context.and_then(|s| s.0.mfa_authenticated);
        let source_ip = src
            .address
            .or(doc.d_source_address)
            .or(src.ip)
            .or(doc.d_source_ip);
        Ok(Event {
            shape: Shape::Ecs,
            time_ms,
            user_agent: either(ua.original, doc.d_ua_original),
            ua_name: either(ua.name, doc.d_ua_name),
            event_name: either(ev.action, doc.d_action),
            event_source: either(ev.provider, doc.d_provider),
            identity_type: either(ui.kind, doc.d_identity_type),
            identity_arn: either(ui.arn, doc.d_identity_arn),
            user_name: either(user.name, doc.d_user_name),
            principal_id: either(user.id, doc.d_user_id),
            recipient_account: either(ct.recipient_account_id, doc.d_recipient_account_id),
            source_ip: text(source_ip),
            mfa: either(mfa, doc.d_mfa),
            resource_arn: None,
            event_id: either(ev.id, doc.d_event_id),
            dataset: either(ev.dataset, doc.d_dataset),
            extra: Vec::new(),
        })
    } else {
        Err(EventError::new(
            RejectReason::UnknownShape,
            "not a CloudTrail record, Sentinel AWSCloudTrail row or ECS document: \
             none of eventTime/eventName/userIdentity, TimeGenerated/EventName, \
             @timestamp/event.action is present",
        ))
    }
}

/// The member names a derived `Deserialize` struct reads, recorded by a
/// deserializer that only asks for them.
fn fields_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    /// A deserializer that only records the fields a struct asks for.
    struct Fields(&'static [&'static str]);
    #[derive(Debug)]
    struct Done;
    impl std::fmt::Display for Done {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("fields recorded")
        }
    }
    impl std::error::Error for Done {}
    impl serde::de::Error for Done {
        fn custom<T: std::fmt::Display>(_: T) -> Self {
            Done
        }
    }
    impl<'de> serde::Deserializer<'de> for &mut Fields {
        type Error = Done;
        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Done> {
            Err(Done)
        }
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Done> {
            self.0 = fields;
            Err(Done)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    let mut f = Fields(&[]);
    let _ = T::deserialize(&mut f);
    f.0
}

/// The field names `serde` reads for each struct of the full path, by the
/// pre-filter's name for its table: what ties `prefilter`'s key tables to
/// this module (see `prefilter`'s tests).
#[cfg(test)]
pub(crate) fn field_names() -> Vec<(&'static str, &'static [&'static str])> {
    fn of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
        fields_of::<T>()
    }
    vec![
        ("TOP", of::<Doc<'_>>()),
        ("USER_IDENTITY", of::<UserIdentity<'_>>()),
        ("SESSION_CONTEXT", of::<SessionContext<'_>>()),
        ("ATTRIBUTES", of::<Attributes<'_>>()),
        ("ECS_EVENT", of::<EcsEvent<'_>>()),
        ("ECS_USER_AGENT", of::<EcsUserAgent<'_>>()),
        ("ECS_USER", of::<EcsUser<'_>>()),
        ("ECS_SOURCE", of::<EcsSource<'_>>()),
        ("ECS_SESSION_CONTEXT", of::<EcsSessionContext<'_>>()),
        ("ECS_USER_IDENTITY", of::<EcsUserIdentity<'_>>()),
        ("ECS_CLOUDTRAIL", of::<EcsCloudTrail<'_>>()),
        ("ECS_AWS", of::<EcsAws<'_>>()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Field<'_> {
        Some(Cow::Borrowed(v))
    }

    #[test]
    fn reads_a_raw_cloudtrail_record() {
        let ev = parse_event(
            r#"{"eventVersion":"1.08","eventTime":"2024-05-01T10:00:30Z",
            "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/alice",
              "userName":"alice","principalId":"AIDA1",
              "sessionContext":{"attributes":{"mfaAuthenticated":"false"}}},
            "eventSource":"iam.amazonaws.com","eventName":"ListUsers",
            "userAgent":"aws-cli/2.0 prompt/off command/iam.list-users",
            "sourceIPAddress":"1.2.3.4","recipientAccountId":"111",
            "resources":[{"ARN":"arn:aws:s3:::b"},{"ARN":"x"}],
            "eventID":"e1","requestParameters":{"deep":[1,2,{"x":null}]}}"#,
        )
        .unwrap();
        assert_eq!(ev.shape, Shape::CloudTrail);
        assert_eq!(
            ev.time_ms,
            time::parse_time("2024-05-01T10:00:30Z").unwrap()
        );
        assert_eq!(ev.identity_type, s("IAMUser"));
        assert_eq!(ev.user_name, s("alice"));
        assert_eq!(ev.mfa, s("false"));
        assert_eq!(ev.resource_arn, s("arn:aws:s3:::b"));
        assert_eq!(ev.event_id, s("e1"));
        assert_eq!(ev.dataset, None);
    }

    #[test]
    fn null_and_missing_read_alike_and_non_strings_become_json_text() {
        let ev = parse_event(
            r#"{"eventTime":"2024-05-01T10:00:30Z","userAgent":null,
            "recipientAccountId":123456789012,"eventName":true,
            "userIdentity":{"arn":{"a":[1, 2]}}}"#,
        )
        .unwrap();
        assert_eq!(ev.user_agent, None);
        assert_eq!(ev.source_ip, None);
        assert_eq!(ev.recipient_account, s("123456789012"));
        assert_eq!(ev.event_name, s("true"));
        assert_eq!(ev.identity_arn, s(r#"{"a":[1,2]}"#));
    }

    #[test]
    fn logstash_timestamp_stands_in_for_a_missing_event_time() {
        let ev =
            parse_event(r#"{"@timestamp":"2020-09-14T01:19:40.123Z","eventName":"ListBuckets"}"#)
                .unwrap();
        assert_eq!(ev.shape, Shape::CloudTrail);
        assert_eq!(ev.time_ms % 1000, 123);
    }

    #[test]
    fn reads_a_sentinel_row_with_resources_as_json_text() {
        let ev = parse_event(
            r#"{"TimeGenerated":"2024-05-01T10:00:30.1234567Z","EventName":"ListUsers",
            "UserIdentityArn":"","SessionMfaAuthenticated":true,
            "Resources":"[{\"ARN\":\"arn:aws:iam::1:role/r\"}]"}"#,
        )
        .unwrap();
        assert_eq!(ev.shape, Shape::Sentinel);
        assert_eq!(ev.mfa, s("true"));
        assert_eq!(ev.identity_arn, s(""));
        assert_eq!(ev.resource_arn.as_deref(), Some("arn:aws:iam::1:role/r"));
    }

    #[test]
    fn reads_ecs_nested_and_dotted_alike() {
        let nested = parse_event(
            r#"{"@timestamp":1714557630000,"event":{"action":"ListUsers","provider":"iam.amazonaws.com","dataset":"aws.cloudtrail"},
            "user_agent":{"original":"aws-cli/2"},"aws":{"cloudtrail":{"user_identity":{"type":"IAMUser","arn":"arn:x"}}},
            "source":{"ip":"1.2.3.4"}}"#,
        )
        .unwrap();
        let dotted = parse_event(
            r#"{"@timestamp":"2024-05-01T10:00:30Z","event.action":"ListUsers","event.provider":"iam.amazonaws.com",
            "event.dataset":"aws.cloudtrail","user_agent.original":"aws-cli/2",
            "aws.cloudtrail.user_identity.type":"IAMUser","aws.cloudtrail.user_identity.arn":"arn:x","source.ip":"1.2.3.4"}"#,
        )
        .unwrap();
        assert_eq!(nested, dotted);
        assert_eq!(nested.shape, Shape::Ecs);
    }

    #[test]
    fn rejections_name_the_problem() {
        let reason = |t: &str| parse_event(t).unwrap_err().reason;
        assert_eq!(reason("{not json"), RejectReason::InvalidJson);
        assert_eq!(reason(""), RejectReason::InvalidJson);
        assert_eq!(reason("[1,2]"), RejectReason::NotAnObject);
        assert_eq!(reason("42"), RejectReason::NotAnObject);
        assert_eq!(reason(r#"{"foo":1}"#), RejectReason::UnknownShape);
        assert_eq!(
            reason(r#"{"eventName":"X","userIdentity":"oops","eventTime":"2024-01-01T00:00:00Z"}"#),
            RejectReason::UnknownShape
        );
        assert_eq!(reason(r#"{"eventName":"X"}"#), RejectReason::MissingTime);
        assert_eq!(
            reason(r#"{"eventName":"X","eventTime":null}"#),
            RejectReason::MissingTime
        );
        let e = parse_event(r#"{"eventName":"X","eventTime":"yesterday"}"#).unwrap_err();
        assert_eq!(e.reason, RejectReason::InvalidTime);
        assert!(e.message.contains("eventTime"), "{}", e.message);
        assert_eq!(
            reason(r#"{"eventName":"X","eventTime":true}"#),
            RejectReason::InvalidTime
        );
    }

    /// Regression (hostile-input corpus): serde reads a struct from a JSON
    /// array member by member, so an array where an object belongs was
    /// read as that object, positionally.
    #[test]
    fn arrays_are_not_read_as_objects() {
        let reason = |t: &str| parse_event(t).map(|_| ()).unwrap_err().reason;
        assert_eq!(
            reason(
                r#"{"eventTime":"2026-01-05T00:00:10Z","eventName":"ListUsers","userIdentity":["IAMUser","arn:aws:iam::1:user/a","a","p",null]}"#
            ),
            RejectReason::UnknownShape
        );
        assert_eq!(
            reason(
                r#"{"@timestamp":"2026-01-05T00:00:10Z","event":["ListUsers","iam.amazonaws.com","aws.cloudtrail","x"]}"#
            ),
            RejectReason::UnknownShape
        );
        assert_eq!(
            reason(
                r#"{"eventTime":"2026-01-05T00:00:10Z","userIdentity":{"sessionContext":{"attributes":["true"]}}}"#
            ),
            RejectReason::UnknownShape
        );
        let mut fields = vec!["\"2026-01-05T00:00:10Z\"".to_owned()];
        fields.extend(std::iter::repeat_n("null".to_owned(), 43));
        assert_eq!(
            reason(&format!("[{}]", fields.join(","))),
            RejectReason::NotAnObject
        );
    }

    /// Regression (hostile-input corpus): a text that is not JSON is
    /// `invalid-json` even when the parser met a type error first.
    #[test]
    fn invalid_json_wins_over_type_errors() {
        let reason = |t: &str| parse_event(t).map(|_| ()).unwrap_err().reason;
        for t in [
            r#"{"userIdentity":"x","eventTime":"#,
            r#"{"userIdentity":5,}"#,
            r#"{"userIdentity":true} trailing"#,
            r#"{"eventTime":"2026-01-05T00:00:10Z","eventTime":"x","y":}"#,
            "truex",
            "\"abc\" x",
            "12 34",
        ] {
            assert_eq!(reason(t), RejectReason::InvalidJson, "{t}");
        }
        // Valid JSON the parser cannot read is not `invalid-json`.
        assert_eq!(reason("1e999"), RejectReason::NotAnObject);
        assert_eq!(
            reason(r#"{"eventTime":"2026-01-05T00:00:10Z","eventName":1e999}"#),
            RejectReason::UnknownShape
        );
    }

    /// Regression (hostile-input corpus): a lone surrogate in a `\u`
    /// escape was `invalid-json` in a member the detector reads but
    /// accepted in one it skips.
    #[test]
    fn lone_surrogates_are_invalid_wherever_they_are() {
        for esc in [
            r"\ud800",
            r"\udc00",
            r"\ud800\u0041",
            r"\udc00\ud800",
            r"\udbffx",
        ] {
            for t in [
                format!(r#"{{"eventTime":"2026-01-05T00:00:10Z","eventName":"X{esc}"}}"#),
                format!(
                    r#"{{"eventTime":"2026-01-05T00:00:10Z","eventName":"X","awsRegion":"{esc}"}}"#
                ),
                format!(
                    r#"{{"eventTime":"2026-01-05T00:00:10Z","eventName":"X","k":{{"a":["{esc}"]}}}}"#
                ),
                format!(r#"{{"eventTime":"2026-01-05T00:00:10Z","eventName":"X","k{esc}":1}}"#),
            ] {
                assert_eq!(
                    parse_event(&t).map(|_| ()).unwrap_err().reason,
                    RejectReason::InvalidJson,
                    "{t}"
                );
            }
        }
        // Pairs, and escaped backslashes before a `u`, are fine.
        for t in [
            r#"{"eventTime":"2026-01-05T00:00:10Z","eventName":"X","k":"\ud83d\ude00"}"#,
            r#"{"eventTime":"2026-01-05T00:00:10Z","eventName":"X","k":"\\ud800"}"#,
            r#"{"eventTime":"2026-01-05T00:00:10Z","eventName":"X","k":"\\\ud83d\uDE00"}"#,
        ] {
            assert!(parse_event(t).is_ok(), "{t}");
        }
    }
}
