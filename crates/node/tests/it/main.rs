//! Integration tests of the node crate.

mod format;
mod instance;
mod promise;
mod report;
mod software;
mod supervisor;
