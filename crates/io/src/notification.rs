//! What a queue message says to read. CloudTrail reaches a queue in several wrappings, and a
//! worker must take them all: an S3 event notification (straight from S3, or through SNS with or
//! without raw delivery), CloudTrail's own SNS notification (`s3Bucket` and a list of
//! `s3ObjectKey`s), EventBridge's "Object Created" event, and CloudTrail records delivered by
//! EventBridge (the record itself under `detail`). S3's test message (`s3:TestEvent`, sent
//! when a notification is set up) says nothing to read.
//!
//! S3 event notifications encode keys as HTML forms do (`+` for a space, `%XX` for the rest);
//! the other shapes carry them as they are.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;

/// An object a message names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    /// The bucket.
    pub bucket: String,
    /// The key, decoded.
    pub key: String,
    /// Its size, when the message says.
    pub size: Option<u64>,
    /// Its ETag, when the message says.
    pub etag: Option<String>,
}

/// What one message says.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// Objects to read.
    Objects(Vec<ObjectRef>),
    /// CloudTrail records carried in the message itself (EventBridge): the JSON text of each.
    Records(Vec<String>),
    /// A message that asks for nothing (S3's test event, a notification of no object created).
    Nothing(&'static str),
}

/// Reads a message body.
///
/// # Errors
/// What it is not, when it is none of the shapes: not JSON, or JSON of no known wrapping.
pub fn parse(body: &str) -> Result<Notice, String> {
    let value: Value =
        serde_json::from_str(body).map_err(|e| format!("the message is not JSON: {e}"))?;
    read(&value, 0)
}

/// SNS can carry what another SNS topic sent: a few levels are enough for any real setup, and
/// a bound keeps a hostile message from nesting without end.
const MAX_WRAPPING: usize = 4;

fn read(value: &Value, depth: usize) -> Result<Notice, String> {
    if depth > MAX_WRAPPING {
        return Err(format!("the message is wrapped more than {MAX_WRAPPING} times"));
    }
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    // SNS without raw delivery: the message is a string inside the envelope.
    if value.get("Type").and_then(Value::as_str) == Some("Notification") {
        let inner = text(value, "Message").ok_or("an SNS notification without a Message")?;
        let inner: Value = serde_json::from_str(&inner)
            .map_err(|e| format!("the SNS notification's Message is not JSON: {e}"))?;
        return read(&inner, depth + 1);
    }
    if value.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Notice::Nothing("S3's test event"));
    }
    if let Some(records) = value.get("Records").and_then(Value::as_array) {
        return s3_records(records);
    }
    if let (Some(bucket), Some(keys)) = (text(value, "s3Bucket"), value.get("s3ObjectKey")) {
        let keys = keys.as_array().ok_or("`s3ObjectKey` is not a list")?;
        let objects = keys
            .iter()
            .map(|k| {
                let key = k.as_str().ok_or("an `s3ObjectKey` that is not a string")?;
                Ok(ObjectRef {
                    bucket: bucket.clone(),
                    key: key.to_owned(),
                    size: None,
                    etag: None,
                })
            })
            .collect::<Result<_, &str>>()?;
        return Ok(Notice::Objects(objects));
    }
    match (value.get("detail-type").and_then(Value::as_str), value.get("detail")) {
        (Some("Object Created"), Some(detail)) => {
            let bucket = detail.pointer("/bucket/name").and_then(Value::as_str);
            let object = detail.get("object");
            let key = object.and_then(|o| o.get("key")).and_then(Value::as_str);
            let (Some(bucket), Some(key), Some(object)) = (bucket, key, object) else {
                return Err("an Object Created event without bucket name and object key".into());
            };
            Ok(Notice::Objects(vec![ObjectRef {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                size: object.get("size").and_then(Value::as_u64),
                etag: text(object, "etag"),
            }]))
        }
        (Some(kind), Some(detail)) if kind.ends_with("via CloudTrail") => {
            Ok(Notice::Records(vec![detail.to_string()]))
        }
        (Some(kind), _) => Err(format!("an EventBridge event of type `{kind}`, not CloudTrail")),
        (None, _) => {
            Err("not a notification of CloudTrail logs (S3, SNS, CloudTrail or EventBridge)".into())
        }
    }
}

/// An S3 event notification's records: the objects created (others, such as deletions, ask
/// for nothing).
fn s3_records(records: &[Value]) -> Result<Notice, String> {
    let mut objects = Vec::new();
    for record in records {
        let Some(s3) = record.get("s3") else {
            return Err("a `Records` list whose entries are not S3 events".into());
        };
        let created = record
            .get("eventName")
            .and_then(Value::as_str)
            .is_none_or(|name| name.starts_with("ObjectCreated"));
        if !created {
            continue;
        }
        let bucket = s3.pointer("/bucket/name").and_then(Value::as_str);
        let key = s3.pointer("/object/key").and_then(Value::as_str);
        let (Some(bucket), Some(key)) = (bucket, key) else {
            return Err("an S3 event without bucket name and object key".into());
        };
        objects.push(ObjectRef {
            bucket: bucket.to_owned(),
            key: form_decoded(key)?,
            size: s3.pointer("/object/size").and_then(Value::as_u64),
            etag: s3.pointer("/object/eTag").and_then(Value::as_str).map(str::to_owned),
        });
    }
    if objects.is_empty() {
        return Ok(Notice::Nothing("an S3 event of no object created"));
    }
    Ok(Notice::Objects(objects))
}

/// What S3 event notifications leave as it is in a key; the rest is `%XX` (and a space `+`).
const KEY_KEEPS: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'*').remove(b'/').remove(b' ');

/// The S3 event notification S3 would send for an object created: what `tripline enqueue`
/// puts on a queue, so that a backfill is read exactly as live deliveries are.
#[must_use]
pub fn object_created(object: &ObjectRef, region: &str, time: &str) -> String {
    let key = utf8_percent_encode(&object.key, KEY_KEEPS).to_string().replace(' ', "+");
    serde_json::json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": region,
        "eventTime": time, "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "tripline-enqueue",
               "bucket": {"name": object.bucket, "arn": format!("arn:aws:s3:::{}", object.bucket)},
               "object": {"key": key, "size": object.size, "eTag": object.etag}}
    }]})
    .to_string()
}

/// A key as S3 event notifications write it: `+` is a space, `%XX` a byte.
fn form_decoded(key: &str) -> Result<String, String> {
    let spaced = key.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(std::borrow::Cow::into_owned)
        .map_err(|_| format!("the key `{key}` does not decode to UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AWSLogs/o-abc123de45/111122223333/CloudTrail/us-east-1/2024/08/01/111122223333_CloudTrail_us-east-1_20240801T0900Z_9bc5029ce660f9aa.json.gz";

    fn s3_event(key: &str) -> String {
        serde_json::json!({"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2024-08-01T09:05:12.345Z", "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "AWS:AROAEXAMPLE:regionalDeliverySession"},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "cloudtrail-to-tripline",
                   "bucket": {"name": "org-cloudtrail", "arn": "arn:aws:s3:::org-cloudtrail"},
                   "object": {"key": key, "size": 4321, "eTag": "0123abcd", "sequencer": "0066AB"}}
        }]})
        .to_string()
    }

    fn sns(message: &str) -> String {
        serde_json::json!({
            "Type": "Notification", "MessageId": "4b5d7e1a-0000-4000-8000-000000000001",
            "TopicArn": "arn:aws:sns:us-east-1:111122223333:cloudtrail-logs",
            "Subject": "Amazon S3 Notification", "Message": message,
            "Timestamp": "2024-08-01T09:05:13.000Z", "SignatureVersion": "1"
        })
        .to_string()
    }

    fn one(bucket: &str, key: &str, size: Option<u64>, etag: Option<&str>) -> Notice {
        Notice::Objects(vec![ObjectRef {
            bucket: bucket.into(),
            key: key.into(),
            size,
            etag: etag.map(Into::into),
        }])
    }

    #[test]
    fn an_s3_notification_straight_or_through_sns_names_its_object() {
        let expected = one("org-cloudtrail", KEY, Some(4321), Some("0123abcd"));
        assert_eq!(parse(&s3_event(KEY)), Ok(expected.clone()));
        assert_eq!(parse(&sns(&s3_event(KEY))), Ok(expected));
    }

    #[test]
    fn s3_notification_keys_are_form_decoded_and_the_others_are_not() {
        let notice = parse(&s3_event("logs/my+trail/a%3Db%2Bc.json.gz")).expect("parsed");
        assert_eq!(
            notice,
            one("org-cloudtrail", "logs/my trail/a=b+c.json.gz", Some(4321), Some("0123abcd"))
        );
        let bridge = serde_json::json!({
            "version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103",
            "detail-type": "Object Created", "source": "aws.s3", "account": "111122223333",
            "time": "2024-08-01T09:05:12Z", "region": "us-east-1",
            "resources": ["arn:aws:s3:::org-cloudtrail"],
            "detail": {"version": "0", "bucket": {"name": "org-cloudtrail"},
                       "object": {"key": "logs/a+b.json.gz", "size": 7, "etag": "e1", "sequencer": "1"},
                       "request-id": "N4N7GDK58NMKJ12R", "requester": "111122223333",
                       "reason": "PutObject"}
        });
        assert_eq!(
            parse(&bridge.to_string()),
            Ok(one("org-cloudtrail", "logs/a+b.json.gz", Some(7), Some("e1")))
        );
    }

    #[test]
    fn cloudtrails_own_sns_notification_names_every_key() {
        let message =
            serde_json::json!({"s3Bucket": "org-cloudtrail", "s3ObjectKey": [KEY, "k2.json.gz"]});
        let Ok(Notice::Objects(objects)) = parse(&sns(&message.to_string())) else {
            panic!("objects expected");
        };
        assert_eq!(objects.len(), 2);
        assert_eq!(objects[0].key, KEY);
        assert_eq!(objects[1].bucket, "org-cloudtrail");
    }

    #[test]
    fn a_record_delivered_by_eventbridge_is_the_record() {
        let record = serde_json::json!({"eventVersion": "1.08", "eventSource": "ec2.amazonaws.com",
            "eventName": "AuthorizeSecurityGroupIngress", "eventID": "e-1"});
        let event = serde_json::json!({"version": "0", "id": "x", "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.ec2", "account": "111122223333", "detail": record});
        assert_eq!(parse(&event.to_string()), Ok(Notice::Records(vec![record.to_string()])));
    }

    #[test]
    fn an_event_written_for_a_backfill_reads_back_as_the_same_object() {
        for key in [KEY, "logs/my trail/a=b+c:d%e.json.gz", "AWSLogs/ünïcode/x.json"] {
            let object = ObjectRef {
                bucket: "org-cloudtrail".into(),
                key: key.into(),
                size: Some(10),
                etag: Some("abc".into()),
            };
            let body = object_created(&object, "us-east-1", "2024-08-01T09:00:00.000Z");
            assert_eq!(parse(&body), Ok(Notice::Objects(vec![object])), "{body}");
        }
        let written = object_created(
            &ObjectRef { bucket: "b".into(), key: "a b/c=d".into(), size: None, etag: None },
            "us-east-1",
            "2024-08-01T09:00:00.000Z",
        );
        assert!(written.contains(r#""key":"a+b/c%3Dd""#), "{written}");
    }

    #[test]
    fn test_events_and_deletions_ask_for_nothing_and_strangers_are_errors_saying_why() {
        let test = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2024-08-01T09:00:00.000Z","Bucket":"org-cloudtrail","RequestId":"5582815E1AEA5ADF","HostId":"8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"}"#;
        assert_eq!(parse(test), Ok(Notice::Nothing("S3's test event")));
        assert_eq!(parse(&sns(test)), Ok(Notice::Nothing("S3's test event")));
        let deleted = s3_event(KEY).replace("ObjectCreated:Put", "ObjectRemoved:Delete");
        assert!(matches!(parse(&deleted), Ok(Notice::Nothing(_))));
        assert!(parse("not json").unwrap_err().contains("not JSON"));
        assert!(parse(r#"{"hello": 1}"#).unwrap_err().contains("not a notification"));
        let other = r#"{"detail-type": "EC2 Instance State-change Notification", "detail": {}}"#;
        assert!(parse(other).unwrap_err().contains("not CloudTrail"));
        assert!(parse(&s3_event("%FF")).unwrap_err().contains("UTF-8"));
        let mut deep = s3_event(KEY);
        for _ in 0..6 {
            deep = sns(&deep);
        }
        assert!(parse(&deep).unwrap_err().contains("wrapped more than"));
    }
}
