//! The one integration test binary of `proto`: checks against data recorded
//! from the real Python libraries (`test_data/generate.py`).

mod golden;
