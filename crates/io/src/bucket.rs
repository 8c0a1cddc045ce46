//! Listing a CloudTrail bucket without listing all of it. CloudTrail writes
//! `AWSLogs/[<org id>/]<account>/CloudTrail/<region>/YYYY/MM/DD/<file>`; a bucket also holds
//! digests and other services' logs, and years of days. The walk goes down that layout one
//! level at a time (S3's delimiter listing), leaves out the accounts, regions and services not
//! asked for without listing them, and lists each region's files from the first day asked for
//! (`start-after`) to the last, so a day's scan of a year-old trail costs a few requests.
//!
//! The walk is over a [`Lister`], so it is tested here on a bucket in memory; the S3 client is
//! one implementation.

use std::collections::BTreeMap;

/// One object as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Its key.
    pub key: String,
    /// Its ETag.
    pub etag: String,
    /// Its size in bytes.
    pub size: u64,
}

/// What a listing yields, in key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A folder: the keys that share a prefix up to the next `/` (S3's common prefix).
    Folder(String),
    /// An object.
    Object(Listed),
}

/// Lists one bucket.
pub trait Lister {
    /// Lists what is under `prefix`: with `folders`, the objects directly under it and its
    /// sub-folders (each once); without, every object below it. Entries come in key order,
    /// starting after `start_after`; `each` returning `false` ends the listing early.
    ///
    /// # Errors
    /// What the service said, when it refused or could not be reached.
    fn list(
        &self,
        prefix: &str,
        folders: bool,
        start_after: Option<&str>,
        each: &mut dyn FnMut(Entry) -> bool,
    ) -> Result<(), String>;
}

/// What to leave out, by what the key names say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Narrowing {
    /// Only these accounts (none: every account).
    pub accounts: Vec<String>,
    /// Only these regions (none: every region).
    pub regions: Vec<String>,
    /// Only days from this one (`YYYY/MM/DD`, as the layout spells them).
    pub first_day: Option<String>,
    /// Only days up to this one (`YYYY/MM/DD`).
    pub last_day: Option<String>,
}

// With any narrowing, objects outside the `AWSLogs/` layout are left out: nothing says which
// account, region or day they hold.

/// What the walk found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BucketListing {
    /// The objects to read, in key order.
    pub objects: Vec<Listed>,
    /// Digest objects met (listed among others), never read.
    pub digests: u64,
    /// Other services' objects met (listed among others), by service, never read.
    pub other_services: BTreeMap<String, u64>,
    /// Folders left out without listing them, by what they hold (`CloudTrail-Digest`, a
    /// service's name).
    pub folders_skipped: BTreeMap<String, u64>,
    /// List requests' pages asked for (each entry point and folder is at least one).
    pub listings: u64,
}

/// Where a key or folder sits in the layout: the parts after the last `AWSLogs/`.
#[derive(Debug, Default, PartialEq, Eq)]
struct Place<'a> {
    /// Below `AWSLogs/` at all.
    in_layout: bool,
    account: Option<&'a str>,
    service: Option<&'a str>,
    region: Option<&'a str>,
    /// `YYYY/MM/DD`, when the key has all three.
    day: Option<String>,
    /// How many folders deep below the region (0: the region folder itself).
    below_region: usize,
}

fn is_org(part: &str) -> bool {
    part.starts_with("o-")
}

fn is_account(part: &str) -> bool {
    part.len() == 12 && part.bytes().all(|b| b.is_ascii_digit())
}

/// Where `path` (a key, or a folder ending in `/`) is. Only the folders count: a key's last
/// part is its file name.
fn place(path: &str) -> Place<'_> {
    let folders: Vec<&str> = match path.rsplit_once('/') {
        Some((dirs, _)) => dirs.split('/').collect(),
        None => Vec::new(),
    };
    let Some(start) = folders.iter().rposition(|p| *p == "AWSLogs") else {
        return Place::default();
    };
    let mut rest = folders[start + 1..].iter().copied().peekable();
    let mut at = Place { in_layout: true, ..Place::default() };
    while rest.next_if(|p| is_org(p)).is_some() {}
    at.account = rest.next_if(|p| is_account(p));
    if at.account.is_none() {
        return at;
    }
    at.service = rest.next();
    if !at.service.is_some_and(|s| s.starts_with("CloudTrail")) {
        return at;
    }
    at.region = rest.next();
    let below: Vec<&str> = rest.collect();
    at.below_region = below.len();
    if let [year, month, day, ..] = below[..] {
        at.day = Some(format!("{year}/{month}/{day}"));
    }
    at
}

/// Why a folder or object is left out, if it is.
enum Verdict {
    Keep,
    /// Not asked for (another account, region or day): left out silently.
    Unasked,
    /// A digest or another service's: counted under this name.
    Skipped(String),
}

fn verdict(at: &Place<'_>, narrowing: &Narrowing) -> Verdict {
    if !at.in_layout {
        // An object outside the layout cannot be placed in the accounts, regions or days
        // asked for: read only when nothing was.
        return if *narrowing == Narrowing::default() { Verdict::Keep } else { Verdict::Unasked };
    }
    let unasked = |list: &[String], value: Option<&str>| {
        value.is_some_and(|v| !list.is_empty() && !list.iter().any(|x| x == v))
    };
    if unasked(&narrowing.accounts, at.account) {
        return Verdict::Unasked;
    }
    match at.service {
        Some("CloudTrail-Digest") => return Verdict::Skipped("CloudTrail-Digest".into()),
        Some(s) if !s.starts_with("CloudTrail") => return Verdict::Skipped(s.to_owned()),
        _ => {}
    }
    if unasked(&narrowing.regions, at.region) {
        return Verdict::Unasked;
    }
    if let Some(day) = &at.day {
        let early = narrowing.first_day.as_ref().is_some_and(|first| day < first);
        let late = narrowing.last_day.as_ref().is_some_and(|last| day > last);
        if early || late {
            return Verdict::Unasked;
        }
    }
    Verdict::Keep
}

/// The walk's state: what it found so far.
struct Walk<'a> {
    lister: &'a dyn Lister,
    narrowing: &'a Narrowing,
    out: BucketListing,
}

impl Walk<'_> {
    fn object(&mut self, object: Listed) {
        let path = std::path::Path::new(&object.key);
        match crate::input::layout(path) {
            crate::input::Layout::Digest => self.out.digests += 1,
            crate::input::Layout::OtherService(service) => {
                *self.out.other_services.entry(service).or_insert(0) += 1;
            }
            crate::input::Layout::CloudTrail => {
                if matches!(verdict(&place(&object.key), self.narrowing), Verdict::Keep) {
                    self.out.objects.push(object);
                }
            }
        }
    }

    /// Walks the folder `prefix` (ending in `/`, or empty for the whole bucket).
    fn folder(&mut self, prefix: &str) -> Result<(), String> {
        let inside = format!("{prefix}x");
        let at = place(&inside);
        if at.region.is_some() && at.below_region == 0 {
            return self.region(prefix);
        }
        if at.region.is_some() {
            // Deeper than a region: every object below, each judged by its key.
            return self.flat(prefix, None);
        }
        self.listed(prefix, true, None)
    }

    /// A region's folder: its days, from the first asked for to the last.
    fn region(&mut self, prefix: &str) -> Result<(), String> {
        let start = self.narrowing.first_day.as_ref().map(|day| format!("{prefix}{day}"));
        self.flat(prefix, start.as_deref())
    }

    /// Every object below `prefix`, from after `start_after`, until a key's day is past the
    /// last day asked for.
    fn flat(&mut self, prefix: &str, start_after: Option<&str>) -> Result<(), String> {
        let last_day = self.narrowing.last_day.clone();
        let mut objects = Vec::new();
        self.out.listings += 1;
        self.lister.list(prefix, false, start_after, &mut |entry| {
            if let Entry::Object(object) = entry {
                let day = place(&object.key).day;
                if let (Some(day), Some(last)) = (&day, &last_day) {
                    if day > last {
                        return false;
                    }
                }
                objects.push(object);
            }
            true
        })?;
        objects.into_iter().for_each(|o| self.object(o));
        Ok(())
    }

    /// One delimiter listing of `prefix`: its objects judged, its folders walked in turn.
    fn listed(&mut self, prefix: &str, folders: bool, start: Option<&str>) -> Result<(), String> {
        let mut entries = Vec::new();
        self.out.listings += 1;
        self.lister.list(prefix, folders, start, &mut |entry| {
            entries.push(entry);
            true
        })?;
        for entry in entries {
            match entry {
                Entry::Object(object) => self.object(object),
                Entry::Folder(folder) => {
                    match verdict(&place(&format!("{folder}x")), self.narrowing) {
                        // A folder outside the layout may hold one (`trail/AWSLogs/…`).
                        Verdict::Keep | Verdict::Unasked if !folder.contains("AWSLogs/") => {
                            self.folder(&folder)?;
                        }
                        Verdict::Keep => self.folder(&folder)?,
                        Verdict::Unasked => {}
                        Verdict::Skipped(what) => {
                            *self.out.folders_skipped.entry(what).or_insert(0) += 1;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Walks the bucket from `prefix` (a folder when it ends in `/` or is empty; otherwise S3's
/// plain prefix: the objects and folders whose names start with it).
///
/// # Errors
/// The first listing the service refused, with what it said.
pub fn walk(
    lister: &dyn Lister,
    prefix: &str,
    narrowing: &Narrowing,
) -> Result<BucketListing, String> {
    let mut walk = Walk { lister, narrowing, out: BucketListing::default() };
    if prefix.is_empty() || prefix.ends_with('/') {
        walk.folder(prefix)?;
    } else {
        walk.listed(prefix, true, None)?;
    }
    Ok(walk.out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// A bucket in memory that answers as S3 does, and remembers what it was asked and how many
    /// entries it answered.
    struct Bucket {
        keys: Vec<String>,
        asked: RefCell<Vec<(String, bool, Option<String>)>>,
        listed: RefCell<usize>,
    }

    impl Bucket {
        fn new(keys: &[&str]) -> Self {
            let mut keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
            keys.sort();
            Self { keys, asked: RefCell::default(), listed: RefCell::default() }
        }
    }

    impl Lister for Bucket {
        fn list(
            &self,
            prefix: &str,
            folders: bool,
            start_after: Option<&str>,
            each: &mut dyn FnMut(Entry) -> bool,
        ) -> Result<(), String> {
            self.asked.borrow_mut().push((prefix.into(), folders, start_after.map(Into::into)));
            let mut seen = std::collections::BTreeSet::new();
            for key in &self.keys {
                if !key.starts_with(prefix) || start_after.is_some_and(|s| key.as_str() <= s) {
                    continue;
                }
                let rest = &key[prefix.len()..];
                let entry = match rest.find('/') {
                    Some(slash) if folders => {
                        let folder = format!("{prefix}{}", &rest[..=slash]);
                        if !seen.insert(folder.clone()) {
                            continue;
                        }
                        Entry::Folder(folder)
                    }
                    _ => Entry::Object(Listed { key: key.clone(), etag: "e".into(), size: 1 }),
                };
                *self.listed.borrow_mut() += 1;
                if !each(entry) {
                    break;
                }
            }
            Ok(())
        }
    }

    fn keys(listing: &BucketListing) -> Vec<&str> {
        listing.objects.iter().map(|o| o.key.as_str()).collect()
    }

    const ORG: &str = "trail/AWSLogs/o-abc123";

    fn org_bucket() -> Bucket {
        let mut keys = Vec::new();
        for account in ["111122223333", "444455556666"] {
            for region in ["us-east-1", "eu-west-1"] {
                for day in ["2024/07/31", "2024/08/01", "2024/08/02", "2024/08/03"] {
                    keys.push(format!(
                        "{ORG}/{account}/CloudTrail/{region}/{day}/{account}_CloudTrail_{region}_x.json.gz"
                    ));
                }
                keys.push(format!(
                    "{ORG}/{account}/CloudTrail-Digest/{region}/2024/08/01/d.json.gz"
                ));
            }
            keys.push(format!(
                "{ORG}/{account}/Config/us-east-1/2024/8/1/ConfigSnapshot/c.json.gz"
            ));
            keys.push(format!(
                "{ORG}/{account}/elasticloadbalancing/us-east-1/2024/08/01/e.log.gz"
            ));
        }
        keys.push("trail/notes.txt".into());
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        Bucket::new(&keys)
    }

    #[test]
    fn a_whole_bucket_is_every_cloudtrail_file_and_skips_digests_and_other_services_unlisted() {
        let bucket = org_bucket();
        let listing = walk(&bucket, "", &Narrowing::default()).expect("walk");
        assert_eq!(listing.objects.len(), 2 * 2 * 4 + 1, "{:?}", keys(&listing));
        assert!(keys(&listing).contains(&"trail/notes.txt"), "outside the layout: read");
        assert_eq!(listing.folders_skipped["CloudTrail-Digest"], 2);
        assert_eq!(listing.folders_skipped["Config"], 2);
        assert_eq!(listing.folders_skipped["elasticloadbalancing"], 2);
        // Skipped folders are never listed.
        let asked = bucket.asked.borrow();
        assert!(asked.iter().all(|(p, ..)| !p.contains("Config") && !p.contains("Digest")));
    }

    #[test]
    fn accounts_regions_and_days_narrow_what_is_listed() {
        let bucket = org_bucket();
        let narrowing = Narrowing {
            accounts: vec!["444455556666".into()],
            regions: vec!["eu-west-1".into()],
            first_day: Some("2024/08/01".into()),
            last_day: Some("2024/08/02".into()),
        };
        let listing = walk(&bucket, "trail/", &narrowing).expect("walk");
        assert_eq!(
            keys(&listing),
            [
                format!("{ORG}/444455556666/CloudTrail/eu-west-1/2024/08/01/444455556666_CloudTrail_eu-west-1_x.json.gz"),
                format!("{ORG}/444455556666/CloudTrail/eu-west-1/2024/08/02/444455556666_CloudTrail_eu-west-1_x.json.gz"),
            ]
        );
        // The region's files were listed from the first day on, and no other region's or
        // account's files at all; the listing stopped at the first key past the last day.
        let asked = bucket.asked.borrow();
        let flat: Vec<_> = asked.iter().filter(|(_, folders, _)| !folders).collect();
        assert_eq!(flat.len(), 1, "{asked:?}");
        assert_eq!(
            flat[0].2.as_deref(),
            Some(format!("{ORG}/444455556666/CloudTrail/eu-west-1/2024/08/01").as_str())
        );
        assert_eq!(asked.len(), 6, "one listing per level down to the region: {asked:?}");
        // Answers: 2 + 1 + 2 accounts + 4 services + 2 regions, then the days' 3 files (the
        // third, past the last day, ends the listing).
        assert_eq!(*bucket.listed.borrow(), 14);
    }

    #[test]
    fn a_prefix_inside_the_layout_is_listed_from_there() {
        let bucket = org_bucket();
        let day = format!("{ORG}/111122223333/CloudTrail/us-east-1/2024/08/02/");
        let listing = walk(&bucket, &day, &Narrowing::default()).expect("walk");
        assert_eq!(keys(&listing).len(), 1);
        // A plain prefix (no trailing `/`) is S3's: the account's folders that start with it.
        let listing = walk(&bucket, &format!("{ORG}/1111"), &Narrowing::default()).expect("walk");
        assert_eq!(keys(&listing).len(), 8);
        assert_eq!(listing.folders_skipped["Config"], 1);
    }

    #[test]
    fn digests_and_other_services_listed_among_files_are_counted() {
        let bucket = Bucket::new(&[
            "x/AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/a.json.gz",
            "x/AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/b_CloudTrail-Digest_c.json.gz",
            "x/AWSLogs/111122223333/Config/ConfigWritabilityCheckFile",
        ]);
        let listing =
            walk(&bucket, "x/AWSLogs/111122223333/CloudTrail/us-east-1/", &Narrowing::default())
                .expect("walk");
        assert_eq!(keys(&listing).len(), 1);
        assert_eq!(listing.digests, 1);
        let listing =
            walk(&bucket, "x/AWSLogs/111122223333/C", &Narrowing::default()).expect("walk");
        assert_eq!(listing.folders_skipped["Config"], 1);
    }

    #[test]
    fn places_are_read_from_the_folders_not_the_file_name() {
        let at = place("AWSLogs/o-1/111122223333/CloudTrail/us-east-1/2024/08/01/f.json.gz");
        assert_eq!(at.account, Some("111122223333"));
        assert_eq!(at.region, Some("us-east-1"));
        assert_eq!(at.day.as_deref(), Some("2024/08/01"));
        assert_eq!(place("AWSLogs/111122223333/CloudTrail/x").region, None);
        assert!(!place("logs/f.json").in_layout);
    }
}
