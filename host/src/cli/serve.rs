//! `stratbox serve RESULTS.parquet` and `discover --serve`: the browser's view of results and
//! of a run as it goes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use clap::Args;
use stratbox::Exit;
use stratbox::serve::{DEFAULT_ADDR, Live, ServeConfig, Server};

use super::error::Error;
use super::reports::{PageArgs, render_page};

/// Where to listen: shared by `serve` and `discover --serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeFlags {
    /// Token every request must carry (`?token=...` or `Authorization: Bearer ...`); needed for
    /// any address but loopback. At least 16 letters, digits, '-' or '_'.
    #[arg(long)]
    pub token: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// A results file written by `discover`.
    pub results: PathBuf,
    /// Address to listen on (HOST:PORT). Anything but loopback needs --token.
    #[arg(long, default_value = DEFAULT_ADDR)]
    pub addr: String,
    #[command(flatten)]
    pub flags: ServeFlags,
    #[command(flatten)]
    pub page: PageArgs,
}

/// Validates the address and token (before anything runs).
pub fn config(addr: &str, flags: &ServeFlags) -> Result<ServeConfig, Error> {
    Ok(ServeConfig::new(addr, flags.token.as_deref())?)
}

/// Starts the server for a run (`live`) or for results alone, and says where it is.
pub fn start(cfg: &ServeConfig, live: Option<Arc<Live>>) -> Result<Server, Error> {
    let server = Server::start(cfg, live)?;
    errln!("Serving on {}", server.url);
    Ok(server)
}

/// Serves `results`' report and rows from now on.
pub fn publish(server: &Server, results: &Path, page: &PageArgs) -> Result<(), Error> {
    let (table, html, _) = render_page(results, page)?;
    server.publish(table, Some(html));
    Ok(())
}

/// Keeps serving until Ctrl-C.
pub fn wait_for_interrupt(server: &Server) {
    errln!("Serving the report and every row on {} until Ctrl-C", server.url);
    while !super::STOP.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `stratbox serve`.
pub fn serve(args: &ServeArgs) -> Result<Exit, Error> {
    let cfg = config(&args.addr, &args.flags)?;
    // The results must be readable before the server says it is up.
    let (table, html, _) = render_page(&args.results, &args.page)?;
    let server = start(&cfg, None)?;
    server.publish(table, Some(html));
    wait_for_interrupt(&server);
    Ok(Exit::Ok)
}
