//! Integration tests of the node crate.

mod format;
mod promise;
mod report;
mod supervisor;
