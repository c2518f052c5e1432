//! `stratbox inspect FILE.wasm`: what a component is and whether stratbox would run it.

use std::path::PathBuf;

use clap::Args;
use stratbox::Exit;
use stratbox::sandbox::{Limits, Sandbox};
use stratbox::util::digest::sha256_hex;

use super::error::{Error, usage};

#[derive(Debug, Clone, Args)]
pub struct InspectArgs {
    /// A component (.wasm) of the stratbox:backtest world.
    pub component: PathBuf,
    /// Largest component accepted, MiB.
    #[arg(long, default_value_t = 64)]
    pub max_component_mib: usize,
}

pub fn inspect(args: &InspectArgs) -> Result<Exit, Error> {
    let bytes = std::fs::read(&args.component)
        .map_err(|e| usage(format!("cannot read {}: {e}", args.component.display())))?;
    let limits = Limits {
        component_bytes: args.max_component_mib << 20,
        ..Default::default()
    };
    let origin = args.component.display().to_string();
    let sandbox = Sandbox::new(&bytes, &origin, limits)?;
    let info = sandbox.info();
    outln!("{origin}: {} bytes, sha256 {}", bytes.len(), sha256_hex(&bytes));
    outln!("name:    {}", info.name);
    outln!("version: {}", info.version);
    outln!("params:  {}", info.params.join(", "));
    outln!(
        "imports ({}, all granted as nothing: no files, env, network; fixed clock and random):",
        sandbox.surface().imports.len()
    );
    for i in &sandbox.surface().imports {
        outln!("  {i}");
    }
    outln!("exports:");
    for e in &sandbox.surface().exports {
        outln!("  {e}");
    }
    outln!("ok: stratbox would run it");
    Ok(Exit::Ok)
}
