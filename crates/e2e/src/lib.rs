//! End-to-end tests of slapos-rs live in `tests/it/`: real `slapos`
//! processes, real Python peers, and the tidy checks that keep the
//! repository's conventions. This library is empty on purpose.
