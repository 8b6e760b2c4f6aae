//! End-to-end and repository-wide checks.
#![allow(unreachable_pub)]

mod process;
mod tidy;
mod two_masters;
