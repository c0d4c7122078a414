//! The backend test suite.
