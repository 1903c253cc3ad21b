//! dtindex measures how well a country's ministries and provinces publish and share their
//! data, and ranks them for it.
//!
//! The flow of one cycle, each stage handing the next plain values:
//!
//! ```text
//! registry ─► harvest (catalogs) + probe (sharing services) ─► observation
//!          ─► score (pure) ─► store (diesel) ─► http (API, metrics)
//! ```
//!
//! [`cycle`] runs that flow once; [`schedule`] runs it on a cron, one at a time; [`daemon`]
//! wires the long-running process together; [`simulate`] serves a federation of agencies
//! on loopback for the demo, the tests and the benchmarks.

pub mod admin;
pub mod catalog;
pub mod config;
pub mod cycle;
pub mod daemon;
pub mod declaration;
pub mod fetch;
pub mod fuzzing;
pub mod harvest;
pub mod http;
pub mod inspect;
pub mod links;
pub mod memo;
pub mod metrics;
pub mod observation;
pub mod pages;
pub mod probe;
pub mod registry;
pub mod report;
pub mod schedule;
pub mod score;
pub mod sheet;
pub mod simulate;
pub mod store;
