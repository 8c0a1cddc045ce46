//! SQS: the calls a queue worker makes — receive with long polling, keep a message invisible
//! while its objects are processed, delete it once their results are committed — and sending,
//! for backfills.

use super::{describe, Aws};

/// One message received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The message's id (the same on every delivery).
    pub id: String,
    /// This delivery's handle, for extending and deleting it.
    pub receipt: String,
    /// The body.
    pub body: String,
    /// How many times it was received, this time included (`ApproximateReceiveCount`).
    pub receives: u32,
}

/// A client of one queue; cheap to clone.
#[derive(Clone)]
pub struct Queue {
    aws: Aws,
    client: aws_sdk_sqs::Client,
    url: String,
}

impl Queue {
    /// A client of the queue at `url`.
    #[must_use]
    pub fn new(aws: &Aws, url: &str) -> Self {
        let client = aws_sdk_sqs::Client::new(aws.config());
        Self { aws: aws.clone(), client, url: url.to_owned() }
    }

    /// A client of the queue `address` names: its URL (`https://sqs.REGION.amazonaws.com/ACCOUNT/NAME`,
    /// or an emulator's), or `sqs://[ACCOUNT/]NAME`, whose URL SQS is asked for in the client's
    /// region (the account is needed only for another account's queue).
    ///
    /// # Errors
    /// An `sqs://` address that names no queue, or what SQS said when asked for its URL.
    pub fn locate(aws: &Aws, address: &str) -> Result<Self, String> {
        let Some(name) = address.strip_prefix("sqs://") else {
            return Ok(Self::new(aws, address));
        };
        let (owner, name) = match name.trim_end_matches('/').split_once('/') {
            Some((owner, name)) => (Some(owner), name),
            None => (None, name.trim_end_matches('/')),
        };
        if name.is_empty() || name.contains('/') || owner.is_some_and(str::is_empty) {
            return Err(format!("{address}: name a queue as sqs://NAME or sqs://ACCOUNT/NAME"));
        }
        let client = aws_sdk_sqs::Client::new(aws.config());
        let request = client
            .get_queue_url()
            .queue_name(name)
            .set_queue_owner_aws_account_id(owner.map(Into::into));
        let answer =
            aws.block_on(request.send()).map_err(|e| format!("{address}: {}", describe(&e)))?;
        let url = answer.queue_url().ok_or_else(|| format!("{address}: SQS gave no URL"))?;
        Ok(Self { aws: aws.clone(), client, url: url.to_owned() })
    }

    /// The queue's URL.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Up to `max` messages (1–10), waiting up to `wait` seconds (0–20) for one to arrive;
    /// each stays invisible to other workers for `visibility` seconds.
    ///
    /// # Errors
    /// What SQS said.
    pub fn receive(&self, max: i32, wait: i32, visibility: i32) -> Result<Vec<Message>, String> {
        let request = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, 10))
            .wait_time_seconds(wait.clamp(0, 20))
            .visibility_timeout(visibility)
            .message_system_attribute_names(
                aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount,
            );
        let answer = self.aws.block_on(request.send()).map_err(|e| describe(&e))?;
        Ok(answer
            .messages()
            .iter()
            .map(|m| Message {
                id: m.message_id().unwrap_or_default().to_owned(),
                receipt: m.receipt_handle().unwrap_or_default().to_owned(),
                body: m.body().unwrap_or_default().to_owned(),
                receives: m
                    .attributes()
                    .and_then(|a| {
                        a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
                    })
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1),
            })
            .collect())
    }

    /// Keeps a message invisible for `seconds` more (from now).
    ///
    /// # Errors
    /// What SQS said (the receipt expired: another worker may have it now).
    pub fn extend(&self, receipt: &str, seconds: i32) -> Result<(), String> {
        let request = self
            .client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(seconds);
        self.aws.block_on(request.send()).map(|_| ()).map_err(|e| describe(&e))
    }

    /// Deletes messages, ten to a request (SQS's most); the receipts SQS refused, with why.
    ///
    /// # Errors
    /// What SQS said when a request failed as a whole.
    pub fn delete_all(&self, receipts: &[String]) -> Result<Vec<(String, String)>, String> {
        let mut refused = Vec::new();
        for chunk in receipts.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, receipt)| {
                    aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(receipt)
                        .build()
                        .map_err(|e| e.to_string())
                })
                .collect::<Result<Vec<_>, _>>()?;
            let request =
                self.client.delete_message_batch().queue_url(&self.url).set_entries(Some(entries));
            let answer = self.aws.block_on(request.send()).map_err(|e| describe(&e))?;
            for failed in answer.failed() {
                let receipt = failed.id().parse::<usize>().ok().and_then(|i| chunk.get(i));
                let why = failed.message().unwrap_or(failed.code()).to_owned();
                refused.push((receipt.cloned().unwrap_or_default(), why));
            }
        }
        Ok(refused)
    }

    /// Sends messages, ten to a request (SQS's most).
    ///
    /// # Errors
    /// What SQS said, or which messages it refused.
    pub fn send_all(&self, bodies: &[String]) -> Result<(), String> {
        for chunk in bodies.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, body)| {
                    aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body)
                        .build()
                        .map_err(|e| e.to_string())
                })
                .collect::<Result<Vec<_>, _>>()?;
            let request =
                self.client.send_message_batch().queue_url(&self.url).set_entries(Some(entries));
            let answer = self.aws.block_on(request.send()).map_err(|e| describe(&e))?;
            if let Some(failed) = answer.failed().first() {
                return Err(format!(
                    "{} of {} message(s) refused: {}",
                    answer.failed().len(),
                    chunk.len(),
                    failed.message().unwrap_or(failed.code())
                ));
            }
        }
        Ok(())
    }
}
