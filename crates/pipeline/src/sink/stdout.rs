//! Standard output that a reader may leave (`tripline scan … | head -1`). A closed pipe ends
//! what this output shows, not the run: the other outputs and the store still get everything,
//! the summary is still printed and the exit status is the one the whole run earns. Any other
//! write error (a full disk) is still an error.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once stdout's reader has gone, for a run whose only output is stdout: it then stops
/// reading (an endless stdin would otherwise be read for nobody).
static READER_GONE: AtomicBool = AtomicBool::new(false);

/// Whether stdout's reader has gone.
#[must_use]
pub fn reader_gone() -> bool {
    READER_GONE.load(Ordering::Relaxed)
}

/// Writes to `inner` until its reader has gone, then takes everything and drops it.
pub struct UntilClosed<W> {
    inner: W,
    gone: bool,
}

impl<W: Write> UntilClosed<W> {
    /// `inner`, while someone reads it.
    pub fn new(inner: W) -> Self {
        Self { inner, gone: false }
    }

    fn settle<T>(&mut self, result: io::Result<T>, written: T) -> io::Result<T> {
        match result {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.gone = true;
                READER_GONE.store(true, Ordering::Relaxed);
                Ok(written)
            }
            other => other,
        }
    }
}

impl<W: Write> Write for UntilClosed<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.gone {
            return Ok(buf.len());
        }
        let result = self.inner.write(buf);
        self.settle(result, buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.gone {
            return Ok(());
        }
        let result = self.inner.flush();
        self.settle(result, ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes `room` bytes, then fails with `kind`.
    struct Limited {
        room: usize,
        kind: io::ErrorKind,
        taken: Vec<u8>,
    }

    impl Write for Limited {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.taken.len() + buf.len() > self.room {
                return Err(self.kind.into());
            }
            self.taken.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_drops_what_follows_and_a_full_disk_is_an_error() {
        let pipe = Limited { room: 6, kind: io::ErrorKind::BrokenPipe, taken: Vec::new() };
        let mut out = UntilClosed::new(pipe);
        out.write_all(b"first\n").expect("room for it");
        out.write_all(b"second\n").expect("the reader left: dropped");
        out.write_all(b"third\n").expect("dropped");
        out.flush().expect("nothing to flush");
        assert_eq!(out.inner.taken, b"first\n");
        let disk = Limited { room: 6, kind: io::ErrorKind::StorageFull, taken: Vec::new() };
        let mut out = UntilClosed::new(disk);
        out.write_all(b"first\n").expect("room for it");
        assert_eq!(
            out.write_all(b"second\n").expect_err("full").kind(),
            io::ErrorKind::StorageFull
        );
    }
}
