#![cfg_attr(not(feature = "std"), no_std)]
//! Placeholder: being written (issue #11).
