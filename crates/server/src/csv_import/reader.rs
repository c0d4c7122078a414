//! The byte stream under the CSV reader: counts what was read (progress) and bounds one row, which the CSV
//! reader would otherwise buffer whole however long it grows.

use std::io::{BufRead, Read};

/// Longest row read, in bytes: a longer one stops the import (a broken quote can swallow the rest of a file).
pub const CSV_ROW_BYTES_MAX: u64 = 1024 * 1024;
/// Slack for what the CSV reader reads ahead of the row it returns (its buffer).
const READ_AHEAD_BYTES: u64 = 64 * 1024;

/// Counts the bytes read, and refuses to read further than [`CSV_ROW_BYTES_MAX`] past the last
/// [`Counting::mark_row`].
pub struct Counting<R> {
    inner: R,
    read: u64,
    row_start: u64,
}

impl<R: Read> Counting<R> {
    pub fn new(inner: R) -> Counting<R> {
        Counting { inner, read: 0, row_start: 0 }
    }

    /// Bytes read so far.
    pub fn consumed(&self) -> u64 {
        self.read
    }

    /// A row starts here.
    pub fn mark_row(&mut self) {
        self.row_start = self.read;
    }
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.read - self.row_start > CSV_ROW_BYTES_MAX + READ_AHEAD_BYTES {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("a row is longer than {CSV_ROW_BYTES_MAX} bytes (an unclosed quote?)"),
            ));
        }
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

/// The delimiter of the header line: `,` unless `;` (spreadsheets in locales with a decimal comma) or a tab
/// is more frequent outside quotes.
pub fn sniff_delimiter(input: &mut impl BufRead) -> std::io::Result<u8> {
    let head = input.fill_buf()?;
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let mut quoted = false;
    let mut counts = [0usize; 3];
    for b in line {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let best = (0..3).max_by_key(|i| (counts[*i], usize::from(*i == 0))).unwrap_or(0);
    Ok([b',', b';', b'\t'][best])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_are_sniffed_from_the_header() {
        let sniff = |s: &str| sniff_delimiter(&mut std::io::BufReader::new(s.as_bytes())).unwrap();
        assert_eq!(sniff("email,first name\na@x.com,Ann"), b',');
        assert_eq!(sniff("email;first name;\"a,b\"\n"), b';');
        assert_eq!(sniff("email\tname\n"), b'\t');
        assert_eq!(sniff("email\n"), b',');
        assert_eq!(sniff(""), b',');
    }

    #[test]
    fn a_row_past_the_limit_stops_reading() {
        let data = vec![b'x'; (CSV_ROW_BYTES_MAX + READ_AHEAD_BYTES + 10_000) as usize];
        let mut r = Counting::new(&data[..]);
        let mut sink = Vec::new();
        assert!(r.read_to_end(&mut sink).is_err());
        let mut r = Counting::new(&data[..]);
        let mut buf = [0u8; 4096];
        while let Ok(n) = r.read(&mut buf) {
            if n == 0 {
                break;
            }
            r.mark_row();
        }
        assert_eq!(r.consumed(), data.len() as u64, "marked rows read on");
    }
}
