//! Root package: see tests/ and benches/.
