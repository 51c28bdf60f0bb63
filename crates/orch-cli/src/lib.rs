//! orch's binaries live in `src/bin/`; each is a few lines calling the
//! `orch` library. This crate has no code of its own.
