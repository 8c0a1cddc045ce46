//! `tripline-gen receive ADDR`: a webhook receiver for the whole-process benchmark, on std's
//! sockets: HTTP/1.1 with keep-alive, every request answered 200 at once, the count printed
//! when stdin closes. Hand-written because the benchmark wants the receiver's cost near zero
//! and nothing else on the machine, and the protocol it needs is a dozen lines.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

fn serve(stream: TcpStream, count: &AtomicU64) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut stream = stream;
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        count.fetch_add(1, Ordering::Relaxed);
        stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")?;
    }
}

/// Listens on `addr` until stdin closes; prints how many requests it answered.
pub fn run(addr: &str) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr)?;
    let count = Arc::new(AtomicU64::new(0));
    let accepting = Arc::clone(&count);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let count = Arc::clone(&accepting);
            std::thread::spawn(move || serve(stream, &count));
        }
    });
    let mut sink = Vec::new();
    std::io::stdin().read_to_end(&mut sink)?;
    println!("received {} request(s)", count.load(Ordering::Relaxed));
    Ok(())
}
