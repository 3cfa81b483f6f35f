//! The fastest HTTP server that sleeps between requests: a thread per connection that
//! answers every request with a fixed 450-byte body, parsing nothing, and blocks in
//! `read` until the next one. `bench/floor.sh` loads it with wrk exactly as `run.sh`
//! loads the servers, so its req/s at concurrency 1 is the ceiling of any server that
//! sleeps between requests, set by wrk, the kernel's loopback and two thread wake-ups per
//! request. A server that polls instead of sleeping can pass it (bench/README.md).
//! Built with plain rustc: no crate, no dependency.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

fn serve(mut stream: TcpStream, response: &[u8]) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = [0u8; 16 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        pending.extend_from_slice(buf.get(..n).unwrap_or_default());
        // wrk sends GETs without bodies: a blank line ends each request.
        while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            pending.drain(..end + 4);
            stream.write_all(response)?;
        }
    }
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = TcpListener::bind(addr)?;
    println!("{}", listener.local_addr()?);
    let body = [b'x'; 450];
    let mut response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(&body);
    for stream in listener.incoming() {
        let (stream, response) = (stream?, response.clone());
        std::thread::spawn(move || serve(stream, &response));
    }
    Ok(())
}
