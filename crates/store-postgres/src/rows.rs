//! Mapping result rows to the stored types, and the SELECT lists they expect.
