//! Writing HTTP heads into caller-supplied buffers, all or nothing.

use super::HandshakeError;

/// Appends bytes to a buffer, counting what does not fit.
///
/// Used twice per message: once over an empty buffer to measure, then, if
/// the real buffer is large enough, to write. So a too-small buffer is
/// never written to.
pub(crate) struct Writer<'o> {
    out: &'o mut [u8],
    len: usize,
}

impl Writer<'_> {
    pub(crate) fn put(&mut self, bytes: &[u8]) {
        let end = self.len.saturating_add(bytes.len());
        if let Some(dst) = self.out.get_mut(self.len..end) {
            dst.copy_from_slice(bytes);
        }
        self.len = end;
    }

    pub(crate) fn put_str(&mut self, text: &str) {
        self.put(text.as_bytes());
    }

    /// Writes `name: value\r\n`.
    pub(crate) fn header(&mut self, name: &str, value: &[u8]) {
        self.put_str(name);
        self.put(b": ");
        self.put(value);
        self.put(b"\r\n");
    }

    /// Writes `n` in decimal.
    pub(crate) fn decimal(&mut self, mut n: usize) {
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        loop {
            start -= 1;
            if let Some(digit) = digits.get_mut(start) {
                // `n % 10` is a single digit.
                *digit = b'0' + (n % 10) as u8;
            }
            n /= 10;
            if n == 0 || start == 0 {
                break;
            }
        }
        self.put(digits.get(start..).unwrap_or_default());
    }
}

/// Runs `emit` to measure, then into `out` if it fits.
///
/// Returns the bytes written, or [`HandshakeError::BufferTooSmall`] with
/// `out` untouched.
pub(crate) fn write_with(
    out: &mut [u8],
    emit: impl Fn(&mut Writer<'_>),
) -> Result<usize, HandshakeError> {
    let needed = measure(&emit);
    if needed > out.len() {
        return Err(HandshakeError::BufferTooSmall { needed });
    }
    let mut writer = Writer { out, len: 0 };
    emit(&mut writer);
    Ok(writer.len)
}

/// The length `emit` writes.
pub(crate) fn measure(emit: impl Fn(&mut Writer<'_>)) -> usize {
    let mut counter = Writer {
        out: &mut [],
        len: 0,
    };
    emit(&mut counter);
    counter.len
}

/// Runs `emit` into a new vector of exactly the right size.
#[cfg(feature = "alloc")]
pub(crate) fn write_vec(emit: impl Fn(&mut Writer<'_>)) -> alloc::vec::Vec<u8> {
    let mut out = alloc::vec![0; measure(&emit)];
    let mut writer = Writer {
        out: &mut out,
        len: 0,
    };
    emit(&mut writer);
    debug_assert_eq!(writer.len, writer.out.len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_all_or_nothing() {
        let emit = |w: &mut Writer<'_>| {
            w.header("Content-Length", b"");
            w.decimal(1234);
        };
        let mut small = [b'?'; 19];
        assert_eq!(
            write_with(&mut small, emit),
            Err(HandshakeError::BufferTooSmall { needed: 22 })
        );
        assert_eq!(small, [b'?'; 19]);
        let mut out = [b'?'; 30];
        assert_eq!(write_with(&mut out, emit), Ok(22));
        assert_eq!(&out[..22], b"Content-Length: \r\n1234");
        assert_eq!(out[22], b'?');
    }

    #[test]
    fn decimal_edges() {
        use std::string::ToString;
        for n in [0, 7, 10, 99, 100, usize::MAX] {
            let mut out = [0u8; 20];
            let len = write_with(&mut out, |w| w.decimal(n)).unwrap();
            assert_eq!(&out[..len], n.to_string().as_bytes());
        }
    }
}
