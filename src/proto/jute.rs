//! Jute, ZooKeeper's serialization: big-endian ints and longs, length-prefixed
//! buffers and strings (-1 = null), counted vectors. Decoding is zero-copy with
//! nom (slices borrow the receive buffer); encoding appends to a caller's Vec.

use nom::bytes::complete::take;
use nom::number::complete::{be_i32, be_i64, be_u8};
use nom::IResult;
use std::borrow::Cow;

/// Result of a jute decoder over a byte slice.
pub type JResult<'a, T> = IResult<&'a [u8], T>;

/// Upper bound on any length field we accept (jute.maxbuffer + extrasize in Java).
pub const MAX_FIELD_LEN: usize = 2 * 0xfffff;

fn fail(i: &[u8]) -> nom::Err<nom::error::Error<&[u8]>> {
    nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::Verify))
}

pub fn int(i: &[u8]) -> JResult<'_, i32> {
    be_i32(i)
}

pub fn long(i: &[u8]) -> JResult<'_, i64> {
    be_i64(i)
}

/// Java's readBoolean: any non-zero byte is true.
pub fn boolean(i: &[u8]) -> JResult<'_, bool> {
    let (i, b) = be_u8(i)?;
    Ok((i, b != 0))
}

/// A buffer: `None` for length -1 (null), else the borrowed bytes.
pub fn buffer(i: &[u8]) -> JResult<'_, Option<&[u8]>> {
    let (rest, len) = be_i32(i)?;
    if len == -1 {
        return Ok((rest, None));
    }
    if len < 0 || len as usize > MAX_FIELD_LEN {
        return Err(fail(i));
    }
    let (rest, b) = take(len as usize)(rest)?;
    Ok((rest, Some(b)))
}

/// A ustring; null decodes as the empty string (servers never need the
/// difference) and malformed UTF-8 becomes U+FFFD like Java's decoder.
pub fn ustring(i: &[u8]) -> JResult<'_, Cow<'_, str>> {
    let (rest, b) = buffer(i)?;
    Ok((rest, utf8(b.unwrap_or(&[]))))
}

pub fn utf8(b: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// A vector of `f`; a null vector (-1) decodes as empty.
pub fn vector<'a, T>(
    mut f: impl FnMut(&'a [u8]) -> JResult<'a, T>,
) -> impl FnMut(&'a [u8]) -> JResult<'a, Vec<T>> {
    move |i: &'a [u8]| {
        let (mut rest, n) = be_i32(i)?;
        if n == -1 {
            return Ok((rest, Vec::new()));
        }
        // Every element takes at least 4 bytes on the wire: bound the
        // allocation by what the input can hold.
        if n < 0 || n as usize > rest.len() / 4 + 1 {
            return Err(fail(i));
        }
        let mut v = Vec::with_capacity((n as usize).min(crate::types::MAX_PREALLOC));
        for _ in 0..n {
            let (r, x) = f(rest)?;
            rest = r;
            v.push(x);
        }
        Ok((rest, v))
    }
}

// ---------------------------------------------------------------- encoding

pub fn put_int(out: &mut Vec<u8>, v: i32) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub fn put_long(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub fn put_bool(out: &mut Vec<u8>, v: bool) {
    out.push(v as u8);
}

pub fn put_buffer(out: &mut Vec<u8>, v: Option<&[u8]>) {
    match v {
        None => put_int(out, -1),
        Some(b) => {
            put_int(out, b.len() as i32);
            out.extend_from_slice(b);
        }
    }
}

pub fn put_str(out: &mut Vec<u8>, s: &str) {
    put_buffer(out, Some(s.as_bytes()));
}

/// Starts a length-prefixed frame; returns the position to pass to [`end_frame`].
pub fn begin_frame(out: &mut Vec<u8>) -> usize {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    at
}

/// Patches the length prefix written by [`begin_frame`].
pub fn end_frame(out: &mut [u8], at: usize) {
    let len = (out.len() - at - 4) as u32;
    out[at..at + 4].copy_from_slice(&len.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_null_empty_and_data() {
        let mut v = Vec::new();
        put_buffer(&mut v, None);
        put_buffer(&mut v, Some(b""));
        put_buffer(&mut v, Some(b"ab"));
        let (i, a) = buffer(&v).unwrap();
        let (i, b) = buffer(i).unwrap();
        let (i, c) = buffer(i).unwrap();
        assert_eq!((a, b, c), (None, Some(&b""[..]), Some(&b"ab"[..])));
        assert!(i.is_empty());
    }

    #[test]
    fn bad_lengths_fail() {
        assert!(buffer(&(-2i32).to_be_bytes()).is_err());
        assert!(buffer(&5i32.to_be_bytes()).is_err());
        let mut v = Vec::new();
        put_int(&mut v, 1_000_000);
        assert!(vector(int)(&v).is_err());
    }
}
