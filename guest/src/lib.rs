//! The default stratbox backtester as a WebAssembly component: the MVT family of SPEC section 3
//! behind the `stratbox:backtest/strategy` interface. All logic is in `stratbox-engine`; this
//! file only binds it to the WIT world.

wit_bindgen::generate!({
    world: "backtester",
    path: "../wit",
});

use exports::stratbox::backtest::strategy::{Guest, Info};
use stratbox_engine::{Mvt, Strategy};

struct Component;

impl Guest for Component {
    fn describe() -> Info {
        Info {
            name: Mvt::NAME.to_string(),
            version: Mvt::VERSION.to_string(),
            params: Mvt::PARAMS.iter().map(|p| p.to_string()).collect(),
        }
    }

    fn run_batch(input: Vec<u8>) -> Result<Vec<u8>, String> {
        stratbox_engine::run_batch_bytes::<Mvt>(&input)
    }
}

export!(Component);
