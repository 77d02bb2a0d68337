//! The page's views. Built with web-sys (no framework); each view owns its
//! elements and updates them in place.

pub mod badge;
pub mod copy_link;
pub mod details;
pub mod dom;
pub mod format;
pub mod objects;
pub mod request_page;
pub mod requests;
pub mod share_page;
pub mod sharing;
pub mod shell;
pub mod signin;
pub mod uploader;
