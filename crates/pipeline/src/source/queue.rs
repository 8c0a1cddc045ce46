//! An SQS queue of notifications as a source: each poll receives messages (long polling), reads
//! what each names ([`tripline_io::notification`]: objects, or records carried in the message),
//! and offers one unit per object. A message is deleted only once every unit it named is
//! acknowledged — its results committed — so a worker killed at any moment leaves it to be
//! delivered again; while its units are processed, a heartbeat keeps it invisible to the other
//! workers. A message that can never succeed (not a notification, an object that is gone) is
//! reported with its id and counted, then deleted or left to the queue's redrive policy, as
//! configured; S3's test event and other messages that ask for nothing are deleted at once.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tripline_io::aws::s3::S3;
use tripline_io::aws::sqs::{Message, Queue};
use tripline_io::aws::Aws;
use tripline_io::input::Layout;
use tripline_io::notification::{self, Notice, ObjectRef};
use tripline_io::object::{AwsOptions, ObjectInput, ObjectReader};
use tripline_io::{Input, Problem};

use super::{unit_of, Listing, Source, Unit};

/// How a queue is read.
#[derive(Debug, Clone)]
pub struct QueueOptions {
    /// The queue's URL.
    pub url: String,
    /// How to reach AWS.
    pub aws: AwsOptions,
    /// How long a receive waits for a message (long polling; at most 20 seconds).
    pub wait: Duration,
    /// How long a received message stays invisible to other workers; the heartbeat extends
    /// it by as much while its units are processed.
    pub visibility: Duration,
    /// Delete a message that can never succeed (else it is left for the queue's redrive
    /// policy, which moves it to a dead-letter queue after its receive count).
    pub delete_bad: bool,
}

pub use super::QueueCounts;

/// A message being worked on: its receipt, and the units it still waits for.
struct InFlight {
    receipt: String,
    waiting: HashSet<String>,
    /// It named something that can never be read.
    bad: bool,
}

type Flights = Arc<Mutex<HashMap<String, InFlight>>>;

/// An SQS queue as a [`Source`].
pub struct QueueSource {
    queue: Queue,
    s3: S3,
    reader: Arc<dyn ObjectReader>,
    options: QueueOptions,
    in_flight: Flights,
    stop: Arc<AtomicBool>,
    heartbeat: Option<std::thread::JoinHandle<()>>,
    /// Problems met since the last poll (a delete that failed), given with its listing.
    later: Vec<Problem>,
    /// Messages done, to be deleted together (message id, receipt) once a batch's
    /// acknowledgements are in ([`Source::settle`]), at the next poll, or when the source is
    /// dropped. A message deleted late is at worst delivered again, and then recognised as
    /// done.
    to_delete: Vec<(String, String)>,
    /// What it has done.
    pub counts: QueueCounts,
}

/// Whether the object `key` names is CloudTrail's to read by where it sits in the layout (a
/// notification on `AWSLogs/` also names digests and other services' logs): the others are
/// counted in `listing`, as a scan counts them, and never fetched.
fn is_cloudtrail(key: &str, listing: &mut Listing) -> bool {
    match tripline_io::input::layout(std::path::Path::new(key)) {
        Layout::CloudTrail => true,
        Layout::Digest => {
            listing.digests += 1;
            false
        }
        Layout::OtherService(service) => {
            *listing.other_services.entry(service).or_insert(0) += 1;
            false
        }
    }
}

/// How a unit is known among the messages that wait for it.
fn unit_id(unit: &Unit) -> String {
    match &unit.key {
        Some(key) => format!("{}#{}", key.input, key.version),
        None => unit.input.label(),
    }
}

impl QueueSource {
    /// A source reading the queue `options` names.
    ///
    /// # Errors
    /// When the AWS client cannot be started, or an `sqs://` name has no queue.
    pub fn new(options: QueueOptions) -> Result<Self, String> {
        let aws =
            Aws::connect(&options.aws).map_err(|e| format!("cannot start the AWS client: {e}"))?;
        let queue = Queue::locate(&aws, &options.url)?;
        let s3 = S3::new(&aws);
        let in_flight: Flights = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let heartbeat = Some(spawn_heartbeat(
            queue.clone(),
            Arc::clone(&in_flight),
            Arc::clone(&stop),
            options.visibility,
        ));
        let reader: Arc<dyn ObjectReader> = Arc::new(s3.clone());
        Ok(Self {
            queue,
            s3,
            reader,
            options,
            in_flight,
            stop,
            heartbeat,
            later: Vec::new(),
            to_delete: Vec::new(),
            counts: QueueCounts::default(),
        })
    }

    /// Messages received and not yet done (nor left as bad).
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.flights().len()
    }

    fn flights(&self) -> std::sync::MutexGuard<'_, HashMap<String, InFlight>> {
        self.in_flight.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn delete(&mut self, message: &str, receipt: &str) {
        self.to_delete.push((message.to_owned(), receipt.to_owned()));
    }

    /// Deletes the messages done since the last time, ten to a request.
    fn flush_deletes(&mut self) {
        let done = std::mem::take(&mut self.to_delete);
        if done.is_empty() {
            return;
        }
        let receipts: Vec<String> = done.iter().map(|(_, r)| r.clone()).collect();
        let said = |message: &str, why: &str| {
            Problem::file(
                &format!("sqs message {message}"),
                format!("could not be deleted (it will be delivered again): {why}"),
            )
        };
        match self.queue.delete_all(&receipts) {
            Ok(refused) => {
                for (receipt, why) in refused {
                    let message = done.iter().find(|(_, r)| *r == receipt).map_or("?", |(m, _)| m);
                    self.later.push(said(message, &why));
                }
            }
            Err(why) => self.later.extend(done.iter().map(|(m, _)| said(m, &why))),
        }
    }

    /// The units of one message, into `listing`.
    fn take(&mut self, message: Message, listing: &mut Listing, offered: &mut HashSet<String>) {
        self.counts.received += 1;
        let name = format!("sqs message {}", message.id);
        let units = match notification::parse(&message.body) {
            Ok(Notice::Nothing(_)) => {
                self.counts.ignored += 1;
                self.delete(&message.id, &message.receipt);
                return;
            }
            Ok(Notice::Objects(objects)) => objects
                .into_iter()
                .filter(|o| is_cloudtrail(&o.key, listing))
                .map(|o| self.object(o))
                .collect::<Vec<_>>(),
            Ok(Notice::Records(records)) => records
                .into_iter()
                .enumerate()
                .map(|(i, text)| {
                    let label = if i == 0 {
                        format!("sqs:{}", message.id)
                    } else {
                        format!("sqs:{}#{i}", message.id)
                    };
                    unit_of(Input::Inline { label, text: text.into() }).map_err(|p| p.reason)
                })
                .collect(),
            Err(why) => vec![Err(why)],
        };
        let mut flight =
            InFlight { receipt: message.receipt.clone(), waiting: HashSet::new(), bad: false };
        for unit in units {
            match unit {
                Ok(unit) => {
                    let id = unit_id(&unit);
                    flight.waiting.insert(id.clone());
                    // One object named by two messages is read once; both wait for it.
                    if offered.insert(id) {
                        listing.units.push(unit);
                    }
                }
                Err(why) => {
                    flight.bad = true;
                    listing.problems.push(Problem::file(&name, why));
                }
            }
        }
        if flight.bad {
            self.counts.bad += 1;
            if !self.options.delete_bad {
                // Left for the redrive policy: not kept invisible, never deleted; it comes
                // back when its visibility timeout ends (what it named that could be read is
                // known by then) until the queue moves it to its dead-letter queue.
                return;
            }
        }
        if flight.waiting.is_empty() {
            // It named nothing to read (an empty key list), or only what can never succeed.
            if !flight.bad {
                self.counts.ignored += 1;
            }
            self.delete(&message.id, &message.receipt);
            return;
        }
        self.flights().insert(message.id, flight);
    }

    /// The unit of one object a message named; its size and ETag asked of S3 when the
    /// message does not say them (CloudTrail's own notification).
    fn object(&self, object: ObjectRef) -> Result<Unit, String> {
        let (size, etag) = match (object.size, object.etag) {
            (Some(size), Some(etag)) => (size, etag),
            _ => self
                .s3
                .head(&object.bucket, &object.key)
                .map_err(|e| format!("s3://{}/{}: {e}", object.bucket, object.key))?,
        };
        let input = ObjectInput {
            bucket: object.bucket,
            key: object.key,
            etag: etag.trim_matches('"').to_owned(),
            size,
            reader: Arc::clone(&self.reader),
        };
        unit_of(Input::Object(input)).map_err(|p| p.reason)
    }
}

impl Source for QueueSource {
    fn poll(&mut self) -> Listing {
        let mut listing =
            Listing { problems: std::mem::take(&mut self.later), ..Listing::default() };
        let wait = i32::try_from(self.options.wait.as_secs()).unwrap_or(20);
        let visibility = i32::try_from(self.options.visibility.as_secs()).unwrap_or(i32::MAX);
        let messages = match self.queue.receive(10, wait, visibility) {
            Ok(messages) => messages,
            Err(e) => {
                let label = self.queue.url().to_owned();
                listing
                    .problems
                    .push(Problem::file(&label, format!("cannot be received from: {e}")));
                return listing;
            }
        };
        let mut offered = HashSet::new();
        for message in messages {
            self.take(message, &mut listing, &mut offered);
        }
        listing
    }

    fn ack(&mut self, unit: &Unit) {
        let id = unit_id(unit);
        let done: Vec<(String, String)> = {
            let mut flights = self.flights();
            for flight in flights.values_mut() {
                flight.waiting.remove(&id);
            }
            let finished: Vec<String> = flights
                .iter()
                .filter(|(_, f)| f.waiting.is_empty())
                .map(|(m, _)| m.clone())
                .collect();
            finished
                .into_iter()
                .filter_map(|m| flights.remove(&m).map(|f| (m, f.receipt)))
                .collect()
        };
        for (message, receipt) in done {
            self.counts.done += 1;
            self.delete(&message, &receipt);
        }
    }

    fn settle(&mut self) {
        self.flush_deletes();
    }
}

impl Drop for QueueSource {
    fn drop(&mut self) {
        self.flush_deletes();
        self.stop.store(true, Ordering::Relaxed);
        if let Some(heartbeat) = self.heartbeat.take() {
            let _ = heartbeat.join();
        }
    }
}

/// Keeps the messages in flight invisible: every third of the visibility timeout, each is
/// made invisible for a whole one again from then.
fn spawn_heartbeat(
    queue: Queue,
    in_flight: Flights,
    stop: Arc<AtomicBool>,
    visibility: Duration,
) -> std::thread::JoinHandle<()> {
    let every = (visibility / 3).max(Duration::from_secs(1));
    let seconds = i32::try_from(visibility.as_secs()).unwrap_or(i32::MAX);
    std::thread::spawn(move || {
        let tick = Duration::from_millis(100);
        let mut since = Duration::ZERO;
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(tick);
            since += tick;
            if since < every {
                continue;
            }
            since = Duration::ZERO;
            let receipts: Vec<String> = in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .values()
                .map(|f| f.receipt.clone())
                .collect();
            for receipt in receipts {
                // A receipt that expired belongs to another delivery now: nothing to keep.
                let _ = queue.extend(&receipt, seconds);
            }
        }
    })
}
