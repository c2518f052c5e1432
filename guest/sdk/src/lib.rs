//! Write a stratbox strategy in a few lines.
//!
//! ```ignore
//! use stratbox_guest_sdk::{ColumnsRef, Exits, Side, Strategy, export_strategy};
//!
//! struct MyFamily { /* parameters */ }
//! impl Strategy for MyFamily { /* NAME, VERSION, PARAMS, from_params, build_index, entries */ }
//! export_strategy!(MyFamily);
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip2` (a `cdylib` crate) and run with
//! `stratbox discover --strategy target/wasm32-wasip2/release/my_family.wasm --grid my.toml`.
//! The strategy decides only *entries*; everything else (fills at SPEC's prices, stop/target/time
//! exits, spread, commission, ruin, every metric) is the shared engine's, so results compare
//! with every other family's.

wit_bindgen::generate!({
    world: "backtester",
    path: "../../wit",
    pub_export_macro: true,
    export_macro_name: "export_backtester",
    default_bindings_module: "stratbox_guest_sdk",
});

pub use stratbox_engine as engine;
pub use stratbox_engine::sim::{Exits, Side};
pub use stratbox_engine::strategy::{pips_to_points, whole_bars};
pub use stratbox_engine::{ColumnsRef, Strategy};

/// The host's `stratbox:backtest/series` import, as the engine's [`engine::Stream`].
pub struct HostStream;

impl engine::Stream for HostStream {
    fn read_bars(&mut self, start: u64, count: u64) -> Result<Vec<u8>, String> {
        stratbox::backtest::series::read_bars(start, count)
    }

    fn write_days(&mut self, days: &[u8]) -> Result<(), String> {
        stratbox::backtest::series::write_days(days)
    }
}

/// Exports `$strategy` (a type implementing [`Strategy`]) as the component's
/// `stratbox:backtest/strategy` interface.
#[macro_export]
macro_rules! export_strategy {
    ($strategy:ty) => {
        struct StratboxComponent;

        impl $crate::exports::stratbox::backtest::strategy::Guest for StratboxComponent {
            fn describe() -> $crate::exports::stratbox::backtest::strategy::Info {
                $crate::exports::stratbox::backtest::strategy::Info {
                    name: <$strategy as $crate::Strategy>::NAME.to_string(),
                    version: <$strategy as $crate::Strategy>::VERSION.to_string(),
                    params: <$strategy as $crate::Strategy>::PARAMS.iter().map(|p| p.to_string()).collect(),
                }
            }

            fn run_batch(input: Vec<u8>) -> Result<Vec<u8>, String> {
                let mut input = input;
                $crate::engine::run_batch_bytes_streamed::<$strategy>(&mut input, &mut $crate::HostStream)
            }
        }

        $crate::export_backtester!(StratboxComponent with_types_in $crate);

        /// Declares that this component reads resident columns (protocol 3): the host may put
        /// the columns into its memory image instead of copying them into every instance. What
        /// makes that safe is the allocator: Rust's on wasm32-wasip2 never writes above the
        /// memory the module was linked with unless it grew it there first.
        #[unsafe(link_section = "stratbox:resident-columns")]
        #[used]
        static STRATBOX_RESIDENT_COLUMNS: [u8; 1] = [3];

        /// Declares that this component answers protocols 4 and 5: rows with their daily P&L,
        /// which the engine books as trades close.
        #[unsafe(link_section = "stratbox:daily-pnl")]
        #[used]
        static STRATBOX_DAILY_PNL: [u8; 1] = [4];

        /// Declares that this component answers protocol 6: only the strategies come with the
        /// batch, and the guest reads the bars a stretch at a time through the host's
        /// `stratbox:backtest/series` import, so its memory does not grow with the series.
        #[unsafe(link_section = "stratbox:streamed-columns")]
        #[used]
        static STRATBOX_STREAMED_COLUMNS: [u8; 1] = [6];
    };
}
