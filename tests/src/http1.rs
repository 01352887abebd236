//! HTTP/1.1 framing for the tests crate's own servers (the fault proxy, the Lambda runtime API): heads,
//! bodies by Content-Length or chunked framing, and small responses. Header lines are kept raw as well, so a
//! proxy can forward them byte for byte.

use std::io::{self, BufRead, Read};

/// Heads (and chunk-size lines) larger than this are treated as malformed.
const MAX_HEAD: usize = 64 * 1024;

/// A request or response head. Header lines are kept raw as well, so forwarding keeps them byte for byte.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) start: String,
    pub(crate) start_raw: Vec<u8>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) header_raw: Vec<Vec<u8>>,
}

/// A body as framed on the wire, plus its content when chunked framing had to be removed.
#[derive(Debug)]
pub(crate) struct Body {
    pub(crate) raw: Vec<u8>,
    pub(crate) decoded: Option<Vec<u8>>,
}

impl Body {
    pub(crate) fn data(&self) -> &[u8] {
        self.decoded.as_deref().unwrap_or(&self.raw)
    }
}

pub(crate) fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

pub(crate) fn eof() -> io::Error {
    io::ErrorKind::UnexpectedEof.into()
}

pub(crate) fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

pub(crate) fn is_chunked(headers: &[(String, String)]) -> bool {
    header(headers, "transfer-encoding")
        .is_some_and(|v| v.rsplit(',').next().is_some_and(|c| c.trim().eq_ignore_ascii_case("chunked")))
}

pub(crate) fn status_of(head: &Head) -> io::Result<u16> {
    head.start.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| bad("malformed status line"))
}

/// Reads one line (appended raw to `raw`) and returns its text without the line ending.
pub(crate) fn read_line(r: &mut impl BufRead, raw: &mut Vec<u8>) -> io::Result<String> {
    let start = raw.len();
    r.by_ref().take(MAX_HEAD as u64).read_until(b'\n', raw)?;
    if raw.len() == start || raw.last() != Some(&b'\n') {
        return Err(eof());
    }
    Ok(String::from_utf8_lossy(&raw[start..]).trim_end_matches(['\r', '\n']).to_string())
}

/// Reads a head up to its blank line; `None` on a clean EOF before the first byte.
pub(crate) fn read_head(r: &mut impl BufRead) -> io::Result<Option<Head>> {
    if r.fill_buf()?.is_empty() {
        return Ok(None);
    }
    let mut start_raw = Vec::new();
    let mut start = String::new();
    while start.is_empty() {
        // Stray CRLFs between messages are allowed (RFC 9112 section 2.2).
        start_raw.clear();
        start = read_line(r, &mut start_raw)?;
    }
    let (mut headers, mut header_raw, mut size) = (Vec::new(), Vec::new(), start_raw.len());
    loop {
        let mut raw = Vec::new();
        let line = read_line(r, &mut raw)?;
        size += raw.len();
        if size > MAX_HEAD {
            return Err(bad("head too large"));
        }
        if line.is_empty() {
            return Ok(Some(Head { start, start_raw, headers, header_raw }));
        }
        let (name, value) = line.split_once(':').ok_or_else(|| bad("header line without a colon"))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
        header_raw.push(raw);
    }
}

/// Appends exactly `n` bytes to `raw`.
pub(crate) fn read_n(r: &mut impl BufRead, n: u64, raw: &mut Vec<u8>) -> io::Result<()> {
    let start = raw.len();
    r.by_ref().take(n).read_to_end(raw)?;
    if ((raw.len() - start) as u64) < n {
        return Err(eof());
    }
    Ok(())
}

/// Reads a body by chunked framing or Content-Length; unframed bodies run to EOF only when `to_eof`
/// (responses), since an unframed request has no body.
pub(crate) fn read_body(r: &mut impl BufRead, headers: &[(String, String)], to_eof: bool) -> io::Result<Body> {
    if is_chunked(headers) {
        return read_chunked(r);
    }
    let mut raw = Vec::new();
    if let Some(len) = header(headers, "content-length") {
        read_n(r, len.parse().map_err(|_| bad("malformed Content-Length"))?, &mut raw)?;
    } else if to_eof {
        r.read_to_end(&mut raw)?;
    }
    Ok(Body { raw, decoded: None })
}

/// Hex size lines with optional `;extensions`, data, a 0 chunk, optional trailers, then a blank line.
pub(crate) fn read_chunked(r: &mut impl BufRead) -> io::Result<Body> {
    let (mut raw, mut data) = (Vec::new(), Vec::new());
    loop {
        let line = read_line(r, &mut raw)?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = u64::from_str_radix(size, 16).map_err(|_| bad("malformed chunk size"))?;
        if size == 0 {
            break;
        }
        let start = raw.len();
        read_n(r, size, &mut raw)?;
        data.extend_from_slice(&raw[start..]);
        if !read_line(r, &mut raw)?.is_empty() {
            return Err(bad("chunk data not followed by CRLF"));
        }
    }
    while !read_line(r, &mut raw)?.is_empty() {}
    Ok(Body { raw, decoded: Some(data) })
}

/// Re-emits a head without the headers named in `drop`, with `extra` header lines appended.
pub(crate) fn rebuild(head: &Head, drop: &[&str], extra: &[String]) -> Vec<u8> {
    let mut out = head.start_raw.clone();
    for ((name, _), raw) in head.headers.iter().zip(&head.header_raw) {
        if !drop.iter().any(|d| name.eq_ignore_ascii_case(d)) {
            out.extend_from_slice(raw);
        }
    }
    for line in extra {
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

pub(crate) fn respond(status: u16, headers: &[(&str, &str)], body: &str, is_head: bool) -> Vec<u8> {
    let reasons = [
        (200, "OK"),
        (202, "Accepted"),
        (400, "Bad Request"),
        (404, "Not Found"),
        (500, "Internal Server Error"),
        (502, "Bad Gateway"),
        (503, "Service Unavailable"),
    ];
    let reason = reasons.iter().find(|(s, _)| *s == status).map_or("Error", |(_, r)| *r);
    let mut out = format!("HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    // A HEAD response carries Content-Length but never a body, or the keep-alive stream would desync.
    if !is_head {
        out.push_str(body);
    }
    out.into_bytes()
}
