//! End-to-end and repository-wide checks.

mod tidy;
