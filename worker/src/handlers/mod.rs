//! The route handlers, one file per area, as methods of [`crate::app::App`]; `app` plans a
//! request and dispatches it to them.

mod admin;
mod check;
mod filter;
mod receipts;
mod stats;
