//! A real HTTP/1.1 server on 127.0.0.1 for the output tests, written on std's sockets: it must
//! misbehave on cue — answer 500 or 429 with `Retry-After`, hang past the client's timeout, or
//! close the connection without answering — which no ready-made server does on request. It
//! records every request it reads, with the time it arrived.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How to answer one request.
#[derive(Debug, Clone)]
pub enum Answer {
    /// This status, with these headers.
    Status(u16, Vec<(&'static str, String)>),
    /// Say nothing for this long, then close.
    Hang(Duration),
    /// Close the connection at once, without an answer.
    Close,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }
}

pub struct Receiver {
    pub url: String,
    requests: Arc<Mutex<Vec<Request>>>,
    script: Arc<Mutex<VecDeque<Answer>>>,
}

impl Receiver {
    /// A server answering `script` in order, then 200 to everything.
    pub fn start(script: Vec<Answer>) -> Self {
        Self::start_slow(script, Duration::ZERO)
    }

    /// The same, taking `delay` over each answer (a slow receiver, so that a kill lands in
    /// the middle of delivering).
    pub fn start_slow(script: Vec<Answer>, delay: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port on loopback");
        let url =
            format!("http://{}/hooks/T000/B000/s3cr3t-path", listener.local_addr().expect("bound"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let (r, s) = (Arc::clone(&requests), Arc::clone(&script));
        // Lives until the test process ends.
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (r, s) = (Arc::clone(&r), Arc::clone(&s));
                std::thread::spawn(move || serve(stream, &r, &s, delay));
            }
        });
        Self { url, requests, script }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("not poisoned").clone()
    }

    /// Answers still scripted (not yet used).
    pub fn unused(&self) -> usize {
        self.script.lock().expect("not poisoned").len()
    }
}

fn serve(
    stream: TcpStream,
    requests: &Mutex<Vec<Request>>,
    script: &Mutex<VecDeque<Answer>>,
    delay: Duration,
) {
    let mut reader = BufReader::new(stream.try_clone().expect("a socket clones"));
    let mut stream = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
        let mut headers = Vec::new();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
        let length = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        requests.lock().expect("not poisoned").push(Request {
            path,
            headers,
            body,
            at: Instant::now(),
        });
        std::thread::sleep(delay);
        let answer = script
            .lock()
            .expect("not poisoned")
            .pop_front()
            .unwrap_or(Answer::Status(200, Vec::new()));
        match answer {
            Answer::Status(code, extra) => {
                let mut response = format!("HTTP/1.1 {code} Scripted\r\nContent-Length: 2\r\n");
                for (name, value) in extra {
                    response.push_str(&format!("{name}: {value}\r\n"));
                }
                response.push_str("\r\nok");
                if stream.write_all(response.as_bytes()).is_err() {
                    return;
                }
            }
            Answer::Hang(wait) => {
                std::thread::sleep(wait);
                return;
            }
            Answer::Close => return,
        }
    }
}
