//! CloudTrail's own field names, named once so Rust code never repeats them as literals.

/// `eventName`: the API call.
pub const EVENT_NAME: &str = "eventName";
/// `eventSource`: the service endpoint, such as `ec2.amazonaws.com`.
pub const EVENT_SOURCE: &str = "eventSource";
/// `eventTime`: when the call was made (RFC 3339, UTC).
pub const EVENT_TIME: &str = "eventTime";
/// `eventID`: the record's unique id.
pub const EVENT_ID: &str = "eventID";
/// `eventType`: `AwsApiCall`, `AwsConsoleSignIn`, `AwsServiceEvent`, `AwsCloudTrailInsight` …
pub const EVENT_TYPE: &str = "eventType";
/// `eventCategory`: `Management`, `Data` or `Insight`.
pub const EVENT_CATEGORY: &str = "eventCategory";
/// `awsRegion`.
pub const AWS_REGION: &str = "awsRegion";
/// `recipientAccountId`: the account whose resources were touched.
pub const RECIPIENT_ACCOUNT_ID: &str = "recipientAccountId";
/// `sourceIPAddress`: an IP address, or a service name such as `AWS Internal`.
pub const SOURCE_IP_ADDRESS: &str = "sourceIPAddress";
/// `userAgent`.
pub const USER_AGENT: &str = "userAgent";
/// `errorCode`: present when the call failed.
pub const ERROR_CODE: &str = "errorCode";
/// `errorMessage`: present when the call failed.
pub const ERROR_MESSAGE: &str = "errorMessage";
/// `userIdentity`: who made the call.
pub const USER_IDENTITY: &str = "userIdentity";
/// `requestParameters`.
pub const REQUEST_PARAMETERS: &str = "requestParameters";
/// `responseElements`.
pub const RESPONSE_ELEMENTS: &str = "responseElements";
/// `additionalEventData`.
pub const ADDITIONAL_EVENT_DATA: &str = "additionalEventData";
/// `insightDetails`: present only on CloudTrail Insights records.
pub const INSIGHT_DETAILS: &str = "insightDetails";
/// The `eventType` of an Insights record.
pub const INSIGHT_EVENT_TYPE: &str = "AwsCloudTrailInsight";
