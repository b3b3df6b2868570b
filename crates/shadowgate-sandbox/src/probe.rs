//! Health probes: an HTTP GET that must answer 2xx/3xx, or a TCP connect.

use std::{net::SocketAddr, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    time::timeout,
};

use crate::netns::NetnsSockets;

/// Probes the application once; `Err` explains why it is not healthy yet.
pub async fn once(
    sockets: &NetnsSockets,
    port: u16,
    http_path: Option<&str>,
    limit: Duration,
) -> Result<(), String> {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let attempt = async {
        let mut stream =
            sockets.connect(addr).await.map_err(|e| format!("connect to port {port}: {e}"))?;
        let Some(path) = http_path else { return Ok(()) };
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: shadowgate-health\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.map_err(|e| format!("send GET {path}: {e}"))?;
        let mut head = Vec::with_capacity(256);
        let mut buf = [0u8; 256];
        while !head.windows(2).any(|w| w == b"\r\n") {
            let n = stream
                .read(&mut buf)
                .await
                .map_err(|e| format!("read the answer to GET {path}: {e}"))?;
            if n == 0 {
                return Err(format!("GET {path}: the connection closed before a status line"));
            }
            head.extend_from_slice(&buf[..n]);
            if head.len() > 8192 {
                return Err(format!("GET {path}: no HTTP status line in the first 8 KiB"));
            }
        }
        let line = String::from_utf8_lossy(&head);
        let status: u16 =
            line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| {
                format!(
                    "GET {path}: not an HTTP answer: {}",
                    line.lines().next().unwrap_or_default()
                )
            })?;
        if (200..400).contains(&status) {
            Ok(())
        } else {
            Err(format!("GET {path} answered {status}"))
        }
    };
    match timeout(limit, attempt).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within {} ms", limit.as_millis())),
    }
}
