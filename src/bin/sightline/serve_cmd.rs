//! A small static file server for the built web app: GET and HEAD, the right content types
//! (browsers refuse to stream-compile wasm served as anything but application/wasm) and a
//! Content-Security-Policy that allows only what the app needs. It listens on 127.0.0.1 unless
//! `--bind` says otherwise, serves nothing outside its folder (serve_files.rs), reads at most a
//! bounded request head, streams files instead of holding them, times out silent clients and
//! keeps a bounded number of connections open (later ones wait in the listen queue).

use crate::serve_files::{content_type, resolve};
use clap::Args;
use sightline::{Error, Result};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Scripts only from the app's origin, wasm compilation allowed, models fetched from the app's
/// origin or an https URL the user typed, images from files the user picked.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
worker-src 'self'; connect-src 'self' https:; img-src 'self' blob: data:; style-src 'self'; \
object-src 'none'; base-uri 'none'; form-action 'none'";

/// A request line and headers longer than this are refused (431) before more is read.
pub const MAX_REQUEST_HEAD_BYTES: u64 = 16 << 10;
/// Bytes read and dropped after refusing an oversized head.
const DISCARDED_BYTES: u64 = 1 << 20;
/// Connections served at once; each holds one thread and no file in memory.
pub const MAX_CONNECTIONS: usize = 256;
/// A client that sends or takes nothing for this long is dropped.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Args)]
pub struct ServeArgs {
    /// The folder to serve.
    #[arg(long, default_value = "dist")]
    dir: PathBuf,
    /// 0 picks a free port (the address is printed).
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// The address to listen on. The default serves this machine only; 0.0.0.0 or :: would
    /// expose the folder to the network.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    bind: IpAddr,
}

pub fn run(args: ServeArgs) -> Result<()> {
    let root = std::fs::canonicalize(&args.dir).map_err(|e| Error::io(args.dir.display(), e))?;
    let listener =
        TcpListener::bind((args.bind, args.port)).map_err(|e| Error::io(format!("{}:{}", args.bind, args.port), e))?;
    let address = listener.local_addr().map_err(|e| Error::io("the listening socket", e))?;
    eprintln!("serving {} on http://{address}/", root.display());
    let slots = Arc::new(ConnectionSlots::default());
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(error) => {
                // Out of file descriptors, or a client that left before being accepted.
                eprintln!("accept failed: {error}");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let slot = ConnectionSlots::acquire(&slots);
        let root = root.clone();
        let spawned = std::thread::Builder::new().spawn(move || {
            let _slot = slot;
            if let Err(error) = respond(stream, &root) {
                eprintln!("request failed: {error}");
            }
        });
        if let Err(error) = spawned {
            eprintln!("no thread for a connection: {error}");
        }
    }
    Ok(())
}

/// Counts open connections; `acquire` waits while `MAX_CONNECTIONS` are open.
#[derive(Default)]
struct ConnectionSlots {
    open: Mutex<usize>,
    freed: Condvar,
}

struct Slot(Arc<ConnectionSlots>);

impl ConnectionSlots {
    fn acquire(slots: &Arc<Self>) -> Slot {
        let mut open = slots.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        while *open >= MAX_CONNECTIONS {
            open = slots.freed.wait(open).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        *open += 1;
        Slot(slots.clone())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        *self.0.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) -= 1;
        self.0.freed.notify_one();
    }
}

/// The request line of a request head of at most `MAX_REQUEST_HEAD_BYTES`, or `None` when the
/// head is longer (or the client stopped sending before its end).
fn read_request_line(stream: &TcpStream) -> std::io::Result<Option<String>> {
    let mut reader = BufReader::new(stream.take(MAX_REQUEST_HEAD_BYTES));
    let mut request_line = Vec::new();
    reader.read_until(b'\n', &mut request_line)?;
    let mut header = Vec::new();
    loop {
        header.clear();
        if reader.read_until(b'\n', &mut header)? == 0 || !header.ends_with(b"\n") {
            return Ok(None);
        }
        if header == b"\r\n" || header == b"\n" {
            return Ok(Some(String::from_utf8_lossy(&request_line).into_owned()));
        }
    }
}

fn respond(mut stream: TcpStream, root: &Path) -> std::io::Result<()> {
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    let Some(request_line) = read_request_line(&stream)? else {
        write_text(&mut stream, "431 Request Header Fields Too Large", "request head too large\n")?;
        return discard_rest(stream);
    };
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    if method != "GET" && method != "HEAD" {
        return write_text(&mut stream, "405 Method Not Allowed", "method not allowed\n");
    }
    let Some((mut file, path)) = resolve(root, target).and_then(|path| Some((std::fs::File::open(&path).ok()?, path)))
    else {
        return write_text(&mut stream, "404 Not Found", "not found\n");
    };
    write_head(&mut stream, "200 OK", content_type(&path), file.metadata()?.len())?;
    if method == "GET" {
        // Straight from the file to the socket (sendfile on Linux): nothing is held in memory.
        std::io::copy(&mut file, &mut stream)?;
    }
    stream.flush()
}

/// Reads what the client still sends (up to a limit) after the answer was written, so that
/// closing with unread bytes does not reset the connection before the client reads the answer.
fn discard_rest(stream: TcpStream) -> std::io::Result<()> {
    stream.shutdown(std::net::Shutdown::Write)?;
    stream.set_read_timeout(Some(Duration::from_secs(1)))?;
    let _ = std::io::copy(&mut (&stream).take(DISCARDED_BYTES), &mut std::io::sink());
    Ok(())
}

fn write_text(stream: &mut TcpStream, status: &str, body: &str) -> std::io::Result<()> {
    write_head(stream, status, "text/plain; charset=utf-8", body.len() as u64)?;
    stream.write_all(body.as_bytes())?;
    stream.flush()
}

fn write_head(stream: &mut TcpStream, status: &str, content_type: &str, length: u64) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\n\
         Content-Security-Policy: {CONTENT_SECURITY_POLICY}\r\nX-Content-Type-Options: nosniff\r\n\
         Cross-Origin-Opener-Policy: same-origin\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes())
}
