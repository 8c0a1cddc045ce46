//! What `watch` and `run` follow: folders and SQS queues, any number of each, polled in turn as
//! one source. Each unit is acknowledged to the source that offered it (two queues naming the
//! same object both hear of it), and each queue's counts are told apart.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tripline_pipeline::metrics::Metrics;
use tripline_pipeline::source::{Folder, Listing, QueueCounts, Source, Unit};

use super::follow::QueueArgs;
use crate::options::AwsArgs;

/// One thing followed.
enum Part {
    Folder(Folder),
    #[cfg(feature = "aws")]
    Queue(Box<tripline_pipeline::source::queue::QueueSource>, String),
}

/// Everything followed, as one source.
pub struct Followed {
    parts: Vec<Part>,
    /// Which parts offered each unit not yet acknowledged, by the unit's input.
    owners: HashMap<String, Vec<usize>>,
}

impl Followed {
    /// The `folders` (files settled for `settle`) and the `queues`; and how to name them.
    /// When several are followed, a queue's receive waits at most a second, so that it does
    /// not hold up the others.
    pub fn open(
        folders: &[PathBuf],
        settle: Duration,
        queues: &[String],
        queue_args: &QueueArgs,
        aws: &AwsArgs,
    ) -> anyhow::Result<(Self, String)> {
        if folders.is_empty() && queues.is_empty() {
            anyhow::bail!("nothing to follow: give a folder or a queue (--queue URL)");
        }
        let mut parts = Vec::new();
        let mut names = Vec::new();
        for dir in folders {
            if !dir.is_dir() {
                anyhow::bail!("{} is not a folder to watch", dir.display());
            }
            parts.push(Part::Folder(Folder::new(dir, settle)));
            names.push(dir.display().to_string());
        }
        let several = folders.len() + queues.len() > 1;
        for url in queues {
            parts.push(open_queue(url, queue_args, aws, several)?);
            names.push(url.clone());
        }
        Ok((Self { parts, owners: HashMap::new() }, names.join(", ")))
    }

    /// Whether a queue is followed (its receive waits for messages: no pause is needed).
    pub fn has_queue(&self) -> bool {
        !self.queues().is_empty()
    }

    /// Every queue drained: nothing received since `received_before` (the sum of
    /// [`Self::received`]) and nothing in flight. A folder is never drained.
    pub fn drained(&self, received_before: u64) -> bool {
        let only_queues = self.parts.iter().all(|p| !matches!(p, Part::Folder(_)));
        only_queues && self.received() == received_before && self.in_flight() == 0
    }

    /// Messages received from all queues.
    pub fn received(&self) -> u64 {
        self.queues().iter().map(|(queue, _)| queue.counts.received).sum()
    }

    fn in_flight(&self) -> usize {
        self.queues().iter().map(|(queue, _)| queue.in_flight()).sum()
    }

    /// The queues' counts into `metrics`.
    pub fn measure(&self, metrics: &Metrics) {
        let queues = self.queues();
        let sum = |count: fn(&QueueCounts) -> u64| {
            queues.iter().map(|(queue, _)| count(&queue.counts)).sum::<u64>()
        };
        metrics.messages_received.store(sum(|c| c.received), Ordering::Relaxed);
        metrics.messages_bad.store(sum(|c| c.bad), Ordering::Relaxed);
        metrics.messages_in_flight.store(self.in_flight() as u64, Ordering::Relaxed);
    }

    /// Each queue's counts, for the summary (named when there are several).
    pub fn describe(&self) -> Vec<String> {
        let queues = self.queues();
        queues
            .iter()
            .map(|(queue, url)| {
                let c = &queue.counts;
                let name = if queues.len() > 1 { format!("queue {url}") } else { "queue".into() };
                format!(
                    "{name}: {} message(s) received, {} done and deleted, {} asking for nothing, {} that can never succeed, {} in flight",
                    c.received, c.done, c.ignored, c.bad, queue.in_flight()
                )
            })
            .collect()
    }

    #[cfg(feature = "aws")]
    fn queues(&self) -> Vec<(&tripline_pipeline::source::queue::QueueSource, &str)> {
        let queues = self.parts.iter().filter_map(|p| match p {
            Part::Queue(queue, url) => Some((&**queue, url.as_str())),
            Part::Folder(_) => None,
        });
        queues.collect()
    }

    #[cfg(not(feature = "aws"))]
    fn queues(&self) -> Vec<(&NoQueue, &str)> {
        Vec::new()
    }

    fn part(&mut self, index: usize) -> &mut dyn Source {
        match &mut self.parts[index] {
            Part::Folder(folder) => folder,
            #[cfg(feature = "aws")]
            Part::Queue(queue, _) => &mut **queue,
        }
    }
}

impl Source for Followed {
    fn poll(&mut self) -> Listing {
        let mut all = Listing::default();
        for index in 0..self.parts.len() {
            let listing = self.part(index).poll();
            for unit in &listing.units {
                // A unit offered again (not acknowledged: its read failed) is owned once.
                let owners = self.owners.entry(unit.input.label()).or_default();
                if !owners.contains(&index) {
                    owners.push(index);
                }
            }
            all.absorb(listing);
        }
        all
    }

    fn ack(&mut self, unit: &Unit) {
        for index in self.owners.remove(&unit.input.label()).unwrap_or_default() {
            self.part(index).ack(unit);
        }
    }

    fn settle(&mut self) {
        (0..self.parts.len()).for_each(|index| self.part(index).settle());
    }
}

#[cfg(feature = "aws")]
fn open_queue(url: &str, args: &QueueArgs, aws: &AwsArgs, several: bool) -> anyhow::Result<Part> {
    use tripline_pipeline::source::queue::{QueueOptions, QueueSource};
    let wait = args.wait.min(Duration::from_secs(if several { 1 } else { 20 }));
    let options = QueueOptions {
        url: url.to_owned(),
        aws: aws.options(),
        wait,
        visibility: args.visibility.max(Duration::from_secs(1)),
        delete_bad: args.delete_bad_messages,
    };
    let source = QueueSource::new(options).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Part::Queue(Box::new(source), url.to_owned()))
}

#[cfg(not(feature = "aws"))]
fn open_queue(url: &str, _: &QueueArgs, _: &AwsArgs, _: bool) -> anyhow::Result<Part> {
    anyhow::bail!("{url}: this build of tripline reads no queue (built without the `aws` feature)")
}

/// Without the AWS clients there is no queue: nothing of this kind is ever made.
#[cfg(not(feature = "aws"))]
struct NoQueue {
    counts: QueueCounts,
}

#[cfg(not(feature = "aws"))]
impl NoQueue {
    fn in_flight(&self) -> usize {
        0
    }
}
