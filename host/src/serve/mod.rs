//! Watching a run in a browser, and browsing every result: `discover --serve` and
//! `stratbox serve`.
//!
//! - `live`: the run's state as the page shows it, fed by a progress sink.
//! - `http`: the routes (live page, server-sent events, the report, the row browser and its
//!   queries), the token check and the limits.
//! - `rows`: sorting, filtering and paging a results table on the server.
//!
//! Security: it listens on loopback unless told otherwise; any other address needs a token
//! (refused before anything runs without one); every request without the token gets 401; only
//! its own routes exist (everything else is 404, so no path reaches the disk); it is read-only,
//! bounded in concurrent requests and body size, and its pages load nothing from outside.

mod http;
mod live;
mod rows;

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, RwLock};

pub use http::App;
pub use live::{Live, LiveProgress};
pub use rows::{MAX_PAGE, RowQuery, query};

use crate::exit::Exit;
use crate::report::table::ResultsTable;

/// The address `--serve` uses when none is given.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8787";

/// The shortest token accepted: one a person cannot guess in the lifetime of a run.
pub const MIN_TOKEN: usize = 16;

/// Why the server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("--serve {0}: not an address (HOST:PORT, e.g. 127.0.0.1:8787)")]
    Address(String),
    #[error(
        "--serve {0}: listening beyond this machine needs --token TOKEN (at least {MIN_TOKEN} characters); \
         requests without it are refused"
    )]
    NeedsToken(SocketAddr),
    #[error("--token: at least {MIN_TOKEN} characters of letters, digits, '-' or '_'")]
    WeakToken,
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

impl ServeError {
    pub fn exit(&self) -> Exit {
        match self {
            ServeError::Listen { .. } => Exit::Failure,
            _ => Exit::BadInput,
        }
    }
}

/// Where and how to listen, validated: a non-loopback address only with a good token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeConfig {
    pub addr: SocketAddr,
    pub token: Option<String>,
}

impl ServeConfig {
    pub fn new(addr: &str, token: Option<&str>) -> Result<ServeConfig, ServeError> {
        let parsed: SocketAddr = addr.parse().map_err(|_| ServeError::Address(addr.to_string()))?;
        if let Some(t) = token
            && (t.len() < MIN_TOKEN
                || !t
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        {
            return Err(ServeError::WeakToken);
        }
        if !parsed.ip().is_loopback() && token.is_none() {
            return Err(ServeError::NeedsToken(parsed));
        }
        Ok(ServeConfig {
            addr: parsed,
            token: token.map(str::to_string),
        })
    }
}

/// A running server: its URL (with the token, so it can be opened as printed) and its content.
pub struct Server {
    pub url: String,
    pub app: Arc<App>,
}

impl Server {
    /// Binds `cfg.addr` (now, so a taken port is an error before anything runs) and serves on
    /// a thread of its own until the process ends.
    pub fn start(cfg: &ServeConfig, live: Option<Arc<Live>>) -> Result<Server, ServeError> {
        let listen = |source| ServeError::Listen {
            addr: cfg.addr,
            source,
        };
        let listener = TcpListener::bind(cfg.addr).map_err(listen)?;
        let app = Arc::new(App {
            live,
            table: RwLock::new(None),
            report: RwLock::new(None),
            token: cfg.token.clone(),
        });
        let addr = http::spawn(listener, app.clone()).map_err(listen)?;
        let url = match &cfg.token {
            Some(t) => format!("http://{addr}/?token={t}"),
            None => format!("http://{addr}/"),
        };
        Ok(Server { url, app })
    }

    /// From now on, also serve `table`'s rows and `report`.
    pub fn publish(&self, table: ResultsTable, report: Option<String>) {
        if let Ok(mut t) = self.app.table.write() {
            *t = Some(Arc::new(table));
        }
        if let Ok(mut r) = self.app.report.write() {
            *r = report;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_needs_no_token_anything_else_does() {
        assert!(ServeConfig::new("127.0.0.1:0", None).is_ok());
        assert!(ServeConfig::new("[::1]:8787", None).is_ok());
        assert!(matches!(
            ServeConfig::new("0.0.0.0:8787", None),
            Err(ServeError::NeedsToken(_))
        ));
        assert!(matches!(
            ServeConfig::new("10.1.2.3:80", None),
            Err(ServeError::NeedsToken(_))
        ));
        let t = "abcdefghijklmnop";
        assert_eq!(
            ServeConfig::new("0.0.0.0:8787", Some(t))
                .unwrap()
                .token
                .as_deref(),
            Some(t)
        );
        assert!(matches!(
            ServeConfig::new("0.0.0.0:8787", Some("short")),
            Err(ServeError::WeakToken)
        ));
        assert!(matches!(
            ServeConfig::new("127.0.0.1:1", Some("abcdefghijklmnop<")),
            Err(ServeError::WeakToken)
        ));
        assert!(matches!(
            ServeConfig::new("localhost", None),
            Err(ServeError::Address(_))
        ));
    }
}
