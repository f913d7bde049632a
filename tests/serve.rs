//! `sightline serve`: no file outside its folder can be read (`..`, percent-encoded dots and
//! slashes, absolute paths, symbolic links leading out), it listens on 127.0.0.1 unless told
//! otherwise, refuses oversized request heads, and serves hundreds of concurrent requests for the
//! wasm and a model without an error.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

const SECRET: &str = "the secret outside the served folder";

struct Server {
    child: Child,
    address: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `sightline serve --dir root --port 0 [extra]`, once it has printed where it listens.
fn serve(root: &Path, extra: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sightline"))
        .args(["serve", "--dir", root.to_str().unwrap(), "--port", "0"])
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap()).read_line(&mut line).unwrap();
    // "serving /path on http://127.0.0.1:PORT/"
    let address = line.trim().rsplit("http://").next().unwrap().trim_end_matches('/').parse().unwrap();
    Server { child, address }
}

struct Response {
    status: u16,
    head: String,
    body: Vec<u8>,
}

/// Sends `request` as is and reads the whole response (the server closes every connection).
fn exchange(address: SocketAddr, request: &[u8]) -> Response {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    stream.write_all(request).unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).unwrap();
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete response head") + 4;
    let head = String::from_utf8(bytes[..end].to_vec()).unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    Response { status, head, body: bytes[end..].to_vec() }
}

fn get(address: SocketAddr, target: &str) -> Response {
    exchange(address, format!("GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
}

/// root/ with index.html, a file and links inside and out, beside outside/secret.txt.
fn layout(test: &str) -> (PathBuf, PathBuf) {
    let base = std::env::temp_dir().join(format!("sightline-serve-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let (root, outside) = (base.join("root"), base.join("outside"));
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), SECRET).unwrap();
    std::fs::write(root.join("index.html"), "<!doctype html><title>app</title>").unwrap();
    std::fs::write(root.join("sub/inner.txt"), "inside").unwrap();
    std::os::unix::fs::symlink(outside.join("secret.txt"), root.join("link-out.txt")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("dir-out")).unwrap();
    std::os::unix::fs::symlink(root.join("sub/inner.txt"), root.join("link-in.txt")).unwrap();
    (root, outside)
}

#[test]
fn nothing_outside_the_folder_is_served() {
    let (root, outside) = layout("paths");
    let server = serve(&root, &[]);
    let secret_path = outside.join("secret.txt").display().to_string();
    let escapes = [
        "/../outside/secret.txt".to_string(),
        "/sub/../../outside/secret.txt".into(),
        "/%2e%2e/outside/secret.txt".into(),
        "/%2E%2E%2Foutside%2Fsecret.txt".into(),
        "/..%2foutside%2fsecret.txt".into(),
        "/sub%2f..%2f..%2foutside/secret.txt".into(),
        "/..%5coutside%5csecret.txt".into(),
        "/..\\outside\\secret.txt".into(),
        "../outside/secret.txt".into(),
        secret_path.clone(),
        format!("/{secret_path}"),
        format!("/%2F{}", secret_path.trim_start_matches('/')),
        "/link-out.txt".into(),
        "/dir-out/secret.txt".into(),
        "/%64ir-out/secret.txt".into(),
        "/sub/inner.txt%00".into(),
    ];
    for target in &escapes {
        let response = get(server.address, target);
        assert_eq!(response.status, 404, "{target} answered {}", response.head);
        assert!(!String::from_utf8_lossy(&response.body).contains(SECRET), "{target} leaked the secret");
    }
    for (target, body) in [("/", "<!doctype html>"), ("/sub/inner.txt", "inside"), ("/link-in.txt", "inside")] {
        let response = get(server.address, target);
        assert_eq!(response.status, 200, "{target}: {}", response.head);
        assert!(String::from_utf8_lossy(&response.body).starts_with(body), "{target}");
    }
    let head = exchange(server.address, b"HEAD /sub/inner.txt HTTP/1.1\r\n\r\n");
    assert!(head.head.contains("Content-Length: 6\r\n") && head.body.is_empty(), "{}", head.head);
    assert_eq!(exchange(server.address, b"POST / HTTP/1.1\r\n\r\n").status, 405);
}

#[test]
fn listens_on_loopback_unless_told_otherwise() {
    let (root, _) = layout("bind");
    let default = serve(&root, &[]);
    assert_eq!(default.address.ip().to_string(), "127.0.0.1");
    let chosen = serve(&root, &["--bind", "127.0.0.2"]);
    assert_eq!(chosen.address.ip().to_string(), "127.0.0.2");
    assert_eq!(get(chosen.address, "/").status, 200);
}

#[test]
fn oversized_request_heads_are_refused_and_the_server_goes_on() {
    let (root, _) = layout("head");
    let server = serve(&root, &[]);
    let long_header = format!("GET / HTTP/1.1\r\nX-Filler: {}\r\n\r\n", "x".repeat(20_000));
    assert_eq!(exchange(server.address, long_header.as_bytes()).status, 431);
    let long_line = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(20_000));
    assert_eq!(exchange(server.address, long_line.as_bytes()).status, 431);
    assert_eq!(exchange(server.address, b"\xff\xfe garbage \r\n\r\n").status, 405);
    assert_eq!(get(server.address, "/").status, 200);
}

/// Deterministic bytes standing in for a file's contents.
fn filler(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 56) as u8
        })
        .collect()
}

/// Concurrent requests of the load test: half for the wasm, half for the model.
const LOAD_REQUESTS: usize = 400;

#[test]
fn hundreds_of_concurrent_requests_for_the_wasm_and_the_model_all_succeed() {
    let (root, _) = layout("load");
    let wasm = Arc::new(filler(3 << 20, 1));
    let model = Arc::new(filler(2 << 20, 2));
    std::fs::write(root.join("engine_bg.wasm"), wasm.as_slice()).unwrap();
    std::fs::write(root.join("model.gguf"), model.as_slice()).unwrap();
    let server = serve(&root, &[]);
    let start_together = Arc::new(Barrier::new(LOAD_REQUESTS));
    let started = Instant::now();
    let clients: Vec<_> = (0..LOAD_REQUESTS)
        .map(|i| {
            let (start_together, wasm, model) = (start_together.clone(), wasm.clone(), model.clone());
            let address = server.address;
            std::thread::spawn(move || {
                start_together.wait();
                let sent = Instant::now();
                let (target, expected, kind) = if i % 2 == 0 {
                    ("/engine_bg.wasm", wasm, "application/wasm")
                } else {
                    ("/model.gguf", model, "application/octet-stream")
                };
                let response = get(address, target);
                assert_eq!(response.status, 200, "{target}: {}", response.head);
                assert!(response.head.contains(&format!("Content-Type: {kind}\r\n")), "{}", response.head);
                assert!(response.body == *expected, "{target}: {} bytes differ from the file", response.body.len());
                sent.elapsed()
            })
        })
        .collect();
    let mut latencies: Vec<Duration> = clients.into_iter().map(|c| c.join().expect("a request failed")).collect();
    let total = started.elapsed();
    latencies.sort();
    let megabytes = (LOAD_REQUESTS / 2) as f64 * (wasm.len() + model.len()) as f64 / f64::from(1 << 20);
    eprintln!(
        "load: {LOAD_REQUESTS} concurrent requests (3 MiB wasm, 2 MiB model), 0 errors, {:.2} s in all, \
         {:.0} requests/s, {megabytes:.0} MiB at {:.0} MiB/s; latency median {:.0} ms, max {:.0} ms",
        total.as_secs_f64(),
        LOAD_REQUESTS as f64 / total.as_secs_f64(),
        megabytes / total.as_secs_f64(),
        latencies[latencies.len() / 2].as_secs_f64() * 1e3,
        latencies[latencies.len() - 1].as_secs_f64() * 1e3,
    );
}
